#!/usr/bin/env python3
"""Benchmark: a mixed soak of ``mailbridge serve``: memory over time, and how long an
approval takes to reach the person answered while the daemon is under load.

For ``--minutes`` (10), against one ``mailbridge serve`` on its defaults (the sample
thread imported, public_url its own HTTP address), all at once:

* emailed replies over SMTP at ``--rate`` per second (4 sessions, ~4 KB each, to
  real reply addresses from the people they were sent to);
* the thread's JSON read 20 times a second, and a comment posted on the web every
  second;
* once a second, an emailed reply's moderation email is taken from the outgoing
  Maildir and its Approve link followed; the time until the notification to the
  person it answers is in the Maildir is that approval's latency (with
  ``notifications.batch_window_seconds = 0``: the deliberate batching window, 120 s
  by default, is not what is measured);
* every 10 s, the memory of the daemon and its worker processes (PSS).

Prints approval latency (p50, p99, max) and memory (after the first minute, at the
end, the highest) with its growth. Everything on 127.0.0.1, bounded by --minutes.

    .venv/bin/python bench/soak_bench.py [--minutes 10] [--rate 20] [--heap]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import json
import os
import re
import statistics
import sys
import tempfile
import time
from email import policy
from pathlib import Path

import aiohttp
import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inbound_bench import (  # the shared pieces of the inbound benchmark
    free_port,
    mailbridge_pairs,
    message,
    process,
    process_tree,
    wait_port,
)

THREAD = "attachment-theory-healing-relationship"
HEAP_PROBE = Path(__file__).resolve().parent / "heap_probe"
APPROVE = re.compile(r"^Approve \(publish it\):\n(\S+)$", re.MULTILINE)


def pss_kb(entry: Path) -> int:
    """One process's proportional set size, in KB (0 once it is gone)."""
    try:
        found = re.search(r"^Pss:\s+(\d+) kB", (entry / "smaps_rollup").read_text(), re.M)
    except OSError:
        return 0
    return int(found.group(1)) if found else 0


def rss_kb(pid: int) -> tuple[int, int]:
    """Memory of ``pid`` and its descendants (the worker processes), in KB: their
    proportional set size, so pages the fork server shares with its workers count once;
    and of ``pid`` alone (the daemon's own process, where the caches are)."""
    return sum(pss_kb(e) for e in process_tree(pid)), pss_kb(Path(f"/proc/{pid}"))


class Maildir:
    """Watches the outgoing Maildir: when each message (by Message-ID) appeared."""

    def __init__(self, path: Path) -> None:
        self.new = path / "new"
        self.seen: set[str] = set()
        self.arrived: dict[str, float] = {}  # Message-ID -> monotonic time seen
        self.moderation: list[Path] = []  # emailed replies' moderation emails, oldest first

    def scan(self) -> None:
        now = time.monotonic()
        try:
            names = os.listdir(self.new)
        except FileNotFoundError:
            return
        for name in names:
            if name in self.seen:
                continue
            self.seen.add(name)
            with open(self.new / name, "rb") as f:
                head = f.read(4096)
            found = re.search(rb"^Message-ID: (<[^>]+>)", head, re.MULTILINE | re.IGNORECASE)
            if found is None:
                continue
            mid = found.group(1).decode()
            self.arrived[mid] = now
            if mid.startswith("<moderate.c"):
                self.moderation.append(self.new / name)


async def replies(smtp: int, pairs: list[tuple[str, str]], rate: float, until: float) -> int:
    """Emailed replies at ``rate`` per second over 4 sessions; how many got 250."""
    done, n = 0, 0
    every = 4 / rate

    async def session(k: int) -> None:
        nonlocal done, n
        next_at = time.monotonic() + k * every / 4
        while time.monotonic() < until:
            try:
                async with aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp, timeout=60) as client:
                    while time.monotonic() < until:
                        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                        next_at += every
                        n += 1
                        sender, rcpt = pairs[n % len(pairs)]
                        await client.mail(sender)
                        await client.rcpt(rcpt)
                        answer = await client.data(message(n, sender, rcpt))
                        done += answer.code == 250
            except aiosmtplib.SMTPServerDisconnected:
                continue  # closed between two replies: connect again
            except aiosmtplib.SMTPResponseException as exc:
                # The daemon ends a session after smtp.max_session_seconds (600 s) with
                # a 421: connect again, as an MTA does (the reply in hand was refused).
                if exc.code != 421:
                    raise

    await asyncio.gather(*(session(k) for k in range(4)))
    return done


