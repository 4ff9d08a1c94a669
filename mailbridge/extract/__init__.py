"""Reply extraction: what the commenter wrote, from a reply email (work in progress)."""

from __future__ import annotations

from mailbridge.extract.trim import trim_text

__all__ = ["extract_reply", "trim_text"]


def extract_reply(data: str | bytes, kind: str, sender: str | None = None) -> str:
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return trim_text(data, sender)[0]
