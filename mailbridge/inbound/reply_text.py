"""Whether an extraction gives a comment to file, or which rejection answers instead.

A pure function of the extraction: the daemon and its tests ask the same question.
"""

from __future__ import annotations

from mailbridge.extract import Extraction
from mailbridge.extract.mime import NESTED_TOO_DEEP
from mailbridge.models import MAX_COMMENT_CHARS
from mailbridge.moderate.analysis import comment_body
from mailbridge.rejections import CommentTooLong, EmptyReply, TooShort, UnreadableStructure

__all__ = ["ExtractionFailed", "comment_text"]


class ExtractionFailed(Exception):
    """The extractor could not handle a message: a bug on our side, retried via 451."""


def comment_text(extraction: Extraction, min_chars: int, body: str | None = None) -> str:
    """The text to file, or raise the rejection that answers instead. ``body`` is
    ``comment_body(extraction.text)`` when the caller has it already (the worker
    process works it out with the reply's analysis)."""
    if not extraction.part and any(d.startswith("extraction failed") for d in extraction.defects):
        # Our bug, not the sender's mistake: answer 451 (retry later), keep the raw
        # message, and let the operator reprocess it once fixed.
        raise ExtractionFailed("; ".join(extraction.defects))
    if NESTED_TOO_DEEP in extraction.defects:
        # What is left is raw MIME boundaries, not words anyone wrote.
        raise UnreadableStructure()
    # NUL and other control characters dropped, bidi overrides too: the words stay.
    text = comment_body(extraction.text) if body is None else body
    if not text:
        raise EmptyReply()
    if len(text) < min_chars:
        raise TooShort()
    if len(text) > MAX_COMMENT_CHARS:
        raise CommentTooLong(
            f"Received, but not posted: the reply is {len(text):,} characters long; "
            f"comments can be at most {MAX_COMMENT_CHARS:,}."
        )
    return text
