"""Deleting a comment nobody answered (the admin API, `mailbridge comment --delete`):
its decisions and what it taught the spam filter go with it; emails and received
messages stay, without the link to it."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from mailbridge.clock import iso
from mailbridge.errors import NotFound
from mailbridge.spam import training
from mailbridge.store import comments, withdrawal
from mailbridge.webhooks.events import WebhookEvents

__all__ = ["delete_unanswered"]

# What points at a comment about to be deleted: dropped, or kept without the link.
_UNLINK = (
    "DELETE FROM pending_notifications WHERE comment_id = ?",
    "DELETE FROM outbox_items WHERE comment_id = ?",
    "DELETE FROM outbox_listed WHERE comment_id = ?",
    "DELETE FROM moderation_decisions WHERE comment_id = ?",
    "UPDATE outbox SET comment_id = NULL WHERE comment_id = ?",
    "UPDATE inbound_messages SET comment_id = NULL WHERE comment_id = ?",
)


async def delete_unanswered(
    conn: aiosqlite.Connection,
    comment_id: int,
    events: WebhookEvents | None,
    now: datetime,
    *,
    keep_learnt: bool = False,
) -> tuple[bool, int]:
    """In the caller's transaction: (deleted, deliveries queued or mail scheduled). False when
    it has replies: rejecting it takes it and them off the page instead, and keeps
    the conversation whole for the moderators. NotFound when missing. ``keep_learnt``:
    the trained filter keeps what the comment taught it (a moderator's Spam, deleted
    from the spam folder, still stands)."""
    comment = await comments.get_comment(conn, comment_id)
    if comment is None:
        raise NotFound(f"no comment {comment_id}")
    async with conn.execute(
        "SELECT 1 FROM comments WHERE parent_id = ? LIMIT 1", (comment_id,)
    ) as cur:
        if await cur.fetchone() is not None:
            return False, 0
    queued = 0
    if events is not None:
        queued = await events.comment(conn, "comment.deleted", comment)
    if keep_learnt:  # the words' counts stay; only the link to the comment goes
        await conn.execute("DELETE FROM spam_trained_comments WHERE comment_id = ?", (comment_id,))
    else:
        await training.forget(conn, comment_id)
    # Its notifications not sent yet are not sent (a digest's other comments are, anew).
    queued += await withdrawal.withdraw(
        conn, comment_id, iso(now), now.timestamp(), hold=False, because="was deleted"
    )
    for sql in _UNLINK:
        await conn.execute(sql, (comment_id,))
    await conn.execute("DELETE FROM comments WHERE id = ?", (comment_id,))
    return True, queued
