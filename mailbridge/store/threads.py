"""SQL for threads and commenters' addresses."""

from __future__ import annotations

import sqlite3

import aiosqlite

from mailbridge.models import Thread

__all__ = ["address_email", "get_thread", "list_threads", "upsert_address", "upsert_thread"]


def _thread(row: sqlite3.Row) -> Thread:
    return Thread(
        id=row["id"],
        key=row["key"],
        title=row["title"],
        url=row["url"],
        author=row["author"],
        author_address_id=row["author_address_id"],
    )


async def upsert_address(conn: aiosqlite.Connection, email: str, now: str) -> int:
    """The id of ``email`` (case-insensitive), creating the row if needed."""
    await conn.execute(
        "INSERT INTO addresses (email, created_at) VALUES (?, ?) ON CONFLICT (email) DO NOTHING",
        (email, now),
    )
    async with conn.execute("SELECT id FROM addresses WHERE email = ?", (email,)) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def address_email(conn: aiosqlite.Connection, address_id: int) -> str | None:
    async with conn.execute("SELECT email FROM addresses WHERE id = ?", (address_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def upsert_thread(
    conn: aiosqlite.Connection,
    *,
    key: str,
    title: str,
    url: str,
    author: str,
    author_address_id: int | None,
    now: str,
) -> tuple[int, bool]:
    """Create the thread unless its key exists; return (id, created)."""
    async with conn.execute(
        "INSERT INTO threads (key, title, url, author, author_address_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id",
        (key, title, url, author, author_address_id, now),
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
