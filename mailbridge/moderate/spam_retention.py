"""How long the spam folder keeps what went there by itself (``spam.keep_days``).

Before, nothing ever left it: a blog under a flood of robots kept every one of their
comments, and every address they typed, for good (the database and each backup grew by
all of it), although the report had shown them and nobody rescued them. Off by default.

Deleted as the admin API deletes a comment (mailbridge.moderate.removal): with its
decisions, and with a ``comment.deleted`` webhook for a subscriber that was told of it.
Kept whatever their age: a comment a moderator marked spam (it is what the trained
filter learnt from: deleting it would unlearn it), one decided on within the period,
one somebody answered, and imported ones (the old blog's history). Run by housekeeping,
:data:`BATCH` comments a transaction, batch after batch until none is left (each its
own short transaction, so a backlog never holds the database long; mailbridge.housekeeping).
The addresses they were sent with go too, once nothing else refers to them
(mailbridge.people.unreferenced).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import aiosqlite

from mailbridge.moderate import removal
from mailbridge.people.unreferenced import forget_unreferenced
from mailbridge.store.engine import json_list
from mailbridge.webhooks.events import WebhookEvents

__all__ = ["BATCH", "Purged", "purge_spam"]

# Each comment is several statements (its decisions, events, addresses): 200 of them
# keep a batch's transaction, and a reply waiting behind it, short.
BATCH = 200


class Purged(NamedTuple):
    comments: int
    queued: int  # webhook deliveries
    addresses: int  # left referred to by nothing, forgotten


async def purge_spam(
    conn: aiosqlite.Connection,
    before: str,
    events: WebhookEvents | None,
    now: datetime,
    moderators: Sequence[str] = (),
    batch: int = BATCH,
) -> Purged:
    """Delete up to ``batch`` spam comments older than ``before`` (an ISO time), and
    the addresses they leave referred to by nothing, in the caller's transaction.
    ``moderators``: moderation.moderators (their addresses stay)."""
    async with conn.execute(
        "SELECT c.id FROM comments c WHERE c.status = 'spam' AND c.created_at < ? "
        "AND c.source IN ('web', 'email') "
        "AND NOT EXISTS (SELECT 1 FROM spam_trained_comments t WHERE t.comment_id = c.id) "
        "AND NOT EXISTS (SELECT 1 FROM moderation_decisions d "
        "WHERE d.comment_id = c.id AND d.decided_at >= ?) "
        "AND NOT EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = c.id) "
        "ORDER BY c.id LIMIT ?",
        (before, before, batch),
    ) as cur:
        found = [int(row[0]) for row in await cur.fetchall()]
    writers = [(int(row[0]), int(row[1])) for row in await conn.execute_fetchall(
        "SELECT DISTINCT address_id, thread_id FROM comments "  # noqa: S608
        f"WHERE id IN {json_list(conn, 'bigint')} AND address_id IS NOT NULL",
        (json.dumps(found),),
    )]  # fmt: skip
    deleted = queued = 0
    for comment_id in found:
        gone, sent = await removal.delete_unanswered(conn, comment_id, events, now)
        deleted += gone
        queued += sent
    forgotten = await forget_unreferenced(conn, writers, moderators)
    return Purged(deleted, queued, forgotten)
