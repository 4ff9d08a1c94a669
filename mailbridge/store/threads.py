"""SQL for threads and commenters' addresses."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import aiosqlite

from mailbridge.models import Thread
from mailbridge.store.engine import dialect_of

__all__ = [
    "AddressState",
    "address_email",
    "address_state",
    "bump_key_epoch",
    "count_bounce",
    "get_thread",
    "list_bouncing",
    "list_threads",
    "respell_address",
    "resume_address",
    "soft_bounce_is_first",
    "suppress_address",
    "upsert_address",
    "upsert_thread",
]


def _thread(row: sqlite3.Row) -> Thread:
    return Thread(
        id=row["id"],
        key=row["key"],
        title=row["title"],
        url=row["url"],
        author=row["author"],
        author_address_id=row["author_address_id"],
        closed=bool(row["closed"]),
    )


async def upsert_address(conn: aiosqlite.Connection, email: str, now: str) -> int:
    """The id of ``email`` (case-insensitive), creating the row if needed.

    Looked up first: an address that is stored (every reply's writer) costs one
    statement, not an INSERT that does nothing and then this SELECT (issue 14)."""
    found = await address_id_of(conn, email)
    if found is not None:
        return found
    async with conn.execute(
        "INSERT INTO addresses (email, created_at) VALUES (?, ?) "
        "ON CONFLICT (email) DO NOTHING RETURNING id",
        (email, now),
    ) as cur:
        row = await cur.fetchone()
    if row is not None:
        return int(row[0])
    # PostgreSQL: another transaction stored it after our SELECT (SQLite's one writer
    # rules that out); committed now, so this statement's snapshot sees it.
    found = await address_id_of(conn, email)
    assert found is not None
    return found


async def address_id_of(conn: aiosqlite.Connection, email: str) -> int | None:
    """The id of ``email`` (case-insensitive) when it is stored."""
    async with conn.execute("SELECT id FROM addresses WHERE email = ?", (email,)) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def address_email(conn: aiosqlite.Connection, address_id: int) -> str | None:
    async with conn.execute("SELECT email FROM addresses WHERE id = ?", (address_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def set_closed(conn: aiosqlite.Connection, key: str, closed: bool) -> bool:
    """Close a thread to new comments (or open it again); False for an unknown key."""
    async with conn.execute(
        "UPDATE threads SET closed = ? WHERE key = ?", (int(closed), key)
    ) as cur:
        return cur.rowcount > 0


async def upsert_thread(
    conn: aiosqlite.Connection,
    *,
    key: str,
    title: str,
    url: str,
    author: str,
    author_address_id: int | None,
    now: str,
    closed: bool = False,
) -> tuple[int, bool]:
    """Create the thread unless its key exists; return (id, created)."""
    async with conn.execute(
        "INSERT INTO threads (key, title, url, author, author_address_id, created_at, closed) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id",
        (key, title, url, author, author_address_id, now, int(closed)),
    ) as cur:
        row = await cur.fetchone()
    if row is not None:
        return int(row[0]), True
    async with conn.execute("SELECT id FROM threads WHERE key = ?", (key,)) as cur:
        existing = await cur.fetchone()
    assert existing is not None
    return int(existing[0]), False


async def get_thread(
    conn: aiosqlite.Connection, *, key: str | None = None, thread_id: int | None = None
) -> Thread | None:
    arg: str | int | None
    if key is not None:
        query, arg = "SELECT * FROM threads WHERE key = ?", key
    else:
        query, arg = "SELECT * FROM threads WHERE id = ?", thread_id
    async with conn.execute(query, (arg,)) as cur:
        row = await cur.fetchone()
    return None if row is None else _thread(row)


async def list_threads(conn: aiosqlite.Connection) -> list[tuple[Thread, int]]:
    """Every thread with its number of approved comments, newest first."""
    async with conn.execute(
        "SELECT t.*, (SELECT count(*) FROM comments c WHERE c.thread_id = t.id "
        "AND c.status = 'approved') AS approved FROM threads t ORDER BY t.id DESC"
    ) as cur:
        return [(_thread(row), int(row["approved"])) for row in await cur.fetchall()]


@dataclass(frozen=True)
class AddressState:
    id: int
    email: str
    key_epoch: int
    hard_bounces: int
    soft_bounces: int
    suppressed_at: str | None
    suppressed_reason: str | None


async def address_state(
    conn: aiosqlite.Connection, *, address_id: int | None = None, email: str | None = None
) -> AddressState | None:
    arg: int | str | None
    if address_id is not None:
        query, arg = "SELECT * FROM addresses WHERE id = ?", address_id
    else:
        query, arg = "SELECT * FROM addresses WHERE email = ?", email
    async with conn.execute(query, (arg,)) as cur:
        row = await cur.fetchone()
    return None if row is None else _address(row)


def _address(row: sqlite3.Row) -> AddressState:
    return AddressState(
        id=row["id"],
        email=row["email"],
        key_epoch=row["key_epoch"],
        hard_bounces=row["hard_bounces"],
        soft_bounces=row["soft_bounces"],
        suppressed_at=row["suppressed_at"],
        suppressed_reason=row["suppressed_reason"],
    )


async def bump_key_epoch(conn: aiosqlite.Connection, email: str) -> int | None:
    """Revoke every reply address sent to ``email``; return the new epoch."""
    async with conn.execute(
        "UPDATE addresses SET key_epoch = key_epoch + 1 WHERE email = ? RETURNING key_epoch",
        (email,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def count_bounce(
    conn: aiosqlite.Connection, address_id: int, kind: str, now: str, hard_limit: int
) -> bool:
    """Count one bounce; return True when this one made the address suppressed."""
    column = "hard_bounces" if kind == "hard" else "soft_bounces"
    async with conn.execute(
        f"UPDATE addresses SET {column} = {column} + 1, last_bounce_at = ? "  # noqa: S608
        "WHERE id = ? RETURNING hard_bounces, suppressed_at",
        (now, address_id),
    ) as cur:
        row = await cur.fetchone()
    if row is None or row[1] is not None or int(row[0]) < hard_limit:
        return False
    await conn.execute(
        "UPDATE addresses SET suppressed_at = ?, suppressed_reason = ? WHERE id = ?",
        # "1 hard bounce" with inbound.hard_bounce_limit = 1: `mailbridge bounces` shows it.
        (now, f"{row[0]} hard bounce{'' if int(row[0]) == 1 else 's'}", address_id),
    )
    return True


async def soft_bounce_is_first(conn: aiosqlite.Connection, outbox_id: int, address_id: int) -> bool:
    """Whether the soft bounce just recorded of outbox row ``outbox_id`` (a ``bounces``
    or a ``mail_events`` row) is its first: a message counts at most one soft bounce of
    its recipient, however many reports say it is delayed (a greylisting server defers
    each attempt; SendGrid, Mailgun and a relay's delay warnings report each).

    Call it after recording the report and before :func:`count_bounce`. On PostgreSQL
    the address row is locked first (as the count's UPDATE would lock it), so that two
    daemons recording reports of one message at once take turns, and the second one's
    count (a statement of its own, READ COMMITTED) sees the first one's report."""
    if dialect_of(conn) == "postgresql":
        await conn.execute("SELECT 1 FROM addresses WHERE id = ? FOR NO KEY UPDATE", (address_id,))
    async with conn.execute(
        "SELECT (SELECT count(*) FROM bounces WHERE outbox_id = ? AND address_id = ? "
        "AND kind = 'soft') + (SELECT count(*) FROM mail_events WHERE outbox_id = ? "
        "AND address_id = ? AND kind = 'soft')",
        (outbox_id, address_id, outbox_id, address_id),
    ) as cur:
        row = await cur.fetchone()
    return row is not None and int(row[0]) <= 1


async def list_bouncing(conn: aiosqlite.Connection, limit: int = 100) -> list[AddressState]:
    async with conn.execute(
        "SELECT * FROM addresses WHERE hard_bounces > 0 OR soft_bounces > 0 "
        "OR suppressed_at IS NOT NULL ORDER BY last_bounce_at DESC LIMIT ?",
        (limit,),
    ) as cur:
        return [_address(row) for row in await cur.fetchall()]


async def resume_address(conn: aiosqlite.Connection, email: str) -> bool:
    """Mail an address again after the operator checked it; counts start from zero."""
    cur = await conn.execute(
        "UPDATE addresses SET hard_bounces = 0, soft_bounces = 0, suppressed_at = NULL, "
        "suppressed_reason = NULL WHERE email = ?",
        (email,),
    )
    return cur.rowcount > 0


async def suppress_address(
    conn: aiosqlite.Connection, address_id: int, reason: str, now: str
) -> bool:
    """Stop mailing an address (e.g. it cannot be used at all); True if it was mailed."""
    cur = await conn.execute(
        "UPDATE addresses SET suppressed_at = ?, suppressed_reason = ? "
        "WHERE id = ? AND suppressed_at IS NULL",
        (now, reason, address_id),
    )
    return cur.rowcount > 0


async def respell_address(conn: aiosqlite.Connection, address_id: int, email: str) -> bool:
    """Store an address in its normal form (stored before the rules), unless another
    row already holds that form; True if changed."""
    cur = await conn.execute(
        "UPDATE addresses SET email = ? WHERE id = ? AND NOT EXISTS "
        "(SELECT 1 FROM addresses WHERE email = ? AND id != ?)",
        (email, address_id, email, address_id),
    )
    return cur.rowcount > 0


async def version_of(conn: aiosqlite.Connection, key: str) -> tuple[int, int, str] | None:
    """(thread id, version, changed_at) of a thread: what ETag and Last-Modified need.

    One indexed row; the version is bumped by triggers on every change a reader of
    the published thread can see: its title, URL or closed state, and any change to a
    comment that is or was approved (migrations 0010 and 0023)."""
    async with conn.execute(
        "SELECT id, version, changed_at FROM threads WHERE key = ?", (key,)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else (int(row[0]), int(row[1]), str(row[2]))
