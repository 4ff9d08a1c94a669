#!/usr/bin/env python3
"""Benchmark: inbound replies over SMTP, mailbridge against its anchors, in one run.

The same load generator drives every side: SESSIONS SMTP sessions, each reusing its
connection (MAIL, RCPT, DATA, then the next), sending replies of about 4 KB, for
SECONDS seconds each; the figure is the messages answered 250 per second.

- ``sink``: a bare aiosmtpd server that discards what it gets, in a process of its
  own: the floor of any Python SMTP service.
- ``postfix``: Debian's Postfix on a loopback port, accepting into its queue (written
  and fsync'd before its 250) and then discarding: "durable accept" as an MTA does it.
  Needs root and the postfix package; otherwise the row says so.
- ``mailbridge``: ``mailbridge serve`` on its defaults (SQLite, synchronous = FULL,
  the outgoing Maildir), the sample thread imported, each reply to a real reply
  address from the person it was sent to. 250 means the comment is committed.
- ``mailbridge, N comments``: the same, on a data directory that already holds
  ``--comments`` more comments (the sample thread repeated as posts of their own, as
  bench/import_bench.py makes them): a cost that grows with the data shows here.

    .venv/bin/python bench/inbound_bench.py [--seconds 8] [--sessions 8 32] [--comments 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "thread.json"
# About 4 KB in lines of 72 characters, as mail clients wrap them; each reply's words
# differ (the spam score looks for text repeated across comments).
WORDS = "I have been thinking about what you wrote".split()


def wrapped_body(n: int | str) -> str:
    sentences = (
        " ".join(WORDS[k % len(WORDS) :] + WORDS[: k % len(WORDS)]) + f" ({n}.{k})."
        for k in range(90)
    )
    return "\r\n".join(textwrap.wrap(" ".join(sentences), 72))


_LAYOUTS: dict[int, str] = {}


def body(n: int) -> str:
    """``wrapped_body(n)``, the same text, without wrapping 4 KB for every message: the
    load generator shares the machine's two cores with the server it measures, and
    textwrap took about 1 ms of them per message. Lines break by width alone, so every
    n of one width has the layout of a placeholder of that width (NULs, which the text
    does not hold otherwise), wrapped once."""
    digits = str(n)
    layout = _LAYOUTS.get(len(digits))
    if layout is None:
        layout = _LAYOUTS[len(digits)] = wrapped_body("\0" * len(digits))
    return layout.replace("\0" * len(digits), digits)


def free_port() -> int:
    """The test suite's: a port outside the kernel's ephemeral range, which the load's
    and the daemons' own outgoing connections (to PostgreSQL, say) take ports from
    (one took a daemon's port before it could bind it in a pg_inbound_bench run)."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    from support import free_port as pick

    return int(pick())


def message(n: int, sender: str, rcpt: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {rcpt}\r\nSubject: Re: the post\r\n"
        f"Message-ID: <bench-{n}-{time.monotonic_ns()}@client.example>\r\n"
        "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body(n)}\r\n\r\n"
        "On Thu, 3 Dec 2026, The Blog wrote:\r\n> the notification\r\n"
    ).encode()


@dataclass
class Sent:
    """What one load run got back: answers 250, other answers, over its wall time."""

    accepted: int
    refused: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


async def send(
    ports: Sequence[int], pairs: list[tuple[str, str]], sessions: int, seconds: float
) -> Sent:
    """The load: ``sessions`` sessions for ``seconds``, session k on ``ports[k % len]``
    (several daemons sharing a database: each session picks one, round-robin)."""
    done = refused = 0
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def session(port: int) -> None:
        nonlocal done, refused
        async with aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=False, timeout=60
        ) as client:
            while time.monotonic() < deadline:
                n = next(counter)
                sender, rcpt = pairs[n % len(pairs)]
                try:
                    await client.mail(sender)
                    await client.rcpt(rcpt)
                    await client.data(message(n, sender, rcpt))
                except aiosmtplib.SMTPResponseException:
                    # A 4xx or 5xx (a 451 when the database cannot take the write):
                    # counted, not fatal; the session goes on with the next message.
                    refused += 1
                    await client.rset()
                    continue
                done += 1  # aiosmtplib raises on anything but 250 after DATA

    began = time.monotonic()
    await asyncio.gather(*(session(ports[k % len(ports)]) for k in range(sessions)))
    return Sent(done, refused, time.monotonic() - began)


async def load(port: int, pairs: list[tuple[str, str]], sessions: int, seconds: float) -> float:
    """Messages answered 250 per second over ``seconds``."""
    return (await send([port], pairs, sessions, seconds)).rate


async def wait_port(port: int, seconds: float = 60) -> None:
    for _ in range(int(seconds * 10)):
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        w.close()
        return
    raise RuntimeError(f"nothing listens on {port}")


