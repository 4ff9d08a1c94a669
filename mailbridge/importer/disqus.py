"""Read a Disqus export (XML), streaming, with XML attacks refused.

A Disqus export lists every ``<thread>`` first and then every ``<post>``, each post
naming its thread (and its parent post) by ``dsq:id``. The file is read twice: once
for the threads (small) and a count of the posts, once for the posts themselves,
which are handed on one by one, so a 500 MB export never sits in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from mailbridge.errors import ImportFormatError
from mailbridge.importer.records import SourcePost, SourceThread, dated, safe_url
from mailbridge.importer.wp_html import wordpress_to_markdown
from mailbridge.models import CommentStatus

__all__ = ["read_posts", "read_threads"]

_NS = "{http://disqus.com}"
_DSQ_ID = "{http://disqus.com/disqus-internals}id"
_SLUG = re.compile(r"[^a-z0-9]+")


def _text(element: Any, name: str) -> str:
    return (element.findtext(f"{_NS}{name}") or "").strip()


def _ref(element: Any, name: str) -> str | None:
    child = element.find(f"{_NS}{name}")
    return None if child is None else child.get(_DSQ_ID)


def _slug(value: str) -> str:
    return _SLUG.sub("-", value.lower()).strip("-")[:100].strip("-")


def _key(element: Any, dsq_id: str) -> str:
    """The thread's key: from its identifier, else its page's path, else its id."""
    identifier = _slug(_text(element, "id"))
    path = _slug(urlsplit(_text(element, "link")).path.rstrip("/").rpartition("/")[2])
    return identifier or path or f"disqus-{_slug(dsq_id)}"


def _events(path: Path) -> Iterator[Any]:
    """The root's children (threads, posts, categories), each once complete; each is
    dropped from the tree once handed on, so memory holds one at a time, whatever the
    file's size."""
    root = None
    depth = 0
    try:
        for event, element in iterparse(str(path), events=("start", "end")):
            if event == "start":
                if root is None:
                    root = element
                depth += 1
                continue
            depth -= 1
            if depth == 1 and root is not None:
                yield element
                root.clear()
    except DefusedXmlException as exc:
        raise ImportFormatError(f"{path}: refused unsafe XML ({exc})") from None
    except SyntaxError as exc:  # ParseError is a SyntaxError
        raise ImportFormatError(f"{path}: not well-formed XML: {exc}") from None


def read_threads(path: Path) -> tuple[dict[str, SourceThread], int]:
    """Every thread with a page or an identifier, by dsq:id, and how many posts follow."""
    found: dict[str, SourceThread] = {}
    keys: set[str] = set()
    posts = 0
    for element in _events(path):
        if element.tag == f"{_NS}post":
            posts += 1
        elif element.tag == f"{_NS}thread" and element.get(_DSQ_ID):
            dsq_id = str(element.get(_DSQ_ID))
            if _text(element, "id") or _text(element, "link"):
                key = _key(element, dsq_id)
                if key in keys:  # two pages with the same slug: keep both apart
                    key = f"{key[:80]}-{_slug(dsq_id)}"
                keys.add(key)
                found[dsq_id] = SourceThread(
                    source_id=dsq_id,
                    key=key,
                    title=" ".join(_text(element, "title").split()) or key,
                    url=safe_url(_text(element, "link")),
                    closed=_text(element, "isClosed") == "true",
                )
    return found, posts


def read_posts(path: Path) -> Iterator[SourcePost]:
    """The posts in file order, one at a time."""
    for element in _events(path):
        if element.tag != f"{_NS}post":
            continue
        author = element.find(f"{_NS}author")
        name = email = ""
        if author is not None:
            name = " ".join(_text(author, "name").split()) or _text(author, "username")
            email = _text(author, "email")
        deleted = _text(element, "isDeleted") == "true"
        spam = _text(element, "isSpam") == "true"
        # Not in every export; Disqus's API and mailbridge export write it for a
        # comment still waiting for a moderator.
        waiting = _text(element, "isApproved") == "false"
        status = CommentStatus.APPROVED
        if deleted:  # deleted by a moderator: kept, off the page, as a rejected comment
            status = CommentStatus.REJECTED
        elif spam:
            status = CommentStatus.SPAM
        elif waiting:
            status = CommentStatus.PENDING
        created_at, undated = dated(_text(element, "createdAt"))
        yield SourcePost(
            source_id=str(element.get(_DSQ_ID) or ""),
            thread=_ref(element, "thread") or "",
            parent=_ref(element, "parent"),
            author=name or "Anonymous",
            email=email or None,
            body=wordpress_to_markdown(_text(element, "message")),
            created_at=created_at,
            status=status,
            undated=undated,
        )
