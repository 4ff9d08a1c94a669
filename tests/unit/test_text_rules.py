"""Names and bodies: every script and emoji allowed, what can spoof refused (issue 8, finding 7)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbridge.text_rules import (
    MAX_COMBINING,
    TextRefused,
    check_body,
    check_name,
    strip_spoofing,
)

ALLOWED_NAMES = [
    "مهدی\u200cزاده",  # Persian: a zero-width non-joiner inside the name
    "नमस्\u200dते",  # Devanagari with a zero-width joiner
    "👨\u200d👩\u200d👧\u200d👦 family",  # an emoji family (ZWJ sequence)
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f Jo",  # tag characters
    "❤\ufe0f Ann",  # a variation selector
    "Nguyễn Thị Minh Khai",  # stacked Vietnamese marks
    "\u200fשרה\u200f",  # right-to-left marks (not overrides)
    "Zoë",
]


@pytest.mark.parametrize("name", ALLOWED_NAMES)
def test_real_names_in_every_script_are_allowed(name: str) -> None:
    check_name(name)
    check_body(name)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("Ann\u202egnp.exe", "direction control (U+202E RIGHT-TO-LEFT OVERRIDE)"),
        ("\u2067admin\u2069", "direction control (U+2067 RIGHT-TO-LEFT ISOLATE)"),
        ("\u200b\u200c\u200d", "must contain visible characters"),
        ("\u3000 \u200b", "must contain visible characters"),
        ("Z" + "\u0301" * 30, f"more than {MAX_COMBINING} combining marks"),
        ("Ann\nBob", "one line of text"),
        ("Ann\u2028Bob", "one line of text"),
        ("Ann\x00", "one line of text"),
    ],
)
def test_names_that_can_spoof_are_refused_with_the_reason(name: str, says: str) -> None:
    with pytest.raises(TextRefused) as refused:
        check_name(name)
    assert says in refused.value.reason


def test_bodies_keep_lines_and_tabs_but_not_overrides_or_controls() -> None:
    check_body("first line\n\tindented\n")
    with pytest.raises(TextRefused, match="direction control"):
        check_body("see \u202dthis\u202c")
    with pytest.raises(TextRefused, match="control character"):
        check_body("a\x07bell")
    with pytest.raises(TextRefused, match="combining marks"):
        check_body("ok " + "e" + "\u0300\u0301\u0302" * 5)


def test_strip_spoofing_keeps_every_word() -> None:
    assert strip_spoofing("Ann\u202egnp.exe") == "Anngnp.exe"
    assert strip_spoofing("Z" + "\u0301" * 30) == "Z" + "\u0301" * MAX_COMBINING
    assert strip_spoofing("مهدی\u200cزاده") == "مهدی\u200cزاده"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_checked_names_hold_no_override_and_something_visible(name: str) -> None:
    try:
        check_name(name)
    except TextRefused:
        return
    assert not any(ch in name for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "\n" not in name
    assert name.strip("\u200b\u200c\u200d\ufeff \u3000")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_stripped_text_always_passes_the_spoof_checks(text: str) -> None:
    cleaned = strip_spoofing(text)
    if any(not (ch.isprintable() or ch in "\n\t") for ch in cleaned):
        return  # control characters are a different rule
    if not cleaned.strip() or all(not ch.isprintable() or ch.isspace() for ch in cleaned):
        return
    try:
        check_body(cleaned)
    except TextRefused as exc:
        assert "visible" in exc.reason


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=80))
def test_strip_spoofing_on_ascii_drops_exactly_the_controls(text: str) -> None:
    # ASCII text takes a fast path: it must drop what the letter-by-letter rule drops.
    expected = "".join(
        ch
        for ch in text.replace("\r\n", "\n").replace("\r", "\n")
        if ch in "\n\t" or not (ord(ch) < 0x20 or ord(ch) == 0x7F)
    )
    assert strip_spoofing(text) == expected
    assert strip_spoofing(text + "é") == expected + "é"  # and the slow path agrees
