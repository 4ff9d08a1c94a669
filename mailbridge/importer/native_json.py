"""Read mailbridge's own JSON thread format.

::

    {"post": {"key", "title", "url", "author", "email", "closed"?, ...},
     "comments": [{"id", "parent", "author", "email", "created", "body", "status"?}]}

or several threads as ``{"threads": [{"post", "comments"}, ...]}`` (what
``mailbridge export --all`` writes). ``status`` defaults to approved (an export of
published comments).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from mailbridge.errors import ImportFormatError
from mailbridge.importer.records import (
    EMPTY,
    ImportedComment,
    ImportedThread,
    kept_without_text,
    one_line,
    safe_url,
    usable_key,
    utc_date,
)
from mailbridge.models import CommentStatus

__all__ = ["read_json"]


def _str(obj: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ImportFormatError(f"{where}: '{key}' must be a string")
    return value


def _created(value: str, where: str) -> str:
    # utc_date, not fromisoformat alone: "0001-01-01T00:00:00+14:00" overflowed into
    # a traceback once in UTC.
    moment = utc_date(value)
    if moment is None:
        raise ImportFormatError(
            f"{where}: 'created' is not an ISO 8601 date from 1970 on: {value!r}"
        )
    return moment


def read_json(path: Path) -> Iterator[ImportedThread]:
    """The file's thread, or each of its ``threads`` in turn: read with ijson, so a
    file of many threads holds one thread in memory at a time."""
    try:
        with path.open("rb") as fh:
            start = 3 if fh.read(3) == b"\xef\xbb\xbf" else 0  # a byte order mark
            fh.seek(start)
            key, value = _first_key(fh)
            if key == "threads" and value != "start_array":
                # ijson finds no "threads.item" in {"threads": 5}: 0 threads, exit 0.
                raise ImportFormatError(f"{path}: 'threads' must be a list")
            if key == "threads":
                fh.seek(start)
                for index, data in enumerate(ijson.items(fh, "threads.item", use_float=True)):
                    yield _thread(data, f"{path}: threads[{index}]")
            else:
                fh.seek(start)
                for data in ijson.items(fh, "", use_float=True):
                    yield _thread(data, str(path))
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{path}: not valid JSON: {one_line(exc)}") from None


def _first_key(fh: BinaryIO) -> tuple[str | None, str | None]:
    """The top-level object's first key, and the parser's event for its value."""
    events = ijson.parse(fh)
    for prefix, event, value in events:
        if prefix == "" and event == "map_key":
            following = next(events, None)
            return str(value), None if following is None else str(following[1])
        if prefix == "" and event != "start_map":
            return None, None
    return None, None


def _thread(data: Any, path: str) -> ImportedThread:
    if not isinstance(data, dict) or not isinstance(data.get("post"), dict):
        raise ImportFormatError(f"{path}: expected an object with 'post' and 'comments'")
    post = data["post"]
    raw_comments = data.get("comments", [])
    if not isinstance(raw_comments, list):
        raise ImportFormatError(f"{path}: 'comments' must be a list")
    key = _str(post, "key", f"{path}: post")
    if not usable_key(key):
        raise ImportFormatError(
            f"{path}: post: 'key' must be one word, without spaces, / ? or #: {key!r}"
        )
    email = _str(post, "email", f"{path}: post", required=False)
    thread = ImportedThread(
        key=key,
        title=" ".join(_str(post, "title", f"{path}: post").split()) or key,
        url=safe_url(_str(post, "url", f"{path}: post", required=False)),
        author=_str(post, "author", f"{path}: post", required=False),
        author_email=email.strip() or None,  # checked by the loader
        closed=post.get("closed") is True,
    )
    for index, item in enumerate(raw_comments):
        where = f"{path}: comments[{index}]"
        if (
            not isinstance(item, dict)
            or isinstance(item.get("id"), bool)
            or not isinstance(item.get("id"), int | str)
        ):
            raise ImportFormatError(f"{where}: each comment needs an 'id'")
        parent = item.get("parent")
        status = item.get("status", "approved")
        try:
            parsed_status = CommentStatus(status)
        except ValueError:
            raise ImportFormatError(f"{where}: unknown status {status!r}") from None
        comment_email = _str(item, "email", where, required=False)
        comment = ImportedComment(
            source_id=str(item["id"]),
            parent_source_id=None if parent in (None, 0, "") else str(parent),
            author=" ".join(_str(item, "author", where).split()) or "Anonymous",
            email=comment_email.strip() or None,
            body=_str(item, "body", where).replace("\r\n", "\n").strip(),
            created_at=_created(_str(item, "created", where), where),
            status=parsed_status,
            # Absent in other tools' files: their writers are subscribed, as ever.
            notify=item.get("notify") is not False,
        )
        if comment.body or kept_without_text(comment.author, comment.email, comment.status):
            thread.comments.append(comment)
        else:  # as every other format's: said, not stored
            thread.skipped[EMPTY] = thread.skipped.get(EMPTY, 0) + 1
    return thread
