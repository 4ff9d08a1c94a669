"""Read an Isso database (SQLite), streaming: Isso's ``threads`` and ``comments`` tables.

Isso keeps comments as Markdown, a thread per page ``uri``, and a ``mode`` per
comment: 1 published, 2 waiting for moderation, 4 deleted (kept only because
someone answered it). The file is opened read-only and never changed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from mailbridge.errors import ImportFormatError
from mailbridge.importer.records import SourcePost, SourceThread, dated, safe_url
from mailbridge.models import CommentStatus

__all__ = ["is_isso", "read_posts", "read_threads"]

_SLUG = re.compile(r"[^a-z0-9]+")
_MODES = {1: CommentStatus.APPROVED, 2: CommentStatus.PENDING}


def _open(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ImportFormatError(f"{path}: cannot open as SQLite: {exc}") from None


def is_isso(path: Path) -> bool:
    """An SQLite file with Isso's two tables."""
    conn = _open(path)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"threads", "comments"} <= names:
            return False
        columns = {r[1] for r in conn.execute("PRAGMA table_info(comments)")}
        return {"tid", "parent", "mode", "text", "author", "email"} <= columns
    except sqlite3.DatabaseError as exc:  # a truncated or damaged file: not "not Isso's"
        raise ImportFormatError(f"{path}: a damaged SQLite database: {exc}") from None
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _key(uri: str, thread_id: int, taken: set[str]) -> str:
    path = uri.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    key = _SLUG.sub("-", path.rpartition("/")[2].lower()).strip("-")[:100].strip("-")
    key = key or f"isso-{thread_id}"
    if key in taken:
        key = f"{key[:80]}-isso-{thread_id}"
    taken.add(key)
    return key


def read_threads(path: Path) -> tuple[dict[str, SourceThread], int]:
    conn = _open(path)
    try:
        # Every page checked before anything is stored: damage found by read_posts
        # would stop the import with part of the file stored.
        problems = [str(r[0]) for r in conn.execute("PRAGMA quick_check(1)")]
        if problems != ["ok"]:
            why = " ".join(problems[0].replace("*** in database main ***", "").split())
            raise ImportFormatError(f"{path}: a damaged SQLite database: {why}")
        found: dict[str, SourceThread] = {}
        taken: set[str] = set()
        for thread_id, uri, title in conn.execute("SELECT id, uri, title FROM threads ORDER BY id"):
            key = _key(str(uri or ""), int(thread_id), taken)
            found[str(thread_id)] = SourceThread(
                source_id=str(thread_id),
                key=key,
                title=" ".join(str(title or "").split()) or key,
                url=safe_url(str(uri or "")),
            )
        (total,) = conn.execute("SELECT count(*) FROM comments").fetchone()
        return found, int(total)
    except sqlite3.Error as exc:
        raise ImportFormatError(f"{path}: not a readable Isso database: {exc}") from None
    finally:
        conn.close()


def _text(value: object) -> str:
    """A text column as text: SQLite lets a column hold a blob or a number too."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def read_posts(path: Path) -> Iterator[SourcePost]:
    """The comments in id order (parents first, as Isso numbers them), one at a time."""
    conn = _open(path)
    try:
        rows = conn.execute(
            "SELECT id, tid, parent, created, mode, text, author, email FROM comments ORDER BY id"
        )
        for cid, tid, parent, created, mode, text, author, email in rows:
            created_at, undated = dated(created or None)  # Unix time, a float
            yield SourcePost(
                source_id=str(cid),
                thread=str(tid),
                parent=None if parent is None else str(parent),
                author=" ".join(_text(author).split()) or "Anonymous",
                email=_text(email).strip() or None,
                body=_text(text).replace("\r\n", "\n").strip(),
                created_at=created_at,
                # SQLite keeps what it is given: a mode of another type is no state.
                status=_MODES.get(mode if isinstance(mode, int) else 0, CommentStatus.PENDING),
                skip="deleted in Isso" if mode == 4 else "",
                undated=undated,
            )
    except sqlite3.Error as exc:
        raise ImportFormatError(f"{path}: not a readable Isso database: {exc}") from None
    finally:
        conn.close()
