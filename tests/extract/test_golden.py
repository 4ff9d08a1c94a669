"""Golden files: hand-written messages and trim cases, each with its expected text."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbridge.extract import extract, trim_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRIM = FIXTURES / "trim"
EMAILS = FIXTURES / "emails"


def _names(folder: Path, suffix: str) -> set[str]:
    return {p.name[: -len(suffix)] for p in folder.glob(f"*{suffix}")}


def test_trim_dirs_match_one_to_one() -> None:
    inputs = _names(TRIM / "input", ".txt")
    assert inputs, "no trim fixtures found"
    assert inputs == _names(TRIM / "expected", ".txt")
    assert inputs == _names(TRIM / "elided", ".txt")


def test_every_eml_has_its_expected_text() -> None:
    emls = _names(EMAILS, ".eml")
    assert emls, "no .eml fixtures found"
    assert emls == _names(EMAILS, ".txt")


@pytest.mark.parametrize("name", sorted(_names(TRIM / "input", ".txt")))
def test_trim_golden(name: str) -> None:
    text = (TRIM / "input" / f"{name}.txt").read_text(encoding="utf-8")
    kept, elided = trim_text(text)
    assert kept == (TRIM / "expected" / f"{name}.txt").read_text(encoding="utf-8").strip("\n")
    assert elided == (TRIM / "elided" / f"{name}.txt").read_text(encoding="utf-8").strip("\n")


@pytest.mark.parametrize("name", sorted(_names(EMAILS, ".eml")))
def test_email_golden(name: str) -> None:
    result = extract((EMAILS / f"{name}.eml").read_bytes())
    assert result.text == (EMAILS / f"{name}.txt").read_text(encoding="utf-8").strip("\n")