SINK = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 discarded"
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Discard()), "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""


def postfix_config(root: Path, port: int) -> None:
    (root / "etc").mkdir()
    (root / "spool").mkdir()
    (root / "data").mkdir()
    shutil.chown(root / "data", "postfix")
    (root / "etc" / "main.cf").write_text(
        f"""compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mx.bench.invalid
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = reply.example.org
transport_maps = inline:{{ reply.example.org=discard: }}
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
biff = no
"""
    )
    master = f"""127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
    (root / "etc" / "master.cf").write_text(master)


PAIRS_SQL = (
    "SELECT a.id, a.email, c.id FROM comments c JOIN comments p ON p.id = c.parent_id "
    "JOIN addresses a ON a.id = p.address_id ORDER BY c.id"
)


async def mailbridge_pairs(config: Path, extra_wxr: Path | None) -> list[tuple[str, str]]:
    """Import the sample thread (and ``extra_wxr``); reply addresses into the sample thread.

    Through the store as configured, so the same code serves SQLite and PostgreSQL."""
    sys.path.insert(0, str(ROOT))
    from mailbridge.app import load_or_create_secret, open_store
    from mailbridge.clock import SystemClock
    from mailbridge.importer import import_file
    from mailbridge.settings import load_settings
    from mailbridge.tokens import Keyring, make_reply_token

    settings = load_settings(config, environ={})
    store = await open_store(settings)
    try:
        await import_file(store, SEED, SystemClock())
        rows = await store.read(lambda conn: _fetchall(conn, PAIRS_SQL))
        if extra_wxr is not None:
            await import_file(store, extra_wxr, SystemClock())
    finally:
        await store.close()
    keyring = Keyring.from_secret(load_or_create_secret(settings.secret_path))
    expires = date.today() + timedelta(days=30)
    domain = settings.smtp.reply_domain
    return [
        (str(e), f"reply+{make_reply_token(keyring.reply, int(a), int(c), expires)}@{domain}")
        for a, e, c in rows
    ]


async def _fetchall(conn: Any, sql: str) -> list[Any]:
    cur = await conn.execute(sql)
    return list(await cur.fetchall())


async def comments_count(config: Path) -> int:
    """Comments stored, on the database ``config`` names (either engine)."""
    sys.path.insert(0, str(ROOT))
    from mailbridge.app import open_store
    from mailbridge.settings import load_settings

    store = await open_store(load_settings(config, environ={}))
    try:
        rows = await store.read(lambda conn: _fetchall(conn, "SELECT count(*) FROM comments"))
    finally:
        await store.close()
    return int(rows[0][0])


def process_tree(pid: int) -> list[Path]:
    """/proc entries of process ``pid`` and its descendants still running (its worker
    processes are its fork server's children)."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent[int(entry.name)] = int(
                    (entry / "stat").read_text().rpartition(")")[2].split()[1]
                )
            except OSError:
                continue

    def within(p: int) -> bool:
        while p > 1:
            if p == pid:
                return True
            p = parent.get(p, 0)
        return False

    return [Path(f"/proc/{p}") for p in parent if within(p)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` and its descendants, from Linux's /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in process_tree(pid):
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def measure(
    port: int,
    pairs: list[tuple[str, str]],
    sessions_list: list[int],
    seconds: float,
    pid: int | None = None,
) -> dict[int, tuple[float, float]]:
    """Per session count: (messages per second, cores the process ``pid`` kept busy)."""
    await wait_port(port)
    out = {}
    for n in sessions_list:
        cpu, began = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
        rate = await load(port, pairs, n, seconds)
        busy = (cpu_seconds(pid) - cpu) / (time.monotonic() - began) if pid else 0.0
        out[n] = (rate, busy)
    return out


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[int]:
    """A side under measurement in a process of its own; stopped afterwards. Its
    output goes to ``log`` if given (to see why a daemon did not start), else nowhere."""
    with open(log or os.devnull, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc.pid
        finally:
            proc.terminate()
            proc.wait(30)


def mailbridge_config(path: Path, data: Path, smtp: int, http: int, top: str = "") -> Path:
    """The benchmark's `mailbridge serve` configuration: the defaults, but no DNS and
    no per-sender or per-thread rate limits (the load is a few senders replying fast).
    ``top``: more top-level settings (``data_url``, ``secret_file``)."""
    path.write_text(
        f'data_dir = "{data}"\n{top}[smtp]\nlisten = "127.0.0.1:{smtp}"\n'
        f'[http]\nlisten = "127.0.0.1:{http}"\n[auth]\ndns = "off"\n'
        'when_dns_unavailable = "accept"\n[limits]\nmessages_per_sender_per_hour = 1000000\n'
        "comments_per_thread_per_hour = 1000000\n"
    )
    return path


def serve_args(config: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("mailbridge")), "serve", "--config", str(config)]


def serve_env() -> dict[str, str]:
    """This environment without MAILBRIDGE_* settings: the configuration file alone counts."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}


def run_mailbridge(
    work: Path, extra_wxr: Path | None, sessions_list: list[int], seconds: float
) -> dict[int, tuple[float, float]]:
    work.mkdir()
    smtp = free_port()
    config = mailbridge_config(work / "mailbridge.toml", work / "data", smtp, free_port())
    pairs = asyncio.run(mailbridge_pairs(config, extra_wxr))
    with process(serve_args(config), env=serve_env()) as pid:
        return asyncio.run(measure(smtp, pairs, sessions_list, seconds, pid))


def main(seconds: float, sessions_list: list[int], extra: int) -> None:
    # The quick bodies are the wrapped ones (a check of the layouts, not of speed).
    for n in (0, 7, 10, 99, 100, 4321, 98765, 123456):
        assert body(n) == wrapped_body(n), n
    results: dict[tuple[str, int], float] = {}
    extra_wxr: Path | None = None
    with tempfile.TemporaryDirectory(prefix="mailbridge-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        anchor_pairs = [("reader@example.org", "reply+bench@reply.example.org")]

        # The sink.
        port = free_port()
        with process([sys.executable, "-c", SINK, str(port)]):
            rates = asyncio.run(measure(port, anchor_pairs, sessions_list, seconds))
            results.update({("sink", n): r for n, (r, _) in rates.items()})

        # Postfix.
        postfix_note = ""
        if shutil.which("postfix") is None or os.geteuid() != 0:
            postfix_note = "needs root and Debian's postfix (apt-get install postfix)"
        else:
            root, port = work / "postfix", free_port()
            root.mkdir()
            postfix_config(root, port)
            started = subprocess.run(
                ["postfix", "-c", str(root / "etc"), "start"], capture_output=True, check=False
            )
            try:
                if started.returncode != 0:
                    postfix_note = f"did not start: {started.stderr.decode()[-300:]}"
                else:
                    rates = asyncio.run(measure(port, anchor_pairs, sessions_list, seconds))
                    results.update({("postfix", n): r for n, (r, _) in rates.items()})
            finally:
                subprocess.run(["postfix", "-c", str(root / "etc"), "abort"],
                               capture_output=True, check=False)  # fmt: skip

        # mailbridge, as `mailbridge serve` on its defaults: on the sample thread
        # alone, then on a data directory already holding `extra` more comments.
        if extra:
            sys.path.insert(0, str(ROOT / "bench"))
            from import_bench import make_wxr

            extra_wxr = work / "extra.xml"
            make_wxr(extra_wxr, extra)
        for side, wxr in (("mailbridge", None), ("mailbridge+", extra_wxr)):
            if side == "mailbridge+" and wxr is None:
                continue
            rates = run_mailbridge(work / side, wxr, sessions_list, seconds)
            results.update({(side, n): r for n, (r, _) in rates.items()})
            results.update({(side + "cpu", n): c for n, (_, c) in rates.items()})

    print(f"Inbound replies of about 4 KB, {seconds:g} s per row, one connection per session\n")
    print("| sessions | sink (msg/s) | Postfix (msg/s) | mailbridge (msg/s) | cores busy | "
          "mailbridge/sink | mailbridge/Postfix |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for sessions in sessions_list:
        sink_rate = results[("sink", sessions)]
        pf = results.get(("postfix", sessions))
        pf_text = f"{pf:,.0f}" if pf else "-"
        for side in ("mailbridge", "mailbridge+"):
            if (side, sessions) not in results:
                continue
            mb = results[(side, sessions)]
            ratio = f"{mb / pf:.3f}x" if pf else "-"
            label = "" if side == "mailbridge" else f" ({extra:,} more comments)"
            print(f"| {sessions} | {sink_rate:,.0f} | {pf_text} | {mb:,.0f}{label} | "
                  f"{results[(side + 'cpu', sessions)]:.2f} | "
                  f"{mb / sink_rate:.3f}x | {ratio} |")  # fmt: skip
    if extra:
        print(f"\nWith {extra:,} more comments, against the sample thread alone:", end="")
        for sessions in sessions_list:
            full, empty = results[("mailbridge+", sessions)], results[("mailbridge", sessions)]
            print(f" {full / empty:.2f}x ({sessions} sessions)", end="")
        print()
    if postfix_note:
        print(f"\nPostfix: {postfix_note}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sessions", type=int, nargs="+", default=[8, 32])
    parser.add_argument(
        "--comments", type=int, default=100_000, help="comments already stored (0: skip that row)"
    )
    args = parser.parse_args()
    main(args.seconds, args.sessions, args.comments)
