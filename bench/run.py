#!/usr/bin/env python3
"""Every benchmark of issues 14 and 16 in one run: inbound (also on PostgreSQL), outbound,
web, import and a soak.

Runs each benchmark script in a process of its own, one after the other (they share
the machine's cores, so never at once), and prints each one's table: mailbridge's
figures next to its anchors measured in the same run, with the ratios. First, the
machine it ran on. ``--quick`` makes every part smaller (a check that they run,
not a measurement).

    .venv/bin/python bench/run.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, its arguments for a measurement, for --quick)
PARTS = (
    ("inbound_bench.py", [], ["--seconds", "2", "--sessions", "8", "--comments", "5000"]),
    (
        "pg_inbound_bench.py",
        [],
        ["--seconds", "2", "--sessions", "8", "--rounds", "1", "--quiet-wait", "0"],
    ),
    ("outbound_bench.py", [], ["--messages", "500"]),
    ("web_bench.py", [], ["--seconds", "0.5"]),
    ("import_bench.py", [], ["--comments", "5000"]),
    ("soak_bench.py", [], ["--minutes", "0.5"]),
)


def machine() -> str:
    cpus = os.cpu_count()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {cpus} cores; {platform.platform()}; "
        f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small runs: a check, not figures")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="only these: inbound pg_inbound outbound web import soak",
    )
    args = parser.parse_args()
    print(f"# mailbridge benchmarks\n\nMachine: {machine()}\n")
    failed = []
    for script, full, quick in PARTS:
        name = script.removesuffix("_bench.py")
        if args.only and name not in args.only:
            continue
        if not (HERE / script).exists():
            print(f"## {name}\n\n(no {script} here)\n")
            continue
        print(f"## {name}\n", flush=True)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(HERE / script), *(quick if args.quick else full)], check=False
        )
        print(f"\n({name}: {time.monotonic() - started:.0f} s)\n", flush=True)
        if done.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
