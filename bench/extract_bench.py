#!/usr/bin/env python3
"""Benchmark: mailbridge's reply extractor against the libraries users would pick.

Scores, in one run and one process, mailbridge (``mailbridge.extract.extract_reply``)
and the baselines whose adapters live in ``shared/tools/baselines/``:

* ``talon``              -- PyPI talon 1.4.4: quotations + bruteforce signature;
* ``email-reply-parser`` -- PyPI email-reply-parser 0.5.12 (Zapier's port of GitHub's);
* ``mail-parser-reply``  -- PyPI mail-parser-reply 1.36 (``replies[0].body``, all languages);
* ``identity``           -- the floor: the whole body, unchanged.

on the external corpus (``shared/corpus/replies``: manifest + html, exact;
checks.jsonl, pass rate; optionally synthetic.jsonl) and on the whole-message
corpus (``shared/corpus/replies-real``), per source and overall, with the same
normalisation and comparison as ``shared/tools/score_replies.py`` (imported from
there).  Then it measures speed: whole messages per second, in process, MIME
parsing included, on the corpus messages under 20 KB (the same bytes for every
library; the baselines' adapters parse with the standard library's compat32).

The baselines are installed only in a separate virtualenv, never in mailbridge's:

    python3 -m venv /work/bench-venv
    /work/bench-venv/bin/pip install -r bench/requirements-baselines.txt
    /work/bench-venv/bin/python bench/extract_bench.py

(``requirements-baselines.txt`` also lists mailbridge's extraction dependencies,
so the one venv runs everything.)  talon 1.4.4 installs on Python 3.11 with
current lxml, regex, cchardet, cssselect and html5lib; its ML signature model
needs scikit-learn < 0.22 and is not used (the adapter says why).

Bounded: every case runs once per library for the scores, and the speed loop
stops after ``--seconds`` per library (default 2).  A library that is not
installed is reported as such and skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import json
import logging
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared"
POLICY = REPO / "bench" / "data" / "extract_policy.jsonl"

Extractor = Callable[..., str]

# library name -> (adapter module in shared/tools/baselines, function, its own corpus source)
BASELINES = {
    "talon": ("talon_baseline", "extract", "mailgun/talon"),
    "email-reply-parser": ("zapier_erp", "extract", "zapier/email-reply-parser"),
    "mail-parser-reply": ("mail_parser_reply", "extract", "alfonsrv/mail-parser-reply"),
    "identity": ("identity", "extract", None),
}


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_extractors(shared: Path, only: list[str] | None) -> tuple[dict[str, Extractor], list[str]]:
    sys.path.insert(0, str(REPO))
    from mailbridge.extract import extract_reply

    found: dict[str, Extractor] = {"mailbridge": extract_reply}
    missing: list[str] = []
    sys.path.insert(0, str(shared / "tools" / "baselines"))
    for name, (module, func, _own) in BASELINES.items():
        if only and name not in only:
            continue
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                found[name] = getattr(importlib.import_module(module), func)
        except ImportError as exc:
            missing.append(f"{name} ({exc})")
    return found, missing


def load_cases(
    scorer: ModuleType, corpus: Path, manifests: list[str], checks: list[str], no_conflicts: bool
) -> list[dict[str, Any]]:
    args = SimpleNamespace(
        source=None, kind=None, id=None, tag=None, exclude_tag=None, exclude_conflicts=no_conflicts
    )
    cases: list[dict[str, Any]] = scorer.load_cases(str(corpus), manifests, checks, args)
    return cases


def policy_ids(path: Path) -> dict[str, str]:
    """Case id -> the rule its expectation contradicts (bench/data)."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            out[entry["id"]] = entry["rule"]
    return out


