#!/usr/bin/env python3
"""A/B of `mailbridge import` (issue 14's import row): two source trees interleaved.

Makes the 50,000-comment WXR file of bench/import_bench.py once, then for each round
runs the anchor (C ElementTree, fields read, nothing stored) and a first import into
an empty data directory from each tree, in alternating order, each in a process of
its own: this interpreter and its packages for both (so only the source differs),
the tree first on PYTHONPATH (this project's editable install is a path entry, which
PYTHONPATH precedes). Prints each run's
seconds and its ratio to the anchor of the same round, then the medians.

    git worktree add /tmp/base main
    flock /tmp/heavy.lock .venv/bin/python bench/import_ab.py --base /tmp/base --new . --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import make_wxr, parse_only


def import_once(tree: Path, wxr: Path, data: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (its reader process's too) of one first import,
    from ``tree``'s source."""
    before = os.times()
    env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mailbridge", "import", "--data-dir", str(data), str(wxr)],
        # cwd too: ``-m`` puts the working directory first on sys.path.
        cwd=tree.resolve(), env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    if done.returncode != 0 or "comment(s) added" not in done.stdout:
        sys.exit(f"{tree}: import failed:\n{done.stdout}{done.stderr}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--comments", type=int, default=50_000)
    args = parser.parse_args()
    ratios: dict[str, list[float]] = {"base": [], "new": []}
    cpus: dict[str, list[float]] = {"base": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wxr = work / "export.xml"
        total = make_wxr(wxr, args.comments)
        print(f"{total} comments, {wxr.stat().st_size / 1e6:.0f} MB")
        print(
            "| round | anchor s | base s | base/s | base ratio | base CPU s "
            "| new s | new/s | new ratio | new CPU s |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip
        for n in range(args.rounds):
            anchor = parse_only(wxr)
            order = [("base", args.base), ("new", args.new)]
            if n % 2:
                order.reverse()
            took, cpu = {}, {}
            for name, tree in order:
                took[name], cpu[name] = import_once(tree, wxr, work / f"{name}-{n}")
                ratios[name].append(anchor / took[name])
                cpus[name].append(cpu[name])
            b, w = took["base"], took["new"]
            print(f"| {n + 1} | {anchor:.2f} | {b:.2f} | {total / b:,.0f} | {anchor / b:.2f}x "
                  f"| {cpu['base']:.2f} | {w:.2f} | {total / w:,.0f} | {anchor / w:.2f}x "
                  f"| {cpu['new']:.2f} |")  # fmt: skip
    base, new = statistics.median(ratios["base"]), statistics.median(ratios["new"])
    print(f"\nmedian ratio to the anchor: base {base:.3f}x, new {new:.3f}x "
          f"(new/base {new / base:.2f}); median CPU: base {statistics.median(cpus['base']):.2f} s, "
          f"new {statistics.median(cpus['new']):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
