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
PYTHONPATH), or with ``--own-venvs`` each with its own ``TREE/.venv`` (a dependency
that changed between the two counts then too); on 127.0.0.1 only. Each round also
measures the bare aiosmtpd sink (bench/inbound_bench.py), the machine's speed then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
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


def python_of(tree: Path) -> Path:
    """``tree``'s own virtualenv's Python with ``--own-venvs``, else this one."""
    return tree.resolve() / ".venv" / "bin" / "python" if OWN_VENVS else Path(sys.executable)


OWN_VENVS = False


def tree_pairs(tree: Path, config: Path) -> list[tuple[str, str]]:
    """The sample thread imported by ``tree``'s own code; its reply addresses."""
    out = subprocess.run(
        [str(python_of(tree)), "-c", _PAIRS, str(Path(__file__).resolve().parent),
         str(tree.resolve()), str(config)],
        check=True, capture_output=True, text=True, env=ib.serve_env(), timeout=300,
    ).stdout  # fmt: skip
    return [(sender, rcpt) for sender, rcpt in json.loads(out)]


@contextmanager
def daemon_of(tree: Path, prefix: str, warm_sessions: int, top: str = "") -> Iterator[Daemon]:
    """``mailbridge serve`` from ``tree`` on a fresh data directory with the sample
    thread, warmed up by ``warm_sessions`` sessions for 2 s; stopped on leaving.
    ``top``: more settings, as for ``inbound_bench.mailbridge_config``."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    smtp = ib.free_port()
    config = ib.mailbridge_config(
        work / "mailbridge.toml", work / "data", smtp, ib.free_port(), top
    )
    env = ib.serve_env()
    env["PYTHONPATH"] = str(tree.resolve())
    args = [str(python_of(tree).with_name("mailbridge")), *ib.serve_args(config)[1:]]
    try:
        pairs = tree_pairs(tree, config)
        with ib.process(args, env=env, log=work / "daemon.log") as pid:
            asyncio.run(ib.wait_port(smtp))
            asyncio.run(ib.load(smtp, pairs, warm_sessions, 2))
            yield Daemon(pid, smtp, pairs)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # each run's database, gone


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
    parser.add_argument("--own-venvs", action="store_true", help="each tree's own .venv")
    args = parser.parse_args()
    global OWN_VENVS
    OWN_VENVS = args.own_venvs
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
    sinks: list[float] = []
    for n, name, tree in runs:
        if len(sinks) < n:
            sinks.append(sink_rate(args.sessions, args.seconds))
            print(f"round {n} sink: {sinks[-1]:6.0f} messages/s")
        rate, cpu = one_run(tree, args.sessions, args.seconds)
        rates[name].append(rate)
        print(f"round {n} {name:>4}: {rate:6.0f} replies/s, {cpu * 1000:.2f} ms CPU/reply",
              flush=True)  # fmt: skip
    base, new = (statistics.median(rates[name]) for name in rates)
    ranges = ", ".join(f"{name} {min(r):.0f}-{max(r):.0f}" for name, r in rates.items())
    print(f"median: base {base:.0f}/s, new {new:.0f}/s, new/base {new / base:.3f}x; "
          f"sink {statistics.median(sinks):.0f}/s; ranges: {ranges}")  # fmt: skip


def sink_rate(sessions: int, seconds: float) -> float:
    """The bare aiosmtpd sink's messages per second with the same load."""
    port = ib.free_port()
    pairs = [("reader@example.org", "reply+bench@reply.example.org")]
    with ib.process([sys.executable, "-c", ib.SINK, str(port)]):
        return asyncio.run(ib.measure(port, pairs, [sessions], seconds))[sessions][0]


if __name__ == "__main__":
    main()
