"""How long the spam folder keeps what went there by itself (``spam.keep_days``).

Before, nothing ever left it: a blog under a flood of robots kept every one of their
comments, and every address they typed, for good (the database and each backup grew by
all of it), although the report had shown them and nobody rescued them. Off by default.

Deleted as the admin API deletes a comment (mailbridge.moderate.removal): with its
decisions, and with a ``comment.deleted`` webhook for a subscriber that was told of it.
Kept whatever their age: a comment a moderator marked spam (it is what the trained
filter learnt from: deleting it would unlearn it), one decided on within the period,
one somebody answered, and imported ones (the old blog's history). Run by housekeeping,
at most :data:`BATCH` comments an hour, so a backlog never holds the database long.
"""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from mailbridge.moderate import removal
from mailbridge.webhooks.events import WebhookEvents

__all__ = ["BATCH", "purge_spam"]

BATCH = 500


async def purge_spam(
    conn: aiosqlite.Connection, before: str, events: WebhookEvents | None, now: datetime
) -> tuple[int, int]:
    """Delete up to BATCH spam comments older than ``before`` (an ISO time), in the
    caller's transaction: (comments deleted, webhook deliveries queued)."""
    async with conn.execute(
        "SELECT c.id FROM comments c WHERE c.status = 'spam' AND c.created_at < ? "
        "AND c.source IN ('web', 'email') "
        "AND NOT EXISTS (SELECT 1 FROM spam_trained_comments t WHERE t.comment_id = c.id) "
        "AND NOT EXISTS (SELECT 1 FROM moderation_decisions d "
        "WHERE d.comment_id = c.id AND d.decided_at >= ?) "
        "AND NOT EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = c.id) "
        "ORDER BY c.id LIMIT ?",
        (before, before, BATCH),
    ) as cur:
        found = [int(row[0]) for row in await cur.fetchall()]
    deleted = queued = 0
    for comment_id in found:
        gone, sent = await removal.delete_unanswered(conn, comment_id, events, now)
        deleted += gone
        queued += sent
    return deleted, queued
