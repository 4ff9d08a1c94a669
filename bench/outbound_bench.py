#!/usr/bin/env python3
"""Benchmark: draining an outbox backlog to an SMTP relay, against a bare sender, in one run.

- ``sink``: a bare aiosmtpd server that discards what it gets, in a process of its
  own (the relay every side below sends to).
- ``baseline``: a bare aiosmtplib sender pushing the backlog's messages (prebuilt,
  about 4 KB each) over as many connections as mailbridge's default
  ``outbound.concurrency``, each connection reused (MAIL, RCPT, DATA, the next).
- ``mailbridge``: a real data directory (SQLite, synchronous = FULL) whose outbox holds
  the same messages as a backlog, relayed to the sink by settings
  (``outbound.transport = "smtp://..."``), on the default concurrency; the worker is
  the one ``mailbridge serve`` builds (``app.core``), driven in this process by
  ``deliver_due()`` until the outbox is empty. Unsigned, with each DKIM key set. The
  figure is messages marked sent per second.
- ``lease``: the cost of one lease step (what the worker runs before each batch of
  sends) with 1,000 / 10,000 / 50,000 rows queued: the median of many calls.

Every drain is bounded by ``--timeout`` seconds (the rate is then over what was sent).

    .venv/bin/python bench/outbound_bench.py                 # 10,000 messages
    .venv/bin/python bench/outbound_bench.py --messages 1000 --lease-backlogs 1000 5000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiosmtplib
import aiosqlite
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailbridge.app import core, relay_config  # noqa: E402
from mailbridge.outbound.dkim import DkimSigner  # noqa: E402
from mailbridge.outbound.dkim_keys import DkimKey, load_key  # noqa: E402
from mailbridge.outbound.transport import transport_from_url  # noqa: E402
from mailbridge.outbound.worker import DeliveryWorker  # noqa: E402
from mailbridge.settings import Settings, load_settings  # noqa: E402
from mailbridge.store import Store, leasing, outbox  # noqa: E402
from mailbridge.workers import CpuPool, offload  # noqa: E402
from mailbridge.workers import tasks as worker_tasks  # noqa: E402

SENDER = "bounces+bench@blog.example.org"
BODY = "\r\n".join(
    textwrap.wrap("Someone replied to your comment on the post you follow. " * 62, 72)
)
# Recipient domains of a blog's readers: a few big mailbox providers, a long tail.
BIG = [("gmail.com", 0.30), ("outlook.com", 0.12), ("yahoo.com", 0.08), ("gmx.de", 0.05)]
SMALL_DOMAINS = 800

from inbound_bench import SINK, wait_port  # noqa: E402 - the inbound bench's sink and wait


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recipients(n: int, seed: int = 14) -> list[str]:
    rng = random.Random(seed)
    small = [f"mail{i}.example.net" for i in range(SMALL_DOMAINS)]
    # The long tail is skewed too: a few small domains have many readers.
    weights = [1 / (i + 1) ** 0.8 for i in range(SMALL_DOMAINS)]
    tail = 1 - sum(share for _, share in BIG)
    big = [domain for domain, _ in BIG]
    shares = [share for _, share in BIG]
    out = []
    for i in range(n):
        if rng.random() < 1 - tail:
            domain = rng.choices(big, shares)[0]
        else:
            domain = rng.choices(small, weights)[0]
        out.append(f"reader{i}@{domain}")
    return out


def message(n: int, rcpt: str) -> bytes:
    """A reply notification as mailbridge composes one: about 4 KB, CRLF."""
    return (
        f"From: Example Blog <comments@blog.example.org>\r\nTo: {rcpt}\r\n"
        f'Subject: New reply to your comment on "The post" ({n})\r\n'
        "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
        f"Message-ID: <bench-{n}@blog.example.org>\r\n"
        "Reply-To: reply+abcdefghijklmnop@reply.blog.example.org\r\n"
        "List-Id: <the-post.blog.example.org>\r\n"
        "List-Unsubscribe: <https://blog.example.org/u/abcdefghijklmnopqrstuvwxyz>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        f"\r\n{BODY}\r\n"
    ).encode()


def backlog(n: int) -> list[tuple[str, bytes]]:
    return [(rcpt, message(i, rcpt)) for i, rcpt in enumerate(recipients(n))]


async def fill(conn: aiosqlite.Connection, items: list[tuple[str, bytes]]) -> None:
    """Queue ``items`` due now, in one transaction (as many enqueue() calls would)."""
    now = time.time()
    await conn.execute("BEGIN IMMEDIATE")
    await conn.executemany(
        "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, "
        "status, next_attempt_at, created_at) VALUES ('reply_notification', NULL, ?, ?, ?, "
        "'queued', ?, '2026-12-04T10:00:00+00:00')",
        [(f"<bench-{i}@blog.example.org>", SENDER, r, now) for i, (r, _) in enumerate(items)],
    )
    # Each message's bytes beside its row (migration 0026), found by its Message-ID.
    await conn.executemany(
        "INSERT INTO outbox_messages (outbox_id, message) "
        "SELECT id, ? FROM outbox WHERE message_id = ?",
        [(m, f"<bench-{i}@blog.example.org>") for i, (_, m) in enumerate(items)],
    )
    await conn.execute("COMMIT")


@contextmanager
def process(args: list[str]) -> Iterator[None]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(30)


# The baseline.


async def bare_sender(port: int, items: list[tuple[str, bytes]], connections: int) -> float:
    """Messages accepted per second by a bare aiosmtplib sender."""
    todo = iter(items)

    async def connection() -> int:
        sent = 0
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
            for rcpt, data in todo:  # shared iterator: each message goes once
                await smtp.sendmail(SENDER, [rcpt], data)
                sent += 1
        return sent

    began = time.monotonic()
    counts = await asyncio.gather(*(connection() for _ in range(connections)))
    return sum(counts) / (time.monotonic() - began)


# mailbridge.


def write_keys(folder: Path) -> None:
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    for name, data in (("rsa.pem", pem), ("ed25519.key", base64.b64encode(seed))):
        path = folder / name
        path.write_bytes(data)
        path.chmod(0o600)


def config_text(data: Path, sink_port: int, keys: Path, signing: str) -> str:
    text = (
        f'data_dir = "{data}"\n[smtp]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[http]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[outbound]\ntransport = "smtp://127.0.0.1:{sink_port}"\n'
    )
    if signing in ("rsa", "rsa+ed25519"):
        text += (
            f'[dkim]\ndomain = "blog.example.org"\nselector = "mb-rsa"\n'
            f'private_key = "{keys / "rsa.pem"}"\n'
        )
    if signing == "rsa+ed25519":
        text += f'ed25519_selector = "mb-ed"\ned25519_private_key = "{keys / "ed25519.key"}"\n'
    return text


def ed25519_only(keys: Path) -> DkimSigner:
    """mailbridge's signer with its ed25519 key alone (configuration always adds RSA)."""
    key: DkimKey = load_key(keys / "ed25519.key", "blog.example.org", "mb-ed")
    return DkimSigner([key], require_rsa=False)


