"""What filing an emailed reply needs of its thread and writer, in one statement.

The thread's state, what the writer asked to hear about it (as
:func:`mailbridge.store.subscriptions.effective_level`) and the name they signed their
latest published comment with (as :func:`mailbridge.store.comments.latest_author_name`)
were three statements of the same read snapshot; here they are one (issue 14), each
part on the index its own statement used.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from mailbridge.store.subscriptions import Level

__all__ = ["ReplyFacts", "reply_facts"]


@dataclass(frozen=True)
class ReplyFacts:
    closed: bool
    level: Level | None  # the thread's own level, else the site-wide one, else None
    author: str | None  # their latest published comment's name, if any


async def reply_facts(
    conn: aiosqlite.Connection, thread_id: int, address_id: int
) -> ReplyFacts | None:
    """None when the thread does not exist."""
    async with conn.execute(
        "SELECT t.closed, "
        # effective_level's statement: two look-ups in subscriptions_one.
        "(SELECT s.level FROM subscriptions s WHERE s.address_id = ? "
        "AND coalesce(s.thread_id, 0) IN (t.id, 0) ORDER BY s.thread_id IS NULL LIMIT 1), "
        # latest_author_name's: comments_by_address, up to the first approved one.
        "(SELECT c.author FROM comments c WHERE c.address_id = ? AND c.status = 'approved' "
        "ORDER BY c.created_at DESC, c.id DESC LIMIT 1) "
        "FROM threads t WHERE t.id = ?",
        (address_id, address_id, thread_id),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    level = None if row[1] is None else Level(row[1])
    return ReplyFacts(bool(row[0]), level, None if row[2] is None else str(row[2]))
