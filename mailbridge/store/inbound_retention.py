"""How long the inbound log keeps a message's row (``inbound.keep_days``).

Before, every row stayed for good: the sender's address, the envelope, the header
section and every check, of each reply, bounce report, refusal and robot. A commenter
on a sensitive thread who wrote by email stayed in it long after their comment was
decided, unless they asked for erasure.

A row goes once both the message and what became of it are older than the period:
its receipt, and the decision on the comment it was filed as (``moderated_at``); one
filed as a comment also not before its reply address has expired (its dedup key is
what finds the same reply delivered again, which would be filed twice). Never
one still ``received`` (not processed yet: the operator must see it and the sender's
retry finds it), nor one whose comment still waits for a moderator (pending, or in the
spam folder, from which it may go back to the queue): its moderation email and page
read its authentication result from the row. Its raw bytes (``inbound_raw``) and the
bounces read from it go with it. The metrics' counters keep what it counted
(mailbridge.store.deleted_counts).

What a mail service's event webhook or an abuse report told of a message we sent
(``mail_events``) goes after the same period from its receipt, as the bounce read from
a delivery report does: the suppression or bounce count it caused stays with the
address, and /metrics' mailbridge_mail_events_total is counted as events come, not read
from the table. A service's retry comes within days, long before.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import aiosqlite

from mailbridge.store import deleted_counts
from mailbridge.store.engine import json_list

__all__ = ["BATCH", "OLD_EVENTS", "Forgotten", "forget_old"]

# Rows a transaction: housekeeping deletes batch after batch, each committed on its
# own, so that the first run after an upgrade (the whole history) or after a robot
# flood refused at RCPT never holds the write lock for long (mailbridge.housekeeping).
BATCH = 1000


# Oldest first, through the index mail_events_by_time (migration 0039). Before, by id
# and with no index on received_at: both engines read every event each hour, to find
# none once the old ones were gone.
OLD_EVENTS = (
    "DELETE FROM mail_events WHERE id IN (SELECT id FROM mail_events "
    "WHERE received_at < ? ORDER BY received_at LIMIT ?)"
)


class Forgotten(NamedTuple):
    messages: int
    bounces: int
    events: int = 0  # mail_events rows


async def forget_old(
    conn: aiosqlite.Connection, before: str, batch: int = BATCH, replies_before: str = ""
) -> Forgotten:
    """Delete up to ``batch`` log rows settled before ``before`` (an ISO time), in the
    caller's transaction (above: what stays). A row filed as a comment also waits until
    ``replies_before`` (its reply address's life, when longer): the row is what finds
    the same reply delivered again, which would otherwise be filed a second time."""
    async with conn.execute(
        "SELECT m.id FROM inbound_messages m LEFT JOIN comments c ON c.id = m.comment_id "
        "WHERE m.received_at < ? AND m.status <> 'received' AND (c.id IS NULL OR ("
        "c.status NOT IN ('pending', 'spam') AND coalesce(c.moderated_at, c.created_at) < ? "
        "AND m.received_at < ?)) "
        "ORDER BY m.id LIMIT ?",
        (before, before, min(before, replies_before or before), batch),
    ) as cur:
        found = json.dumps([int(row[0]) for row in await cur.fetchall()])
    ids = json_list(conn, "bigint")
    cur = await conn.execute(f"DELETE FROM bounces WHERE inbound_id IN {ids}", (found,))  # noqa: S608
    bounces = cur.rowcount
    await conn.execute(f"DELETE FROM inbound_raw WHERE inbound_id IN {ids}", (found,))  # noqa: S608
    messages = await deleted_counts.delete_inbound(conn, f"id IN {ids}", found)  # counters go on
    cur = await conn.execute(OLD_EVENTS, (before, batch))
    return Forgotten(messages, bounces, cur.rowcount)
