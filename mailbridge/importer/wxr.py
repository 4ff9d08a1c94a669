"""Read a WordPress eXtended RSS export (WXR 1.x), streaming, with XML attacks refused.

Only ``<item>`` posts and pages with comments become threads; pingbacks and
trackbacks are not comments and are skipped. ``comment_approved`` maps 1 to
approved, 0 to pending, spam to spam, and trash to rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

from mailbridge.errors import ImportFormatError
from mailbridge.importer.records import (
    EMPTY,
    EPOCH,
    ImportedComment,
    ImportedThread,
    kept_without_text,
    safe_url,
    usable_key,
)
from mailbridge.importer.wp_html import wordpress_to_markdown
from mailbridge.models import CommentStatus

__all__ = ["check_wellformed", "count_comments", "read_wxr"]

_WP = "{http://wordpress.org/export/1.2/}"
_WP_NAMESPACES = (
    "http://wordpress.org/export/1.2/",
    "http://wordpress.org/export/1.1/",
    "http://wordpress.org/export/1.0/",
)
_WP_DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_AUTHOR_TAGS = frozenset(f"{{{ns}}}author" for ns in _WP_NAMESPACES)
_STATUS = {
    "1": CommentStatus.APPROVED,
    "approve": CommentStatus.APPROVED,
    "0": CommentStatus.PENDING,
    "hold": CommentStatus.PENDING,
    "spam": CommentStatus.SPAM,
    "trash": CommentStatus.REJECTED,
}


def _wp(element: Any, name: str) -> str:
    for ns in _WP_NAMESPACES:
        child = element.find(f"{{{ns}}}{name}")
        if child is not None:
            return (child.text or "").strip() if name != "comment_content" else child.text or ""
    return ""


def _date(gmt: str, local: str) -> str | None:
    for value in (gmt, local):
        if value and not value.startswith("0000"):
            if not _WP_DATE.fullmatch(value):
                continue
            try:  # fromisoformat: strptime's cost showed in an import's profile
                moment = datetime.fromisoformat(value).replace(tzinfo=UTC)
            except ValueError:
                continue
            return moment.isoformat(timespec="seconds")
    return None


def _comment(element: Any) -> ImportedComment | None:
    if _wp(element, "comment_type") not in ("", "comment"):
        return None  # pingback, trackback, or a plugin's private note
    status = _STATUS.get(_wp(element, "comment_approved").lower(), CommentStatus.PENDING)
    parent = _wp(element, "comment_parent")
    email = _wp(element, "comment_author_email").strip() or None  # checked by the loader
    created_at = _date(_wp(element, "comment_date_gmt"), _wp(element, "comment_date"))
    return ImportedComment(
        source_id=_wp(element, "comment_id"),
        parent_source_id=parent if parent not in ("", "0") else None,
        author=" ".join(_wp(element, "comment_author").split()) or "Anonymous",
        email=email,
        # Stored as Markdown, like every comment: WordPress's tags become Markdown.
        body=wordpress_to_markdown(_wp(element, "comment_content").replace("\r\n", "\n").strip()),
        created_at=created_at or EPOCH,
        status=status,
        undated=created_at is None,
    )


def count_comments(path: Path) -> int:
    """About how many comments the file holds (pingbacks too), for the progress bar:
    a scan of the bytes, not a second parse."""
    tag = b"<wp:comment>"
    count, tail = 0, b""
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            data = tail + block
            count += data.count(tag)
            # Keep what could be the start of a tag cut in two, and never count twice.
            tail = data[-(len(tag) - 1) :] if not data.endswith(tag) else b""
    return count


def check_wellformed(path: Path) -> None:
    """Refuse a truncated or broken file, or one declaring entities (the XML attacks
    defusedxml also refuses), before anything is stored: expat alone, no tree, fast."""

    def forbidden(*_args: object) -> None:
        raise ImportFormatError(f"{path}: refused unsafe XML (it declares entities)")

    parser = expat.ParserCreate()
    parser.EntityDeclHandler = forbidden
    parser.UnparsedEntityDeclHandler = forbidden
    parser.ExternalEntityRefHandler = forbidden  # type: ignore[assignment]
    try:
        with path.open("rb") as fh:
            parser.ParseFile(fh)
    except expat.ExpatError as exc:
        raise ImportFormatError(f"{path}: not well-formed XML: {exc}") from None


def read_wxr(path: Path) -> Iterator[ImportedThread]:
    """Yield one thread per post or page that has comments.

    The file is checked first (:func:`check_wellformed`: broken, truncated, or declaring
    entities is refused before anything is yielded, so before anything is stored);
    then the C ElementTree parses it, several times faster than defusedxml's Python
    parser, and safe here because no entity can be declared.
    """
    check_wellformed(path)
    authors: dict[str, tuple[str, str]] = {}  # login -> (display name, email)
    wordpress = False  # WordPress's namespace declared: not just any RSS feed
    taken: set[str] = set()  # the keys of the threads yielded
    try:
        events = ElementTree.iterparse(str(path), events=("end", "start-ns"))  # noqa: S314
        for event, element in events:
            if event == "start-ns":
                wordpress = wordpress or element[1] in _WP_NAMESPACES
                continue
            tag = element.tag
            if tag == "item":
                thread = _thread(element, authors)
                post_id = _wp(element, "post_id")
                element.clear()
                if thread is not None and (thread.comments or thread.skipped):
                    if thread.key in taken:
                        # Two pages with one slug (children of different parents): kept
                        # apart, as Disqus's are, not merged into the first's thread.
                        thread.key = f"{thread.key[:80]}-{post_id or len(taken)}"
                    taken.add(thread.key)
                    yield thread
            elif tag in _AUTHOR_TAGS and element.find(f"{_WP}author_login") is not None:
                authors[_wp(element, "author_login")] = (
                    _wp(element, "author_display_name"),
                    _wp(element, "author_email"),
                )
    except SyntaxError as exc:  # ParseError is a SyntaxError
        raise ImportFormatError(f"{path}: not well-formed XML: {exc}") from None
    if not wordpress:  # nothing was yielded: a feed has no wp:comment
        raise ImportFormatError(
            f"{path}: an RSS feed, not a WordPress export (no WordPress export namespace)"
        )


def _thread(item: Any, authors: dict[str, tuple[str, str]]) -> ImportedThread | None:
    if _wp(item, "post_type") not in ("post", "page", ""):
        return None
    creator = item.findtext("{http://purl.org/dc/elements/1.1/}creator", "").strip()
    author, author_email = authors.get(creator, (creator, ""))
    # WordPress's slugs are usable keys; a file edited by hand may hold anything.
    key = next((k for k in (_wp(item, "post_name"), _wp(item, "post_id")) if usable_key(k)), "")
    if not key:
        return None
    thread = ImportedThread(
        key=key,
        # HTML in WordPress: "&amp;" is how it keeps a typed "&".
        title=" ".join(unescape(item.findtext("title") or key).split()),
        url=safe_url(item.findtext("link") or ""),
        author=author,
        author_email=author_email.strip() or None,
        closed=_wp(item, "comment_status") == "closed",
        post_id=_wp(item, "post_id"),
    )
    for ns in _WP_NAMESPACES:
        for element in item.findall(f"{{{ns}}}comment"):
            comment = _comment(element)
            if comment is None:
                why = "a pingback or trackback"
            elif comment.body or kept_without_text(comment.author, comment.email, comment.status):
                why = ""
            else:
                why = EMPTY
            if why:  # counted: the summary says what was not imported
                thread.skipped[why] = thread.skipped.get(why, 0) + 1
            else:
                assert comment is not None
                thread.comments.append(comment)
    return thread
