"""What each moderation digest and spam report lists (sql/0031).

A digest names no comment of its own (``outbox.comment_id`` is NULL) and lists many.
An erasure withdraws one not sent yet that lists the erased person's comment: it
went out within the minute with their name and words. Withdrawn, the other comments
it listed count as not yet mailed, and the next digest or report lists them, as they
are now (mailbridge.people.moderation_unsent). Once it is sent (past recall) or
withdrawn, its listing is forgotten (housekeeping).
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

__all__ = ["forget_settled", "listed_by", "record"]


async def record(conn: aiosqlite.Connection, message_id: str, comment_ids: Sequence[int]) -> None:
    """The digest or report queued as ``message_id`` lists ``comment_ids``."""
    await conn.executemany(
        "INSERT INTO outbox_listed (outbox_id, comment_id) "
        "SELECT id, ? FROM outbox WHERE message_id = ?",
        [(comment_id, message_id) for comment_id in comment_ids],
    )


async def listed_by(conn: aiosqlite.Connection, outbox_ids: Sequence[int]) -> list[int]:
    """The comments the rows ``outbox_ids`` list."""
    if not outbox_ids:
        return []
    marks = ",".join("?" * len(outbox_ids))
    rows = await conn.execute_fetchall(
        f"SELECT DISTINCT comment_id FROM outbox_listed WHERE outbox_id IN ({marks})",  # noqa: S608
        list(outbox_ids),
    )
    return [int(row[0]) for row in rows]


async def forget_settled(conn: aiosqlite.Connection) -> int:
    """Forget what the digests sent or withdrawn listed: nothing can recall them.
    Driven by the listings kept, not by the whole outbox's history."""
    cur = await conn.execute(
        "DELETE FROM outbox_listed WHERE outbox_id IN (SELECT l.outbox_id "
        "FROM outbox_listed l JOIN outbox o ON o.id = l.outbox_id "
        "WHERE o.status IN ('sent', 'withdrawn'))"
    )
    return max(cur.rowcount, 0)
