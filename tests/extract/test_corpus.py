"""Scores on the shared external corpus (skipped when ../shared is not there).

The corpus is other projects' data under their licences: it is read in place,
never copied here, and scored with the shared scorer's own loading and
comparison (``shared/tools/score_replies.py``).  The thresholds are the issue's
targets, so a regression under them fails CI; the per-source table comes from
``bench/extract_bench.py``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from mailbridge.extract import extract_reply

SHARED = Path(__file__).resolve().parents[3] / "shared"
REPLIES = SHARED / "corpus" / "replies"
REAL = SHARED / "corpus" / "replies-real"
SCORER = SHARED / "tools" / "score_replies.py"
# The cases whose expectation contradicts one of issue 13's rules, each with the rule.
POLICY = Path(__file__).resolve().parents[2] / "bench" / "data" / "extract_policy.jsonl"

pytestmark = pytest.mark.skipif(
    not (REPLIES / "manifest.jsonl").exists() or not SCORER.exists(),
    reason="shared corpus not available",
)


def _scorer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("score_replies", SCORER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _policy_ids() -> set[str]:
    lines = POLICY.read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["id"] for line in lines if line.strip()}


def _exact_rate(corpus: Path, manifests: list[str], issue_13_rules: bool = False) -> float:
    """The exact rate; with ``issue_13_rules``, as issue 13 measures it: without the
    corpus's same-input conflicts and the cases that contradict the issue's rules."""
    scorer = _scorer()
    args = SimpleNamespace(
        source=None,
        kind=None,
        id=None,
        tag=None,
        exclude_tag=None,
        exclude_conflicts=issue_13_rules,
    )
    cases = scorer.load_cases(str(corpus), manifests, [], args)
    if issue_13_rules:
        cases = [c for c in cases if c["id"] not in _policy_ids()]
    hits = 0
    for case in cases:
        raw = case["_input"]
        data = raw if case["kind"] == "message" else raw.decode("utf-8", "replace")
        hits += scorer.evaluate(case, extract_reply(data, case["kind"], case.get("sender")))[
            "exact"
        ]
    return hits / len(cases)


def test_external_corpus_exact_rate() -> None:
    assert _exact_rate(REPLIES, ["manifest.jsonl", "html.jsonl"]) >= 0.94


def test_issue_13_targets() -> None:
    assert _exact_rate(REPLIES, ["manifest.jsonl", "html.jsonl"], issue_13_rules=True) >= 0.96
    if (REAL / "manifest.jsonl").exists():
        assert _exact_rate(REAL, ["manifest.jsonl"], issue_13_rules=True) >= 0.95


def test_the_policy_list_names_only_cases_that_exist() -> None:
    scorer = _scorer()
    args = SimpleNamespace(
        source=None, kind=None, id=None, tag=None, exclude_tag=None, exclude_conflicts=False
    )
    known = {
        c["id"]
        for corpus, manifests in (
            (REPLIES, ["manifest.jsonl", "html.jsonl"]),
            (REAL, ["manifest.jsonl"]),
        )
        if (corpus / manifests[0]).exists()
        for c in scorer.load_cases(str(corpus), manifests, [], args)
    }
    assert _policy_ids() <= known


def test_synthetic_corpus_exact_rate() -> None:
    # A regression guard, not a target: web-ridge's recipe strips closing
    # salutations and "-Name" sign-offs and treats an attribution above unquoted
    # text as no quote, all of which mailbridge deliberately does not
    # (docs/extraction.md); keeping "-Ann" (issue 13) took it from 0.70 to 0.66.
    assert _exact_rate(REPLIES, ["synthetic.jsonl"]) >= 0.65


@pytest.mark.skipif(not (REAL / "manifest.jsonl").exists(), reason="no replies-real corpus")
def test_real_messages_exact_rate() -> None:
    assert _exact_rate(REAL, ["manifest.jsonl"]) >= 0.88
