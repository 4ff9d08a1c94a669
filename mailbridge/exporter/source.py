"""The store as an exporter reads it: threads, then each thread's comments in chunks,
parents before replies (a reply is always stored after its parent)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiosqlite

from mailbridge.errors import NotFound
from mailbridge.store import Store
from mailbridge.store.former_keys import current_key

__all__ = ["CHUNK", "ExportComment", "ExportThread", "comments_of", "threads_to_export"]

CHUNK = 1000


@dataclass(frozen=True)
class ExportThread:
    id: int
    key: str
    title: str
    url: str
    author: str
    author_email: str
    closed: bool
    created_at: str


@dataclass(frozen=True)
class ExportComment:
    id: int
    parent_id: int | None
    author: str
    email: str
    body: str  # Markdown, as stored
    status: str
    created_at: str
    # Its writer, confirmed, is told of answers here: a thread's own level, else the
    # site-wide one, is not 'none' (subscriptions.effective_level, for a whole chunk).
    notify: bool


async def threads_to_export(store: Store, key: str | None) -> list[ExportThread]:
    """One thread by key (NotFound if none), or every thread."""

    async def work(conn: aiosqlite.Connection) -> list[ExportThread]:
        sql = (
            "SELECT t.id, t.key, t.title, t.url, t.author, coalesce(a.email, ''), t.closed, "
            "t.created_at FROM threads t LEFT JOIN addresses a ON a.id = t.author_address_id"
        )
        args: tuple[str, ...] = ()
        if key is not None:
            # A renamed WordPress post's old key (as the emails sent before link it)
            # names its thread still.
            sql, args = sql + " WHERE t.key = ?", ((await current_key(conn, key)) or key,)
        async with conn.execute(sql + " ORDER BY t.id", args) as cur:
            rows = await cur.fetchall()
        return [
            ExportThread(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]),
                         bool(r[6]), str(r[7]))
            for r in rows
        ]  # fmt: skip

    found = await store.read(work)
    if key is not None and not found:
        raise NotFound(f"no thread '{key}'")
    return found


async def comments_of(store: Store, thread_id: int) -> AsyncIterator[list[ExportComment]]:
    """The thread's comments, every status, by id, ``CHUNK`` at a time."""
    after = 0
    while True:

        async def work(conn: aiosqlite.Connection, after: int = after) -> list[ExportComment]:
            async with conn.execute(
                "SELECT c.id, c.parent_id, c.author, coalesce(a.email, ''), c.body, c.status, "
                "c.created_at, a.confirmed_at IS NOT NULL AND coalesce(("
                " SELECT s.level FROM subscriptions s WHERE s.address_id = c.address_id"
                " AND coalesce(s.thread_id, 0) IN (c.thread_id, 0)"
                " ORDER BY s.thread_id IS NULL LIMIT 1), 'none') != 'none' "
                "FROM comments c LEFT JOIN addresses a ON a.id = c.address_id "
                "WHERE c.thread_id = ? AND c.id > ? ORDER BY c.id LIMIT ?",
                (thread_id, after, CHUNK),
            ) as cur:
                rows = await cur.fetchall()
            return [
                ExportComment(int(r[0]), None if r[1] is None else int(r[1]), str(r[2]),
                              str(r[3]), str(r[4]), str(r[5]), str(r[6]), bool(r[7]))
                for r in rows
            ]  # fmt: skip

        chunk = await store.read(work)
        if not chunk:
            return
        yield chunk
        after = chunk[-1].id
