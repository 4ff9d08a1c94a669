"""Read a WordPress eXtended RSS export (WXR 1.x), streaming, with XML attacks refused.

Only ``<item>`` posts and pages with comments become threads; pingbacks and
trackbacks are not comments and are skipped. ``comment_approved`` maps 1 to
approved, 0 to pending, spam to spam, and trash to rejected.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from mailbridge.errors import ImportFormatError
from mailbridge.importer.records import ImportedComment, ImportedThread, safe_url
from mailbridge.importer.wp_html import wordpress_to_markdown
from mailbridge.models import CommentStatus

__all__ = ["read_wxr"]

_WP = "{http://wordpress.org/export/1.2/}"
_WP_NAMESPACES = (
    "http://wordpress.org/export/1.2/",
    "http://wordpress.org/export/1.1/",
    "http://wordpress.org/export/1.0/",
)
_STATUS = {
    "1": CommentStatus.APPROVED,
    "approve": CommentStatus.APPROVED,
    "0": CommentStatus.PENDING,
    "hold": CommentStatus.PENDING,
    "spam": CommentStatus.SPAM,
    "trash": CommentStatus.REJECTED,
}


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _wp(element: Any, name: str) -> str:
    for ns in _WP_NAMESPACES:
        child = element.find(f"{{{ns}}}{name}")
        if child is not None:
            return (child.text or "").strip() if name != "comment_content" else child.text or ""
    return ""


def _date(gmt: str, local: str) -> str:
    for value in (gmt, local):
        if value and not value.startswith("0000"):
            try:
                moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                continue
            return moment.isoformat(timespec="seconds")
    return datetime(1970, 1, 1, tzinfo=UTC).isoformat(timespec="seconds")


def _comment(element: Any) -> ImportedComment | None:
    if _wp(element, "comment_type") not in ("", "comment"):
        return None  # pingback, trackback, or a plugin's private note
    status = _STATUS.get(_wp(element, "comment_approved").lower(), CommentStatus.PENDING)
    parent = _wp(element, "comment_parent")
    email = _wp(element, "comment_author_email").strip() or None  # checked by the loader
    return ImportedComment(
        source_id=_wp(element, "comment_id"),
        parent_source_id=parent if parent not in ("", "0") else None,
        author=" ".join(_wp(element, "comment_author").split()) or "Anonymous",
        email=email,
        # Stored as Markdown, like every comment: WordPress's tags become Markdown.
        body=wordpress_to_markdown(_wp(element, "comment_content").replace("\r\n", "\n").strip()),
        created_at=_date(_wp(element, "comment_date_gmt"), _wp(element, "comment_date")),
        status=status,
    )


def read_wxr(path: Path) -> Iterator[ImportedThread]:
    """Yield one thread per post or page that has comments."""
    authors: dict[str, tuple[str, str]] = {}  # login -> (display name, email)
    try:
        for _event, element in iterparse(str(path), events=("end",)):
            ns, name = _local(element.tag)
            if (
                ns in _WP_NAMESPACES
                and name == "author"
                and element.find(f"{_WP}author_login") is not None
            ):
                authors[_wp(element, "author_login")] = (
                    _wp(element, "author_display_name"),
                    _wp(element, "author_email"),
                )
            elif name == "item" and not ns:
                thread = _thread(element, authors)
                element.clear()
                if thread is not None and thread.comments:
                    yield thread
    except DefusedXmlException as exc:
        raise ImportFormatError(f"{path}: refused unsafe XML ({exc})") from None
    except SyntaxError as exc:  # ParseError is a SyntaxError
        raise ImportFormatError(f"{path}: not well-formed XML: {exc}") from None


def _thread(item: Any, authors: dict[str, tuple[str, str]]) -> ImportedThread | None:
    if _wp(item, "post_type") not in ("post", "page", ""):
        return None
    creator = item.findtext("{http://purl.org/dc/elements/1.1/}creator", "").strip()
    author, author_email = authors.get(creator, (creator, ""))
    key = _wp(item, "post_name") or _wp(item, "post_id")
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
    )
    for ns in _WP_NAMESPACES:
        for element in item.findall(f"{{{ns}}}comment"):
            comment = _comment(element)
            if comment is not None and comment.body:
                thread.comments.append(comment)
    return thread