async def drain(settings: Settings, signing: str, keys: Path, limit: float) -> tuple[float, int]:
    """(messages sent per second, messages left unsent) for one drain of the outbox.

    As ``mailbridge serve`` runs it (``daemon=True``): DKIM signatures are made in
    the worker processes (``inbound.cpu_processes``)."""
    transport = transport_from_url(settings.transport_url, relay_config(settings))
    own_pool: CpuPool | None = None
    try:
        async with core(settings, transport=transport, daemon=True) as c:
            worker = c.worker
            if signing == "ed25519":
                # The same pool as the daemon's, started with this signer instead.
                signer = ed25519_only(keys)
                own_pool = CpuPool(
                    c.pool.processes,
                    initializer=worker_tasks.start,
                    initargs=(None, {}, os.getpid(), signer),
                )
                await own_pool.start()
                out = settings.outbound
                worker = DeliveryWorker(
                    c.store,
                    transport,
                    out,
                    c.clock,
                    concurrency=out.concurrency,
                    per_domain=out.per_domain_concurrency,
                    sign=offload.signing(signer, own_pool),
                )
            began = time.monotonic()
            task = asyncio.create_task(worker.deliver_due())
            try:
                await asyncio.wait_for(asyncio.shield(task), limit)
            except TimeoutError:
                worker.stop()
                await task
            elapsed = time.monotonic() - began
            counts = await c.store.read(outbox.count_by_status)
    finally:
        if own_pool is not None:
            await own_pool.close()
        await transport.aclose()
    sent = counts.get("sent", 0)
    if sent != sum(counts.values()):
        print(f"{signing}: not all sent: {counts}", file=sys.stderr)
    return sent / elapsed, sum(counts.values()) - sent


