"""Comments whose moderation emails are still to be built (migration 0018)."""

from __future__ import annotations

import aiosqlite

__all__ = ["add", "claim", "claim_batch", "take", "waiting"]


async def add(
    conn: aiosqlite.Connection, comment_id: int, auto_approved: str | None, now: str
) -> None:
    await conn.execute(
        "INSERT INTO moderation_mail_queue (comment_id, auto_approved, queued_at) "
        "VALUES (?, ?, ?) ON CONFLICT (comment_id) DO NOTHING",
        (comment_id, auto_approved, now),
    )


async def take(conn: aiosqlite.Connection, limit: int) -> list[tuple[int, str | None]]:
    """The oldest ``limit`` waiting: (comment id, why it was auto-approved or None)."""
    async with conn.execute(
        "SELECT comment_id, auto_approved FROM moderation_mail_queue ORDER BY comment_id LIMIT ?",
        (limit,),
    ) as cur:
        return [(int(r[0]), None if r[1] is None else str(r[1])) for r in await cur.fetchall()]


async def claim_batch(
    conn: aiosqlite.Connection, limit: int, owner: str, now: float, until: float
) -> list[tuple[int, str | None]]:
    """Take the oldest ``limit`` rows nobody else is building, until ``until``.

    PostgreSQL only (SKIP LOCKED), for several daemons on one database: rows another
    daemon is claiming right now are skipped, and rows claimed by a daemon whose claim
    ran out are free. One daemon on SQLite reads the queue with :func:`take`.
    """
    async with conn.execute(
        "UPDATE moderation_mail_queue SET claimed_by = ?, claimed_until = ? "
        "WHERE comment_id IN (SELECT comment_id FROM moderation_mail_queue "
        "WHERE coalesce(claimed_until, 0) <= ? OR claimed_by = ? "
        "ORDER BY comment_id LIMIT ? FOR UPDATE SKIP LOCKED) "
        "RETURNING comment_id, auto_approved",
        (owner, until, now, owner, limit),
    ) as cur:
        rows = [(int(r[0]), None if r[1] is None else str(r[1])) for r in await cur.fetchall()]
    return sorted(rows)


async def claim(conn: aiosqlite.Connection, comment_id: int) -> bool:
    """Take the comment's row; False when it is gone (another daemon took it)."""
    cur = await conn.execute(
        "DELETE FROM moderation_mail_queue WHERE comment_id = ?", (comment_id,)
    )
    return bool(cur.rowcount == 1)


async def waiting(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT count(*) FROM moderation_mail_queue") as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])
