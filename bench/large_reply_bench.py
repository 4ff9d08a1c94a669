#!/usr/bin/env python3
"""Benchmark: emailed replies carrying a large attachment (a phone's photo), and what
they cost every other reply.

A reply sent from a phone often carries the photo the writer took: several megabytes,
kept whole in the inbound log (``mailbridge inbound --raw``, ``reprocess``) until the
retention forgets it. Each run starts ``mailbridge serve`` from a source tree on a fresh
data directory with the sample thread and sends, for ``--seconds``:

- ``--sessions`` SMTP sessions of the inbound benchmark's ~4.6 KB replies
  (bench/inbound_bench.py), timing each message from MAIL to the 250 after DATA;
- with ``--large`` on, one more session sending replies of ``--mb`` megabytes (the text
  and a JPEG-typed attachment of random bytes, base64) one after the other.

It prints the small replies' rate and p50/p99 latency, the large replies accepted and
their own latency, and the bytes the daemon's processes wrote to disk (``/proc``'s
``write_bytes``: the database, its WAL, the outgoing Maildir) per large reply, over
what the small ones wrote per reply in the same run. Two trees run interleaved, as
bench/inbound_ab.py does:

    git worktree add /tmp/base <rev>
    .venv/bin/python bench/large_reply_bench.py --base /tmp/base --new . [--rounds 2]

Only 127.0.0.1; each run is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inbound_bench as ib
from inbound_ab import ab_runs, daemon_of


def large_message(n: int, sender: str, rcpt: str, megabytes: float) -> bytes:
    """A reply with a photo: the benchmark's text, then ``megabytes`` of attachment."""
    photo = base64.encodebytes(os.urandom(int(megabytes * 1024 * 1024 * 3 / 4)))
    return (
        (
            f"From: {sender}\r\nTo: {rcpt}\r\nSubject: Re: the post\r\n"
            f"Message-ID: <large-{n}-{time.monotonic_ns()}@client.example>\r\n"
            "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
            "--b0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{ib.body(n)}\r\n\r\nOn Thu, 3 Dec 2026, The Blog wrote:\r\n> the notification\r\n"
            "--b0\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n"
            'Content-Disposition: attachment; filename="IMG_0001.jpg"\r\n\r\n'
        ).encode()
        + photo.replace(b"\n", b"\r\n")
        + b"--b0--\r\n"
    )


@dataclass
class Timed:
    seconds: list[float] = field(default_factory=list)
    refused: int = 0


async def sessions(
    port: int,
    pairs: list[tuple[str, str]],
    count: int,
    seconds: float,
    megabytes: float | None,
) -> tuple[Timed, Timed]:
    """(small replies, large replies), each message timed from MAIL to its 250."""
    small, large = Timed(), Timed()
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def session(big: bool) -> None:
        timed = large if big else small
        async with aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=False, timeout=120
        ) as client:
            while time.monotonic() < deadline:
                n = next(counter)
                sender, rcpt = pairs[n % len(pairs)]
                data = (
                    large_message(n, sender, rcpt, megabytes)
                    if big and megabytes is not None
                    else ib.message(n, sender, rcpt)
                )
                began = time.monotonic()
                try:
                    await client.mail(sender)
                    await client.rcpt(rcpt)
                    await client.data(data)
                except aiosmtplib.SMTPResponseException:
                    timed.refused += 1
                    await client.rset()
                    continue
                timed.seconds.append(time.monotonic() - began)

    jobs = [session(False) for _ in range(count)]
    if megabytes is not None:
        jobs.append(session(True))
    await asyncio.gather(*jobs)
    return small, large


def written(pid: int) -> int:
    """Bytes the daemon's processes have written to storage so far."""
    total = 0
    for entry in ib.process_tree(pid):
        try:
            for line in (entry / "io").read_text().splitlines():
                if line.startswith("write_bytes:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


@dataclass
class Run:
    small_rate: float
    small_p50: float
    small_p99: float
    large: int
    large_p50: float
    bytes_per_small: float
    bytes_per_large: float


def one_run(tree: Path, count: int, seconds: float, megabytes: float | None) -> Run:
    with daemon_of(tree, "large-reply-", count) as daemon:
        pid, smtp, pairs = daemon.pid, daemon.smtp, daemon.pairs
        # The small replies' own bytes per reply, alone, to tell the large ones' apart.
        before = written(pid)
        alone, _ = asyncio.run(sessions(smtp, pairs, count, min(seconds, 5.0), None))
        per_small = (written(pid) - before) / max(1, len(alone.seconds))
        before = written(pid)
        small, large = asyncio.run(sessions(smtp, pairs, count, seconds, megabytes))
        total = written(pid) - before
    share = total - per_small * len(small.seconds)
    return Run(
        small_rate=len(small.seconds) / seconds,
        small_p50=pct(small.seconds, 0.5),
        small_p99=pct(small.seconds, 0.99),
        large=len(large.seconds),
        large_p50=pct(large.seconds, 0.5),
        bytes_per_small=per_small,
        bytes_per_large=share / len(large.seconds) if large.seconds else 0.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--mb", type=float, default=8.0, help="size of each large reply")
    args, plan = ab_runs(parser, 2)
    runs: dict[str, list[Run]] = {"base": [], "new": []}
    print("| tree | round | small replies/s | small p50 / p99 ms | large accepted | "
          "large p50 ms | written per small reply | per large reply |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n, name, tree in plan:
        r = one_run(tree, args.sessions, args.seconds, args.mb)
        runs[name].append(r)
        print(
            f"| {name} | {n} | {r.small_rate:.0f} | {r.small_p50:.0f} / {r.small_p99:.0f}"
            f" | {r.large} | {r.large_p50:.0f} | {r.bytes_per_small / 1024:.0f} KB"
            f" | {r.bytes_per_large / 2**20:.1f} MB |",
            flush=True,
        )
    for name, rs in runs.items():
        print(
            f"median {name}: small {statistics.median(r.small_rate for r in rs):.0f}/s, "
            f"p99 {statistics.median(r.small_p99 for r in rs):.0f} ms; "
            f"{statistics.median(r.bytes_per_large for r in rs) / 2**20:.1f} MB written "
            f"per {args.mb:g} MB reply"
        )


if __name__ == "__main__":
    main()
