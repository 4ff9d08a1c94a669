"""Read a Remark42 backup (its own export: ``backup-SITE-DATE.gz`` or uncompressed),
streaming.

The file is JSON lines: a first line of metadata (``{"version": 1, "users": [...],
"posts": [{"url", "read_only"}]}``), then one comment per line, each naming its page
(``locator.url``) and its parent (``pid``). Automatic backups are gzipped; both forms
are read. The file is read twice, a line at a time: once for the pages and a count,
once for the comments, so a large backup never sits in memory.

Remark42 keeps no commenter's address (sign-in is through OAuth), so imported
comments have none, and their writers are not emailed about answers.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from mailbridge.errors import ImportFormatError
from mailbridge.importer.records import EPOCH, SourcePost, SourceThread, dated, safe_url
from mailbridge.importer.wp_html import wordpress_to_markdown
from mailbridge.models import CommentStatus

__all__ = ["is_remark42", "read_posts", "read_threads"]

_SLUG = re.compile(r"[^a-z0-9]+")
_MAX_LINE = 10 * 1024 * 1024  # one comment per line: a longer line is not a backup's


def _open(path: Path) -> BinaryIO:
    with path.open("rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a BinaryIO
    return path.open("rb")


def is_remark42(head: bytes) -> bool:
    """Does this first line look like a Remark42 backup's metadata?"""
    first = head.split(b"\n", 1)[0]
    return (
        first.lstrip().startswith(b"{")
        and b'"version"' in first
        and (b'"users"' in first or b'"posts"' in first)
    )


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, object) for every non-empty line after the metadata."""
    try:
        with _open(path) as fh:
            meta = _decode(fh.readline(_MAX_LINE), path, 1)
            if not isinstance(meta, dict) or meta.get("version") != 1:
                version = meta.get("version") if isinstance(meta, dict) else None
                raise ImportFormatError(
                    f"{path}: not a Remark42 backup of version 1 (version {version!r})"
                )
            yield 1, meta
            for number, line in enumerate(iter(lambda: fh.readline(_MAX_LINE), b""), start=2):
                if line.strip():
                    yield number, _decode(line, path, number)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ImportFormatError(f"{path}: cannot read it: {exc}") from None


def _decode(line: bytes, path: Path, number: int) -> Any:
    if not line.endswith(b"\n") and len(line) >= _MAX_LINE:
        raise ImportFormatError(f"{path}: line {number} is longer than a comment can be")
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{path}: line {number} is not JSON: {exc}") from None


def _key(url: str) -> str:
    parts = urlsplit(url)
    last = parts.path.rstrip("/").rpartition("/")[2]
    return (_SLUG.sub("-", (last or parts.hostname or "").lower()).strip("-")[:100]) or "page"


def read_threads(path: Path) -> tuple[dict[str, SourceThread], int]:
    """Every page with comments, by URL, and how many comments follow."""
    read_only: set[str] = set()
    titles: dict[str, str] = {}
    count = 0
    for number, item in _lines(path):
        if number == 1:
            for post in item.get("posts") or []:
                if isinstance(post, dict) and post.get("read_only") is True:
                    read_only.add(str(post.get("url", "")))
            continue
        count += 1
        url = _url(item)
        if url and (url not in titles or not titles[url]):
            titles[url] = str(item.get("title") or "") if isinstance(item, dict) else ""
    found: dict[str, SourceThread] = {}
    keys: set[str] = set()
    for url, title in titles.items():
        key = _key(url)
        if key in keys:  # two pages with the same last path part: keep both apart
            key = f"{key[:80]}-{len(keys) + 1}"
        keys.add(key)
        found[url] = SourceThread(
            source_id=url, key=key, title=" ".join(title.split()) or key,
            url=safe_url(url), closed=url in read_only,
        )  # fmt: skip
    return found, count


def _url(item: Any) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("locator"), dict):
        return ""
    return str(item["locator"].get("url") or "")


def read_posts(path: Path) -> Iterator[SourcePost]:
    """The comments in file order, one at a time."""
    for number, item in _lines(path):
        if number == 1:
            continue
        if not isinstance(item, dict) or not item.get("id"):
            yield _skipped(f"line {number}", "not a comment (no id)")
            continue
        created_at, undated = dated(item.get("time"))
        user = item.get("user") if isinstance(item.get("user"), dict) else {}
        assert isinstance(user, dict)
        yield SourcePost(
            source_id=str(item["id"]),
            thread=_url(item),
            parent=str(item.get("pid") or "") or None,
            author=" ".join(str(user.get("name") or "").split()) or "Anonymous",
            email=None,
            body=wordpress_to_markdown(str(item.get("text") or "")),
            created_at=created_at,
            status=CommentStatus.APPROVED,
            skip="deleted in Remark42" if item.get("delete") is True else "",
            undated=undated,
        )


def _skipped(source_id: str, why: str) -> SourcePost:
    return SourcePost(
        source_id=source_id, thread="", parent=None, author="", email=None, body="",
        created_at=EPOCH, status=CommentStatus.APPROVED, skip=why,
    )  # fmt: skip