async def web(base: str, until: float, sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """Thread reads at 20/s and a web comment a second: (reads, posts). ``sizes`` gets
    the answer's bytes and comments after the first minute and at the end: the data
    the daemon is meant to hold grows with it."""
    reads = posts = 0
    began = time.monotonic()
    async with aiohttp.ClientSession() as http:
        tick = 0
        while time.monotonic() < until:
            async with http.get(f"{base}/api/threads/{THREAD}/comments") as resp:
                body = await resp.read()
                reads += resp.status == 200
            if resp.status == 200:
                seen = (len(body), body.count(b'"id":'))
                # The first minute's last answer, then the latest one.
                if not sizes or time.monotonic() - began < 60:
                    sizes[:] = [seen]
                else:
                    sizes[1:] = [seen]
            if tick % 20 == 0:
                body = {"author": "Soak", "email": f"s{tick}@example.net", "body": f"Web {tick}."}
                async with http.post(f"{base}/api/threads/{THREAD}/comments", json=body) as resp:
                    posts += resp.status == 202
            tick += 1
            await asyncio.sleep(0.05)
    return reads, posts


async def approvals(maildir: Maildir, until: float, missed: list[str]) -> list[float]:
    """Once a second, approve an emailed reply; each approval's latency in seconds
    (what went wrong goes to ``missed``)."""
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < until - 5:
            await asyncio.sleep(1.0)
            if not maildir.moderation:
                continue
            path = maildir.moderation.pop(0)
            mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            text = mail.get_body(("plain",))
            words = str(text.get_content()).replace("\r\n", "\n") if text else ""
            link = APPROVE.search(words)
            comment = re.search(r"<moderate\.c(\d+)\.", str(mail["Message-ID"]))
            if link is None or comment is None or "Soak" in str(mail["Subject"]):
                continue  # a web comment's (its writer asked for no notification)
            started = time.monotonic()
            async with http.post(link.group(1)) as resp:
                if resp.status != 200:
                    missed.append(f"approval answered {resp.status}")
                    continue
            prefix = f"<c{comment.group(1)}."
            while time.monotonic() < started + 10:
                hit = [t for mid, t in maildir.arrived.items() if mid.startswith(prefix)]
                if hit:
                    latencies.append(max(0.0, hit[0] - started))
                    break
                await asyncio.sleep(0.005)
            else:
                missed.append(f"no notification 10 s after approving comment {comment[1]}")
    return latencies


async def watch(maildir: Maildir, until: float) -> None:
    while time.monotonic() < until:
        maildir.scan()
        await asyncio.sleep(0.005)


async def memory(pid: int, until: float) -> list[tuple[float, int, int]]:
    began, samples = time.monotonic(), []
    while time.monotonic() < until:
        samples.append((time.monotonic() - began, *rss_kb(pid)))
        await asyncio.sleep(10.0)
    samples.append((time.monotonic() - began, *rss_kb(pid)))
    return samples


async def soak(minutes: float, rate: float, work: Path, heap: bool = False) -> None:
    smtp, http = free_port(), free_port()
    data = work / "data"
    config = work / "mailbridge.toml"
    config.write_text(
        f'data_dir = "{data}"\n[site]\npublic_url = "http://127.0.0.1:{http}"\n'
        f'[smtp]\nlisten = "127.0.0.1:{smtp}"\n[http]\nlisten = "127.0.0.1:{http}"\n'
        '[auth]\ndns = "off"\nwhen_dns_unavailable = "accept"\n'
        "[limits]\nmessages_per_sender_per_hour = 1000000\n"
        "comments_per_thread_per_hour = 1000000\nweb_comments_per_ip_per_hour = 1000000\n"
        # Each notification at once: the latency measured is the daemon's, not the
        # deliberate batching window (120 s by default).
        "[notifications]\nbatch_window_seconds = 0\n"
    )
    pairs = await mailbridge_pairs(config, None)
    program = Path(sys.executable).with_name("mailbridge")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}
    heap_log = work / "heap.jsonl"
    if heap:  # the daemon's heap, split (bench/heap_probe/sitecustomize.py)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HEAP_PROBE), env.get("PYTHONPATH")]))
        env["SOAK_BENCH_HEAP"] = str(heap_log)
    maildir = Maildir(data / "outbox")
    missed: list[str] = []
    sizes: list[tuple[int, int]] = []
    with process([str(program), "serve", "--config", str(config)], env=env) as pid:
        await wait_port(smtp)
        until = time.monotonic() + minutes * 60
        began = time.monotonic()
        sent, (reads, posts), latencies, _w, rss = await asyncio.gather(
            replies(smtp, pairs, rate, until),
            web(f"http://127.0.0.1:{http}", until, sizes),
            approvals(maildir, until, missed),
            watch(maildir, until),
            memory(pid, until),
        )
        elapsed = time.monotonic() - began
    lat = sorted(latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    after_first = next((r[1] for r in rss if r[0] >= 60), rss[0][1])
    print(f"Mixed soak, {elapsed / 60:.1f} minutes\n")
    print("| what | figure |\n|---|---:|")
    print(f"| emailed replies accepted | {sent:,} ({sent / elapsed:.1f}/s) |")
    print(f"| thread reads / web comments | {reads:,} / {posts:,} |")
    print(f"| approvals timed / missed | {len(lat)} / {len(missed)} |")
    print(f"| approve -> notification p50 / p99 / max | {p(0.5):.0f} / {p(0.99):.0f} / "
          f"{(lat[-1] * 1000 if lat else float('nan')):.0f} ms |")  # fmt: skip
    print(f"| memory (PSS) after 1 min / at the end / highest | {after_first / 1024:.0f} / "
          f"{rss[-1][1] / 1024:.0f} / {max(r[1] for r in rss) / 1024:.0f} MB |")  # fmt: skip
    growth = (rss[-1][1] / after_first - 1) * 100
    print(f"| memory growth after the first minute | {growth:+.1f}% |")
    if len(sizes) == 2:
        (b0, n0), (b1, n1) = sizes
        print(f"| the thread's answer after 1 min / at the end | {b0 / 1e6:.1f} MB, {n0} "
              f"comments / {b1 / 1e6:.1f} MB, {n1} comments |")  # fmt: skip
    if lat:
        print(f"\n(median {statistics.median(lat) * 1000:.0f} ms over {len(lat)} approvals)")
    each_minute = [r for r in rss if int(r[0]) % 60 < 10 or r == rss[-1]]
    for what, column in (("memory (PSS, MB) about each minute", 1), ("the daemon's own", 2)):
        print(f"{what}: {' '.join(f'{r[column] / 1024:.0f}' for r in each_minute)}")
    for what in missed[:10]:
        print(f"missed: {what}")
    if heap and heap_log.exists():
        rows = [json.loads(line) for line in heap_log.read_text().splitlines()]
        print("\nthe daemon's process, KB: t, PSS, heap in use, free in the heap, mapped on "
              "its own, SQLite, Python's blocks")  # fmt: skip
        for r in rows:
            if r["t"] % 60 < 10 or r is rows[-1]:
                print(f"{r['t']:5d} {r['pss']:7d} {r['heap_used']:7d} {r['heap_free']:7d} "
                      f"{r['mapped']:7d} {r['sqlite']:6d} {r['python_blocks']:8d}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="emailed replies per second")
    parser.add_argument(
        "--heap", action="store_true", help="also split the daemon's memory (glibc only)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailbridge-soak-") as tmp:
        asyncio.run(soak(args.minutes, args.rate, Path(tmp), args.heap))


if __name__ == "__main__":
    main()
