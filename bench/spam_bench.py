#!/usr/bin/env python3
"""Benchmark: the spam rules on labelled comments, against a five-keyword baseline.

For each file of ../shared/corpus/spam (the YouTube Spam Collection: 1,138 labelled
comments) and the sample thread's 243 blog comments (all ham), prints precision,
recall and false positives of:

* ``keywords`` -- the floor: spam when the text holds a link or one of "check out",
  "subscribe", "http", "www" (five keywords);
* ``rules``    -- mailbridge.spam.rules at spam.threshold (0.5), rules alone.

The rules were written looking at Youtube01-Psy only; the other two files and the
sample thread were not used to write or tune them. The same scores come out of
``mailbridge spam score`` (JSON lines), which runs the same function.

    .venv/bin/python bench/spam_bench.py [--corpus ../shared/corpus/spam]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

from mailbridge.spam.rules import normalise, rule_score

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.5
_KEYWORDS = re.compile(r"(?i)https?://|www\.|\.com\b|check out|subscribe")


def keywords(text: str) -> bool:
    return _KEYWORDS.search(normalise(text)) is not None


def rules(text: str) -> bool:
    return rule_score(text).score >= THRESHOLD


def measure(rows: list[tuple[str, bool]], flag: object) -> tuple[str, str, int]:
    assert callable(flag)
    said = [(bool(flag(text)), is_spam) for text, is_spam in rows]
    tp = sum(1 for s, y in said if s and y)
    fp = sum(1 for s, y in said if s and not y)
    spam = sum(1 for _, y in said if y)
    precision = f"{tp / (tp + fp):.3f}" if tp + fp else "-"
    recall = f"{tp / spam:.3f}" if spam else "-"
    return precision, recall, fp


def main(corpus: Path) -> None:
    sets: list[tuple[str, list[tuple[str, bool]]]] = []
    for path in sorted(corpus.glob("*.csv")):
        with path.open(encoding="utf-8") as handle:
            rows = [(r["CONTENT"], r["CLASS"] == "1") for r in csv.DictReader(handle)]
        sets.append((path.stem, rows))
    seed = json.loads((ROOT / "examples" / "thread.json").read_text())["comments"]
    sets.append(("sample thread (ham)", [(c["body"], False) for c in seed]))
    print(
        "| data | comments | spam | keywords P | keywords R | keywords FP "
        "| rules P | rules R | rules FP |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rows in sets:
        kp, kr, kf = measure(rows, keywords)
        rp, rr, rf = measure(rows, rules)
        spam = sum(1 for _, y in rows if y)
        print(f"| {name} | {len(rows)} | {spam} | {kp} | {kr} | {kf} | {rp} | {rr} | {rf} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "spam")
    main(parser.parse_args().corpus)
