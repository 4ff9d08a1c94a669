#!/usr/bin/env python3
"""Benchmark: what a moderation email per reply costs under a flood of replies.

The inbound benchmark's load (bench/inbound_bench.py: ~4.6 KB replies over reused SMTP
sessions, 250 after commit) against ``mailbridge serve`` from this tree, with
``moderation.mode`` "each" (the default: one moderation email per pending comment,
drafted, queued, leased and delivered to the Maildir) and "auto" (past
``moderation.digest_when_pending_over`` pending comments, 10 by default, new ones wait
for the digest), interleaved, each on a fresh data directory with the sample thread.
Prints each run's rate and the CPU per reply of the daemon's process and of its worker
process (user and kernel), then the medians and the ratio.

    .venv/bin/python bench/moderation_cost.py [--rounds 3] [--sessions 8] [--seconds 10]

127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inbound_ab as ab
import inbound_bench as ib

MODES = ("each", "auto")
ROOT = Path(__file__).resolve().parents[1]


def _ticks(pid: int) -> tuple[int, int]:
    """(user, system) clock ticks of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]), int(fields[12])


Cpu = dict[str, tuple[float, float]]


def one_run(mode: str, sessions: int, seconds: float) -> tuple[float, Cpu]:
    """(replies per second, {process: (user, system) ms of CPU per reply})."""
    top = f'[moderation]\nmode = "{mode}"\n'
    with ab.daemon_of(ROOT, "moderation-cost-", sessions, top) as daemon:
        pids = [int(entry.name) for entry in ib.process_tree(daemon.pid)]
        before = {pid: _ticks(pid) for pid in pids}
        started = time.monotonic()
        rate = asyncio.run(ib.load(daemon.smtp, daemon.pairs, sessions, seconds))
        replies = rate * (time.monotonic() - started)
        ms = 1000 / os.sysconf("SC_CLK_TCK") / replies
        cpu: Cpu = {}
        for pid in pids:
            user, system = (a - b for a, b in zip(_ticks(pid), before[pid], strict=True))
            if user + system:
                name = "daemon" if pid == daemon.pid else f"worker {pid}"
                cpu[name] = (user * ms, system * ms)
    return rate, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    totals: dict[str, list[float]] = {mode: [] for mode in MODES}
    for n in range(min(args.rounds, 20)):
        for mode in MODES if n % 2 == 0 else tuple(reversed(MODES)):
            rate, cpu = one_run(mode, args.sessions, args.seconds)
            rates[mode].append(rate)
            totals[mode].append(sum(u + s for u, s in cpu.values()))
            parts = ", ".join(f"{name} {u:.2f} + {s:.2f}" for name, (u, s) in cpu.items())
            print(f"round {n + 1} {mode:>4}: {rate:6.0f} replies/s; "
                  f"ms CPU per reply (user + kernel): {parts}", flush=True)  # fmt: skip
    each, auto = (statistics.median(rates[mode]) for mode in MODES)
    cpu_each, cpu_auto = (statistics.median(totals[mode]) for mode in MODES)
    print(f"median: each {each:.0f}/s ({cpu_each:.2f} ms CPU a reply), "
          f"auto {auto:.0f}/s ({cpu_auto:.2f} ms); auto/each {auto / each:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
