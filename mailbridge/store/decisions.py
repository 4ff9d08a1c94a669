"""SQL for the moderation audit: every change of a comment's status, who made it, how."""

from __future__ import annotations

import aiosqlite

from mailbridge.models import Channel, CommentStatus, Decider, Decision

__all__ = ["history", "latest_id", "record", "undoable", "undoable_one"]


async def record(
    conn: aiosqlite.Connection,
    comment_id: int,
    previous: CommentStatus,
    status: CommentStatus,
    by: Decider,
    now: str,
) -> int:
    """Append one decision; its id. A moderator id that names no address is stored as
    unknown (the id comes from a signed link, but a restored database may lack the row)."""
    async with conn.execute(
        "INSERT INTO moderation_decisions "
        "(comment_id, decided_at, previous, status, moderator_address_id, channel) "
        "VALUES (?, ?, ?, ?, (SELECT id FROM addresses WHERE id = ?), ?) RETURNING id",
        (comment_id, now, previous.value, status.value, by.address_id, by.channel.value),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def history(conn: aiosqlite.Connection, comment_id: int) -> list[Decision]:
    """The decisions about one comment, oldest first, with each moderator's address."""
    async with conn.execute(
        "SELECT d.comment_id, d.decided_at, d.previous, d.status, d.channel, "
        "d.moderator_address_id, a.email, d.id FROM moderation_decisions d "
        "LEFT JOIN addresses a ON a.id = d.moderator_address_id "
        "WHERE d.comment_id = ? ORDER BY d.id",
        (comment_id,),
    ) as cur:
        return [_decision(row) for row in await cur.fetchall()]


_LATEST = (
    "SELECT d.comment_id, d.decided_at, d.previous, d.status, d.channel, "
    "d.moderator_address_id, a.email, d.id FROM moderation_decisions d "
    "JOIN comments c ON c.id = d.comment_id "
    "LEFT JOIN addresses a ON a.id = d.moderator_address_id "
    "WHERE d.id = (SELECT max(id) FROM moderation_decisions WHERE comment_id = d.comment_id) "
    "AND c.status = d.status AND d.status != 'pending' AND d.decided_at >= ? "
)


def _decision(row: aiosqlite.Row) -> Decision:
    return Decision(
        comment_id=int(row[0]),
        decided_at=str(row[1]),
        previous=CommentStatus(row[2]),
        status=CommentStatus(row[3]),
        channel=Channel(row[4]),
        moderator_id=None if row[5] is None else int(row[5]),
        moderator=None if row[6] is None else str(row[6]),
        id=int(row[7]),
    )


async def undoable(
    conn: aiosqlite.Connection,
    since: str,
    limit: int = 50,
    before: int | None = None,
    only: int | None = None,
) -> list[Decision]:
    """Each comment's latest decision since ``since`` that still stands (and is not a
    return to pending: the queue itself shows those), newest first, older than the
    decision ``before`` when given (the next page): what the queue page offers to undo.
    ``only``: on the threads whose author is that address (a thread's author moderates
    their own posts alone)."""
    sql, args = _LATEST + "AND d.id < ? ", [since, before if before is not None else 2**62]
    if only is not None:
        sql += "AND c.thread_id IN (SELECT id FROM threads WHERE author_address_id = ?) "
        args.append(only)
    async with conn.execute(sql + "ORDER BY d.id DESC LIMIT ?", (*args, limit)) as cur:
        return [_decision(row) for row in await cur.fetchall()]


async def undoable_one(conn: aiosqlite.Connection, comment_id: int, since: str) -> Decision | None:
    """One comment's latest decision, if it was made since ``since`` and still stands."""
    async with conn.execute(_LATEST + "AND d.comment_id = ?", (since, comment_id)) as cur:
        row = await cur.fetchone()
    return None if row is None else _decision(row)


async def latest_id(conn: aiosqlite.Connection, comment_id: int) -> int | None:
    """The id of the comment's latest decision (None: never decided)."""
    async with conn.execute(
        "SELECT max(id) FROM moderation_decisions WHERE comment_id = ?", (comment_id,)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])
