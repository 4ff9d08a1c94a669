#!/usr/bin/env python3
"""Benchmark: the time of a /metrics scrape on a large inbound log, two versions of the
code interleaved.

Each round starts ``mailbridge serve`` from one tree, then from the other (in turn
first), each on a fresh data directory made by its own code (the sample thread), adds
``--rows`` inbound log rows to its database (refusals, replies, bounces, holds, as
their outcomes are recorded: ``counted_as`` set where the tree has the column), and
times ``--scrapes`` scrapes of /metrics one after the other. It prints each run's
median and the medians of medians.

    .venv/bin/python bench/metrics_scrape_ab.py --base /tmp/base --new . --own-venvs

127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inbound_ab as ab
import inbound_bench as ib

OUTCOMES = ("refused", "refused", "refused", "accepted", "held", "bounce", "rejected")


def add_rows(database: Path, rows: int) -> None:
    """``rows`` processed log rows, a week of them, as the daemon records them."""
    with sqlite3.connect(database) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(inbound_messages)")}
        counted = ", counted_as" if "counted_as" in columns else ""
        conn.executemany(
            "INSERT INTO inbound_messages (stage, received_at, peer, helo, mail_from, "
            f"rcpt_to, size, status, reason{counted}) VALUES ('rcpt', ?, '127.0.0.1', "
            f"'bot', ?, 'nobody@reply.example.org', 0, ?, 'bench'{', ?' if counted else ''})",
            (
                (f"2026-11-{1 + n % 7:02d}T{n % 24:02d}:00:00+00:00",
                 f"robot{n}@flood.example", s, *((s,) if counted else ()))
                for n in range(rows) for s in (OUTCOMES[n % len(OUTCOMES)],)
            ),
        )  # fmt: skip


def scrape_times(tree: Path, rows: int, scrapes: int) -> list[float]:
    """Seconds of each of ``scrapes`` scrapes of ``tree``'s daemon."""
    work = Path(tempfile.mkdtemp(prefix="metrics-ab-"))
    try:
        http = ib.free_port()
        config = ib.mailbridge_config(work / "mailbridge.toml", work / "data", ib.free_port(), http)
        ab.tree_pairs(tree, config)  # the data directory, by the tree's own code
        add_rows(work / "data" / "mailbridge.sqlite3", rows)
        args = [str(ab.python_of(tree).with_name("mailbridge")), *ib.serve_args(config)[1:]]
        env = ib.serve_env()
        env["PYTHONPATH"] = str(tree.resolve())
        with ib.process(args, env=env, log=work / "daemon.log"):
            asyncio.run(ib.wait_port(http))
            url = f"http://127.0.0.1:{http}/metrics"
            urllib.request.urlopen(url, timeout=60).read()  # warm: caches, first reads
            times = []
            for _ in range(scrapes):
                began = time.perf_counter()
                body = urllib.request.urlopen(url, timeout=60).read()
                times.append(time.perf_counter() - began)
            assert b"mailbridge_messages_received_total" in body
            return times
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--scrapes", type=int, default=20)
    medians: dict[str, list[float]] = {"base": [], "new": []}
    args, runs = ab.ab_runs(parser, 3)
    for n, name, tree in runs:
        times = scrape_times(tree, args.rows, args.scrapes)
        medians[name].append(statistics.median(times))
        print(f"round {n} {name:>4}: median {medians[name][-1] * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms", flush=True)  # fmt: skip
    base, new = (statistics.median(medians[name]) for name in medians)
    print(f"median: base {base * 1000:.1f} ms, new {new * 1000:.1f} ms, new/base {new / base:.3f}x")


if __name__ == "__main__":
    main()
