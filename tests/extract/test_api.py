"""The public surface the daemon relies on."""

from __future__ import annotations

import dataclasses

import pytest

import mailbridge.extract as api
from mailbridge.extract import Attachment, Extraction, extract, extract_reply


def test_public_names() -> None:
    assert set(api.__all__) == {
        "Attachment",
        "Extraction",
        "Extractor",
        "extract",
        "extract_reply",
        "html_to_reply_text",
        "trim_text",
    }
    for name in api.__all__:
        assert getattr(api, name) is not None


def test_results_are_frozen() -> None:
    result = extract(b"From: a@example.org\n\nHello")
    assert result == Extraction(text="Hello", part="text/plain", charset="ascii")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.text = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Attachment("a.png", "image/png", 1).size = 2  # type: ignore[misc]


def test_empty_and_garbage_input() -> None:
    assert extract(b"").text == ""
    assert extract(b"\x00\xff" * 100).part in ("", "text/plain")


def test_extract_reply_kinds() -> None:
    assert extract_reply("Hi\n\n> old", "body") == "Hi"
    # A bare blockquote, no attribution: the writer's own quote (issue 13); a client's is cut.
    assert extract_reply("<p>Hi</p><blockquote>old</blockquote>", "html") == "Hi\n\n> old"
    cite = "<p>Hi</p><blockquote type='cite'>old</blockquote>"
    assert extract_reply(cite, "html") == "Hi"
    attributed = (
        "<p>Hi</p><div>On Tue, 3 Mar 2026 at 17:02 Ann wrote:</div><blockquote>old</blockquote>"
    )
    assert extract_reply(attributed, "html") == "Hi"
    assert extract_reply(b"From: a@example.org\n\nHi\n\n> old", "message") == "Hi"
    assert (
        extract_reply("Hi\n\nAnn Smith\nCEO, Example", "body", "Ann Smith <a@example.org>") == "Hi"
    )