def run_case(fn: Extractor, case: dict[str, Any]) -> str:
    data = (
        case["_input"] if case["kind"] == "message" else case["_input"].decode("utf-8", "replace")
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fn.__module__.startswith("mailbridge") and case.get("sender"):
                out = fn(data, case["kind"], case["sender"])
            else:
                out = fn(data, case["kind"])
    except Exception as exc:  # a baseline's crash is scored as a wrong answer
        return f"<error {type(exc).__name__}>"
    if isinstance(out, bytes):  # talon sometimes answers bytes; the scorer decodes them too
        out = out.decode("utf-8", "replace")
    return out or ""


def score(
    scorer: ModuleType, fns: dict[str, Extractor], cases: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {}
    for name, fn in fns.items():
        rows = []
        for case in cases:
            row = scorer.evaluate(case, run_case(fn, case))
            row.update(source=case["source"], type=case["_type"], id=case["id"])
            rows.append(row)
        results[name] = rows
    return results


def _rate(rows: list[dict[str, Any]], kind: str) -> tuple[int, float | None]:
    picked = [r for r in rows if r["type"] == kind]
    if not picked:
        return 0, None
    key = "exact" if kind == "exact" else "pass"
    return len(picked), sum(bool(r[key]) for r in picked) / len(picked)


def table(title: str, results: dict[str, list[dict[str, Any]]], kind: str) -> str:
    names = list(results)
    sources = sorted({r["source"] for r in next(iter(results.values())) if r["type"] == kind})
    if not sources:
        return ""
    lines = [
        f"### {title}",
        "",
        "| source | n | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]

    def row(label: str, keep: Callable[[dict[str, Any]], bool]) -> None:
        cells = []
        n = 0
        for name in names:
            n, rate = _rate([r for r in results[name] if keep(r)], kind)
            cells.append("-" if rate is None else f"{rate:.3f}")
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")

    for source in sources:
        row(source, lambda r, s=source: r["source"] == s)
    row("**ALL**", lambda r: True)
    if kind == "exact":
        # Each library on everything except its own test suite (home advantage).
        cells = []
        for name in names:
            own = BASELINES.get(name, (None, None, None))[2]
            _n, rate = _rate([r for r in results[name] if r["source"] != own], kind)
            cells.append("-" if rate is None else f"{rate:.3f}")
        lines.append("| ALL except the library's own source | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed(fns: dict[str, Extractor], messages: list[bytes], seconds: float) -> list[str]:
    median_kb = statistics.median(map(len, messages)) / 1024
    lines = [
        "### Speed (whole messages, in process, MIME parsing included)",
        "",
        f"{len(messages)} messages under 20 KB (median {median_kb:.1f} KB); "
        f"each library runs over them until {seconds:g} s have passed.",
        "",
        "| library | messages/s | ms/message |",
        "|---|---:|---:|",
    ]
    for name, fn in fns.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for raw in messages[:5]:  # warm-up (imports, regex caches)
                with contextlib.suppress(Exception):
                    fn(raw, "message")
            done = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                for raw in messages:
                    with contextlib.suppress(Exception):
                        fn(raw, "message")
                done += len(messages)
            elapsed = time.perf_counter() - start
        lines.append(f"| {name} | {done / elapsed:,.0f} | {1000 * elapsed / done:.3f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help="the shared/ folder holding corpus/ and tools/ (default: %(default)s)",
    )
    ap.add_argument("--synthetic", action="store_true", help="also score synthetic.jsonl")
    ap.add_argument("--only", action="append", help="only this baseline (repeatable)")
    ap.add_argument("--seconds", type=float, default=2.0, help="speed loop per library (default 2)")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument(
        "--exclude-conflicts",
        action="store_true",
        help="drop the cases whose input another source expects differently",
    )
    ap.add_argument(
        "--exclude-policy",
        action="store_true",
        help="also drop the cases whose expectation contradicts a rule of mailbridge's "
        "(listed with the rule in bench/data/extract_policy.jsonl)",
    )
    ap.add_argument(
        "--messages",
        type=Path,
        default=REPO / "tests" / "fixtures" / "emails",
        help="also time these .eml files (default: mailbridge's own fixtures)",
    )
    args = ap.parse_args(argv)

    shared = args.shared.resolve()
    logging.disable(logging.CRITICAL)  # talon logs every signature it fails to parse
    scorer = _load_module(shared / "tools" / "score_replies.py", "score_replies")
    fns, missing = load_extractors(shared, args.only)
    replies = shared / "corpus" / "replies"
    real = shared / "corpus" / "replies-real"

    out = [f"Python {sys.version.split()[0]}; corpus {shared / 'corpus'}", ""]
    if missing:
        out += ["Not installed (skipped): " + "; ".join(missing), ""]

    nc = args.exclude_conflicts
    policy = policy_ids(POLICY) if args.exclude_policy else {}
    if policy:
        out += [f"Without {len(policy)} cases that contradict a rule ({POLICY.name}).", ""]
    cases = load_cases(scorer, replies, ["manifest.jsonl", "html.jsonl"], ["checks.jsonl"], nc)
    cases = [c for c in cases if c["id"] not in policy]
    results = score(scorer, fns, cases)
    out += [table("Exact matches: shared/corpus/replies (manifest + html)", results, "exact"), ""]
    out += [table("Containment checks: shared/corpus/replies/checks.jsonl", results, "checks"), ""]
    if args.synthetic:
        syn = load_cases(scorer, replies, ["synthetic.jsonl"], [], nc)
        out += [table("Exact matches: synthetic.jsonl", score(scorer, fns, syn), "exact"), ""]
    messages: list[bytes] = []
    if (real / "manifest.jsonl").exists():
        real_cases = load_cases(scorer, real, ["manifest.jsonl"], [], nc)
        real_cases = [c for c in real_cases if c["id"] not in policy]
        out += [
            table(
                "Exact matches: shared/corpus/replies-real (whole messages)",
                score(scorer, fns, real_cases),
                "exact",
            ),
            "",
        ]
        messages += [c["_input"] for c in real_cases]
    messages += [c["_input"] for c in cases if c["kind"] == "message"]
    if args.messages.is_dir():
        messages += [p.read_bytes() for p in sorted(args.messages.glob("*.eml"))]
    messages = list(dict.fromkeys(m for m in messages if len(m) < 20 * 1024))
    if not args.no_speed and messages:
        out += speed(fns, messages, args.seconds)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
