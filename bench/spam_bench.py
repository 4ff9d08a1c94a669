#!/usr/bin/env python3
"""Benchmark: the spam scorer on labelled comments, against a five-keyword baseline.

Data: each CSV of ../shared/corpus/spam (the YouTube Spam Collection, 1,138 labelled
comments), any CSV of the same collection in bench/data/ (see bench/data/SOURCES.md),
and the sample thread's 243 blog comments (all ham). Prints three tables of precision,
recall and false positives at spam.threshold (0.5):

1. ``keywords`` (the floor: a link, "check out" or "subscribe") and ``rules`` alone;
2. ``trained``: the rules plus the Bayesian filter trained on ONE file and scored on
   every other file and the sample thread (the filter never sees what it is scored on);
3. ``same site``: each file split in two halves by row parity, the filter trained on one
   half and scored on the other, then the other way round -- what a blog gets once
   its author's own decisions have trained it.

The rules were written looking at Youtube01-Psy, Youtube02-KatyPerry and the two
files in bench/data (docs/spam.md says in which order); Youtube03-LMFAO and the sample
thread were never used to write or tune them. Training goes through the
real code path (mailbridge.spam.training into a SQLite file in a temporary directory),
and scoring through mailbridge.spam.scorer.score_text, as ``mailbridge spam score``.
Each comment is scored with its video's own URL as the page commented on, as the daemon
passes a thread's URL (a link to the page itself is not promotion).

    .venv/bin/python bench/spam_bench.py [--corpus ../shared/corpus/spam] [--leave-out NAME]

``--leave-out Youtube03-LMFAO`` (repeatable) never opens that file: it is neither
trained on nor scored, so work on the scorer can be measured on the other files while
the one nothing was tuned on stays unseen until a change is decided.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from mailbridge.spam import training
from mailbridge.spam.rules import normalise, own_link_prefixes
from mailbridge.spam.scorer import score_text
from mailbridge.store import Store

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.5
_KEYWORDS = re.compile(r"(?i)https?://|www\.|\.com\b|check out|subscribe")
# The video each file's comments were left on (TubeSpam paper, table 1).
VIDEOS = {
    "Youtube01-Psy": "9bZkp7q19f0",
    "Youtube02-KatyPerry": "CevxZvSJLk8",
    "Youtube03-LMFAO": "KQ6zr6kCPj8",
    "Youtube04-Eminem": "uelHwf8o7_U",
    "Youtube05-Shakira": "pRpeEdMmmQ0",
}
SEED = "sample thread (ham)"

Rows = list[tuple[str, bool]]


def own(name: str) -> tuple[str, ...]:
    video = VIDEOS.get(name)
    if video is None:
        return ()
    return own_link_prefixes(f"youtube.com/watch?v={video}", f"youtu.be/{video}")


def load(corpus: Path, leave_out: Sequence[str] = ()) -> list[tuple[str, Rows]]:
    """Every labelled file and the sample thread, but those named in ``leave_out``
    (file names without ".csv"), which are not even opened."""
    sets: list[tuple[str, Rows]] = []
    for path in sorted([*corpus.glob("*.csv"), *(ROOT / "bench" / "data").glob("*.csv")]):
        if path.stem in leave_out:
            continue
        with path.open(encoding="utf-8") as handle:
            rows = [(r["CONTENT"], r["CLASS"] == "1") for r in csv.DictReader(handle)]
        sets.append((path.stem, rows))
    seed = json.loads((ROOT / "examples" / "thread.json").read_text())["comments"]
    sets.append((SEED, [(c["body"], False) for c in seed]))
    return sets


def measure(said: Sequence[tuple[bool, bool]]) -> str:
    tp = sum(1 for s, y in said if s and y)
    fp = sum(1 for s, y in said if s and not y)
    spam = sum(1 for _, y in said if y)
    precision = f"{tp / (tp + fp):.3f}" if tp + fp else "-"
    recall = f"{tp / spam:.3f}" if spam else "-"
    return f"{precision} | {recall} | {fp}"


async def scores(conn: aiosqlite.Connection | None, name: str, rows: Rows) -> list[bool]:
    return [
        (await score_text(conn, text, own_links=own(name), thread_script="Latin")).score
        >= THRESHOLD
        for text, _ in rows
    ]


async def trained_store(folder: Path, rows: Rows) -> Store:
    store = await Store.open(folder / "bench.db")

    async def work(conn: aiosqlite.Connection) -> None:
        for text, spam in rows:
            await training.learn_text(conn, text, spam)

    await store.write(work)
    return store


async def main(corpus: Path, leave_out: Sequence[str] = ()) -> None:
    sets = load(corpus, leave_out)
    print("Rules alone\n")
    print(
        "| data | comments | spam | keywords P | keywords R | keywords FP "
        "| rules P | rules R | rules FP |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rows in sets:
        spam = sum(1 for _, y in rows if y)
        floor = [(_KEYWORDS.search(normalise(t)) is not None, y) for t, y in rows]
        ruled = await scores(None, name, rows)
        print(
            f"| {name} | {len(rows)} | {spam} | {measure(floor)} | "
            f"{measure(list(zip(ruled, [y for _, y in rows], strict=True)))} |"
        )
    labelled = [(name, rows) for name, rows in sets if name != SEED]
    with tempfile.TemporaryDirectory() as tmp:
        print("\nTrained on one file, scored on the others\n")
        print("| trained on | scored on | P | R | FP |")
        print("|---|---|---:|---:|---:|")
        for number, (trained_on, training_rows) in enumerate(labelled):
            folder = Path(tmp) / f"cross{number}"
            folder.mkdir()
            store = await trained_store(folder, training_rows)
            try:
                for name, rows in sets:
                    if name == trained_on:
                        continue
                    got = await store.read(lambda c, n=name, r=rows: scores(c, n, r))  # type: ignore[misc]
                    said = list(zip(got, [y for _, y in rows], strict=True))
                    print(f"| {trained_on} | {name} | {measure(said)} |")
            finally:
                await store.close()
        print("\nSame site: trained on one half of a file, scored on the other half\n")
        print("| data | P | R | FP |")
        print("|---|---:|---:|---:|")
        for number, (name, rows) in enumerate(labelled):
            said: list[tuple[bool, bool]] = []
            for half in (0, 1):
                learn = [r for i, r in enumerate(rows) if i % 2 == half]
                test = [r for i, r in enumerate(rows) if i % 2 != half]
                folder = Path(tmp) / f"half{number}-{half}"
                folder.mkdir()
                store = await trained_store(folder, learn)
                try:
                    got = await store.read(lambda c, n=name, r=test: scores(c, n, r))  # type: ignore[misc]
                finally:
                    await store.close()
                said += zip(got, [y for _, y in test], strict=True)
            print(f"| {name} | {measure(said)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "spam")
    parser.add_argument(
        "--leave-out",
        action="append",
        default=[],
        metavar="NAME",
        help="a file (its name without .csv) neither trained on nor scored; repeatable",
    )
    args = parser.parse_args()
    known = {p.stem for p in [*args.corpus.glob("*.csv"), *(ROOT / "bench" / "data").glob("*.csv")]}
    if unknown := sorted(set(args.leave_out) - known):
        parser.error(f"--leave-out: no such file: {', '.join(unknown)}")
    asyncio.run(main(args.corpus, args.leave_out))