async def mailbridge_row(
    work: Path, sink_port: int, keys: Path, signing: str, items: list[tuple[str, bytes]],
    limit: float,
) -> tuple[float, int]:  # fmt: skip
    run = Path(tempfile.mkdtemp(prefix=f"{signing}-", dir=work))  # a fresh data directory
    data = run / "mb"
    config = run / "mailbridge.toml"
    config.write_text(config_text(data, sink_port, keys, signing))
    settings = load_settings(config, environ={})
    store = await Store.open(settings.database_path)
    await store.close()
    async with aiosqlite.connect(settings.database_path) as conn:
        await fill(conn, items)
    return await drain(settings, signing, keys, limit)


# Lease cost.


async def lease_step(conn: aiosqlite.Connection, busy: dict[str, int]) -> int:
    """What the worker runs in one lease transaction."""
    leased = await leasing.lease_step(
        conn, time.time(), slots=4 - sum(busy.values()), per_domain=2, busy=busy, owner="bench"
    )
    return len(leased.rows)


async def lease_cost(work: Path, queued: int, calls: int = 30) -> tuple[float, float]:
    """Median ms of one lease step: (nothing in flight, gmail.com at its cap)."""
    path = work / f"lease-{queued}.sqlite3"
    store = await Store.open(path)
    await store.close()
    small = [(r, b"Subject: x\r\n\r\nx\r\n") for r in recipients(queued, seed=queued)]
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await fill(conn, small)
        results = []
        for busy in ({}, {"gmail.com": 2}):
            times = []
            for _ in range(calls):
                await conn.execute("BEGIN IMMEDIATE")
                began = time.perf_counter()
                leased = await lease_step(conn, busy)
                times.append(time.perf_counter() - began)
                await conn.execute("ROLLBACK")  # the same backlog for every call
                assert leased == 4 - sum(busy.values()), leased
            results.append(statistics.median(times) * 1000)
    return results[0], results[1]


def main(args: argparse.Namespace) -> None:
    items = backlog(args.messages)
    connections = load_settings(None, environ={}).outbound.concurrency
    rows: list[tuple[str, float, int]] = []
    leases: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="mailbridge-bench-") as tmp:
        work = Path(tmp)
        keys = work / "keys"
        write_keys(keys)
        port = free_port()
        with process([sys.executable, "-c", SINK, str(port)]):
            asyncio.run(wait_port(port))
            for _ in range(args.repeat):
                rows.append(("baseline", asyncio.run(bare_sender(port, items, connections)), 0))
                for signing in args.signing:
                    rate, left = asyncio.run(
                        mailbridge_row(work, port, keys, signing, items, args.timeout)
                    )
                    rows.append((signing, rate, left))
        for queued in args.lease_backlogs:
            leases.append((queued, *asyncio.run(lease_cost(work, queued))))
    print_tables(args, connections, rows, leases)


def print_tables(
    args: argparse.Namespace,
    connections: int,
    rows: list[tuple[str, float, int]],
    leases: list[tuple[int, float, float]],
) -> None:
    print(
        f"Outbox drain of {args.messages:,} messages of about 4 KB to a discarding aiosmtpd "
        f"sink, {connections} connections (default outbound.concurrency)\n"
    )
    print("| run | what | msg/s | unsent | ratio |")
    print("|---:|---|---:|---:|---|")
    run = 0
    by: dict[str, float] = {}
    for what, rate, left in rows:
        if what == "baseline":
            run += 1
            by = {}
        by[what] = rate
        ratio = ""
        if what == "none":
            ratio = f"{rate / by['baseline']:.2f}x baseline"
        elif "none" in by and what != "baseline":
            ratio = f"{rate / by['none']:.2f}x unsigned"
        label = {"baseline": "baseline: bare aiosmtplib", "none": "mailbridge, unsigned"}.get(
            what, f"mailbridge, DKIM {what}"
        )
        print(f"| {run} | {label} | {rate:,.0f} | {left:,} | {ratio} |")
    if leases:
        print("\nOne lease step (4 slots, 2 per domain), median of 30 calls, ms\n")
        print("| queued | nothing in flight | gmail.com at its cap |")
        print("|---:|---:|---:|")
        for queued, free, capped in leases:
            print(f"| {queued:,} | {free:.2f} | {capped:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--signing",
        nargs="+",
        default=["none", "ed25519", "rsa", "rsa+ed25519"],
        choices=["none", "ed25519", "rsa", "rsa+ed25519"],
    )
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per drain, at most")
    parser.add_argument("--repeat", type=int, default=1, help="run the drains this many times")
    parser.add_argument("--lease-backlogs", type=int, nargs="*", default=[1_000, 10_000, 50_000])
    main(parser.parse_args())
