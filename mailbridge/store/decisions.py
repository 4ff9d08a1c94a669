"""SQL for the moderation audit: every change of a comment's status, who made it, how."""

from __future__ import annotations

import aiosqlite

from mailbridge.models import Channel, CommentStatus, Decider, Decision

__all__ = ["history", "record"]


async def record(
    conn: aiosqlite.Connection,
    comment_id: int,
    previous: CommentStatus,
    status: CommentStatus,
    by: Decider,
    now: str,
) -> None:
    """Append one decision. A moderator id that names no address is stored as unknown
    (the id comes from a signed link, but a restored database may lack the row)."""
    await conn.execute(
        "INSERT INTO moderation_decisions "
        "(comment_id, decided_at, previous, status, moderator_address_id, channel) "
        "VALUES (?, ?, ?, ?, (SELECT id FROM addresses WHERE id = ?), ?)",
        (comment_id, now, previous.value, status.value, by.address_id, by.channel.value),
    )


async def history(conn: aiosqlite.Connection, comment_id: int) -> list[Decision]:
    """The decisions about one comment, oldest first, with each moderator's address."""
    async with conn.execute(
        "SELECT d.comment_id, d.decided_at, d.previous, d.status, d.channel, "
        "d.moderator_address_id, a.email FROM moderation_decisions d "
        "LEFT JOIN addresses a ON a.id = d.moderator_address_id "
        "WHERE d.comment_id = ? ORDER BY d.id",
        (comment_id,),
    ) as cur:
        rows = await cur.fetchall()
    return [
        Decision(
            comment_id=int(row[0]),
            decided_at=str(row[1]),
            previous=CommentStatus(row[2]),
            status=CommentStatus(row[3]),
            channel=Channel(row[4]),
            moderator_id=None if row[5] is None else int(row[5]),
            moderator=None if row[6] is None else str(row[6]),
        )
        for row in rows
    ]
