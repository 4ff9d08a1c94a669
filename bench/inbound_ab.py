#!/usr/bin/env python3
"""Benchmark: inbound replies per second of two versions of the code, interleaved.

The machine's speed moves over minutes (docs/performance.md), so a saving of a tenth
is only seen side by side: each round starts ``mailbridge serve`` from one source tree,
then from the other (in turn first), on a fresh data directory with the sample thread,
and sends the inbound benchmark's load (bench/inbound_bench.py: ~4.6 KB replies over
reused SMTP sessions, 250 after commit) for ``--seconds``. It prints each run's rate and
the CPU of the daemon's processes per reply, then the medians.

    git worktree add /tmp/base <rev>
    .venv/bin/python bench/inbound_ab.py --base /tmp/base --new . [--rounds 3]

Both trees run with this virtualenv's packages (their ``mailbridge`` first on
PYTHONPATH), on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inbound_bench as ib


@dataclass(frozen=True)
class Daemon:
    pid: int
    smtp: int
    pairs: list[tuple[str, str]]


# Run in a process of its own: the data directory is made by the tree under test
# (its own migrations), never by the other one.
_PAIRS = """
import asyncio, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import inbound_bench as ib
ib.ROOT = Path(sys.argv[2])
print(json.dumps(asyncio.run(ib.mailbridge_pairs(Path(sys.argv[3]), None))))
"""


def tree_pairs(tree: Path, config: Path) -> list[tuple[str, str]]:
    """The sample thread imported by ``tree``'s own code; its reply addresses."""
    out = subprocess.run(
        [sys.executable, "-c", _PAIRS, str(Path(__file__).resolve().parent),
         str(tree.resolve()), str(config)],
        check=True, capture_output=True, text=True, env=ib.serve_env(), timeout=300,
    ).stdout  # fmt: skip
    return [(sender, rcpt) for sender, rcpt in json.loads(out)]


@contextmanager
def daemon_of(tree: Path, prefix: str, warm_sessions: int) -> Iterator[Daemon]:
    """``mailbridge serve`` from ``tree`` on a fresh data directory with the sample
    thread, warmed up by ``warm_sessions`` sessions for 2 s; stopped on leaving."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    smtp = ib.free_port()
    config = ib.mailbridge_config(work / "mailbridge.toml", work / "data", smtp, ib.free_port())
    env = ib.serve_env()
    env["PYTHONPATH"] = str(tree.resolve())
    pairs = tree_pairs(tree, config)
    with ib.process(ib.serve_args(config), env=env, log=work / "daemon.log") as pid:
        asyncio.run(ib.wait_port(smtp))
        asyncio.run(ib.load(smtp, pairs, warm_sessions, 2))
        yield Daemon(pid, smtp, pairs)


def one_run(tree: Path, sessions: int, seconds: float) -> tuple[float, float]:
    """(replies per second, CPU seconds of the daemon's processes per reply)."""
    with daemon_of(tree, "inbound-ab-", sessions) as daemon:
        cpu, started = ib.cpu_seconds(daemon.pid), time.monotonic()
        rate = asyncio.run(ib.load(daemon.smtp, daemon.pairs, sessions, seconds))
        cores = (ib.cpu_seconds(daemon.pid) - cpu) / (time.monotonic() - started)
    return rate, cores / rate


Runs = list[tuple[int, str, Path]]


def ab_runs(parser: argparse.ArgumentParser, rounds: int) -> tuple[argparse.Namespace, Runs]:
    """Parse ``--base``/``--new``/``--rounds`` and what the caller added; then the runs,
    (round, name, tree), the two trees in turn first, at most 20 rounds."""
    parser.add_argument("--base", type=Path, required=True, help="a source tree (git worktree)")
    parser.add_argument("--new", type=Path, default=Path("."))
    parser.add_argument("--rounds", type=int, default=rounds)
    args = parser.parse_args()
    trees = {"base": args.base, "new": args.new}
    for tree in trees.values():
        if not (tree / "mailbridge" / "__init__.py").is_file():
            parser.error(f"{tree}: not a mailbridge source tree")
    order = [list(trees), list(reversed(trees))]
    runs = [
        (n + 1, name, trees[name]) for n in range(min(args.rounds, 20)) for name in order[n % 2]
    ]
    return args, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    rates: dict[str, list[float]] = {"base": [], "new": []}
    args, runs = ab_runs(parser, 3)
    for n, name, tree in runs:
        rate, cpu = one_run(tree, args.sessions, args.seconds)
        rates[name].append(rate)
        print(f"round {n} {name:>4}: {rate:6.0f} replies/s, {cpu * 1000:.2f} ms CPU/reply")
    base, new = (statistics.median(rates[name]) for name in rates)
    print(f"median: base {base:.0f}/s, new {new:.0f}/s, new/base {new / base:.3f}x")


if __name__ == "__main__":
    main()
