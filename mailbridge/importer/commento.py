"""Read a Commento (or Commento++) JSON export, streaming, with ijson.

The export is one JSON object: ``comments`` (each naming its page ``url``, its
``parentHex`` or "root", its ``commenterHex``) and then ``commenters`` (names and
addresses). Since the names come after the comments, the file is read twice: once
for the commenters and the pages (small), once for the comments, one at a time.
ijson parses the file incrementally (the standard library can only load it whole).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson

from mailbridge.errors import ImportFormatError
from mailbridge.importer.records import SourcePost, SourceThread, dated, one_line
from mailbridge.models import CommentStatus

__all__ = ["read_posts", "read_threads"]

_SLUG = re.compile(r"[^a-z0-9]+")
_STATES = {"approved": CommentStatus.APPROVED, "unapproved": CommentStatus.PENDING,
           "flagged": CommentStatus.PENDING}  # fmt: skip


def _items(path: Path, prefix: str) -> Iterator[dict[str, Any]]:
    try:
        with path.open("rb") as fh:
            if fh.read(3) != b"\xef\xbb\xbf":  # a byte order mark: not JSON, but harmless
                fh.seek(0)
            for item in ijson.items(fh, prefix):
                if isinstance(item, dict):
                    yield item
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{path}: not valid JSON: {one_line(exc)}") from None


def _commenters(path: Path) -> dict[str, tuple[str, str | None]]:
    return {
        str(c.get("commenterHex")): (
            " ".join(str(c.get("name") or "").split()) or "Anonymous",
            str(c.get("email") or "").strip() or None,
        )
        for c in _items(path, "commenters.item")
    }


def read_threads(path: Path) -> tuple[dict[str, SourceThread], int]:
    """A thread per page (its url), and how many comments follow."""
    found: dict[str, SourceThread] = {}
    taken: set[str] = set()
    total = 0
    for comment in _items(path, "comments.item"):
        total += 1
        url = str(comment.get("url") or "")
        if url in found:
            continue
        slug = _SLUG.sub("-", url.split("?")[0].rstrip("/").rpartition("/")[2].lower())
        key = slug.strip("-")[:90].strip("-") or "commento-page"
        if key in taken:
            key = f"{key}-{len(found) + 1}"
        taken.add(key)
        domain = str(comment.get("domain") or "")
        link = f"https://{domain}{url}" if domain and url.startswith("/") else ""
        found[url] = SourceThread(source_id=url, key=key, title=key, url=link)
    return found, total


def read_posts(path: Path) -> Iterator[SourcePost]:
    people = _commenters(path)
    for comment in _items(path, "comments.item"):
        parent = str(comment.get("parentHex") or "root")
        author, email = people.get(str(comment.get("commenterHex")), ("Anonymous", None))
        created_at, undated = dated(comment.get("creationDate"))
        yield SourcePost(
            source_id=str(comment.get("commentHex") or ""),
            thread=str(comment.get("url") or ""),
            parent=None if parent == "root" else parent,
            author=author,
            email=email,
            body=str(comment.get("markdown") or "").replace("\r\n", "\n").strip(),
            created_at=created_at,
            status=_STATES.get(str(comment.get("state")), CommentStatus.PENDING),
            skip="deleted in Commento" if comment.get("deleted") is True else "",
            undated=undated,
        )
