"""What an import file holds, independent of its format; format detection."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailbridge.errors import ImportFormatError
from mailbridge.models import CommentStatus

__all__ = ["ImportedComment", "ImportedThread", "detect_format", "safe_url"]


@dataclass(frozen=True)
class ImportedComment:
    source_id: str  # the id in the source file; parent refers to it
    parent_source_id: str | None
    author: str
    email: str | None
    body: str
    created_at: str  # ISO 8601 UTC
    status: CommentStatus


@dataclass
class ImportedThread:
    key: str
    title: str
    url: str
    author: str
    author_email: str | None
    comments: list[ImportedComment] = field(default_factory=list)
    closed: bool = False  # closed to new comments


def safe_url(url: str) -> str:
    """Keep only http(s) links: an export could carry javascript: or data: URLs."""
    url = url.strip()
    return url if url.lower().startswith(("http://", "https://")) else ""


def detect_format(path: Path) -> str:
    """'wxr', 'disqus' or 'json', from the first meaningful bytes of the file."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        if b"<disqus" in head:
            return "disqus"
        if b"<rss" in head or b"<?xml" in head:
            return "wxr"
    elif text.startswith(b"{"):
        return "json"
    raise ImportFormatError(
        f"{path}: not a WordPress export (WXR XML), a Disqus export or a mailbridge JSON file"
    )
