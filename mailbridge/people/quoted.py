"""The emails sent to others that showed an erased person's name or words.

A notification carries its comments and quotes each one's parent; a moderation email
quotes the comment answered; a moderation digest or a spam report lists pending
comments with their writers' names. Sent, such an email's bytes are kept for
``smtp.reply_token_days`` (mailbridge.housekeeping): after an erasure they still
held the person's name and words, and ``mailbridge outbox ID --body`` printed them.
Their bytes go with the erasure; the rows stay (status, dates, recipient). A reply
to such a notification is still filed: the extractor cuts the quote by its generic
rules and the comments as they are now (mailbridge.inbound.sent).

Only sent emails: queued and failed notifications are withdrawn
(mailbridge.store.withdrawal), and a row being sent goes out as it was.

A reply by email to one of their comments quotes the notification that carried it,
and its To header names them ("Ann via Blog"): what extraction cut from it
(comments.elided, kept for good and shown on the moderation page), its raw bytes
(kept inbound.raw_retention_days) and its header section go too. The reply itself,
its writer's words, stays.
"""

from __future__ import annotations

import aiosqlite

from mailbridge.store.engine import json_list

__all__ = ["forget_quoting", "forget_replies_quoting"]


async def forget_quoting(conn: aiosqlite.Connection, theirs: str) -> int:
    """Delete the bytes of the sent emails that carried or quoted a comment of
    ``theirs`` (a JSON list of comment ids); how many."""
    ids = json_list(conn, "bigint")
    # Their comments, and the replies to them (whose emails quote them).
    quoted = f"SELECT id FROM comments WHERE id IN {ids} OR parent_id IN {ids}"  # noqa: S608
    cur = await conn.execute(
        # Each part of the union on an index: an erasure holds the writer meanwhile.
        "DELETE FROM outbox_messages WHERE outbox_id IN (SELECT id FROM outbox "  # noqa: S608
        # Its unary + keeps SQLite on the ids found (rowid look-ups), not every sent row.
        "WHERE +status = 'sent' AND id IN ("
        # A notification or digest, by what it carried (kept as long as its bytes).
        f" SELECT outbox_id FROM outbox_items WHERE comment_id IN ({quoted})"
        # One from before outbox_items (sql/0029), or a moderation email, by its comment.
        " UNION SELECT id FROM outbox WHERE kind IN "
        f"  ('reply_notification', 'digest', 'moderation_request') AND comment_id IN ({quoted})"
        # Moderation digests and spam reports name no comment: any composed since
        # their first comment came may list one.
        " UNION SELECT id FROM outbox WHERE kind IN ('moderation_digest', 'spam_report') "
        f"  AND comment_id IS NULL AND created_at >= (SELECT min(created_at) FROM comments "
        f"  WHERE id IN {ids})))",
        (theirs,) * 5,
    )
    return max(cur.rowcount, 0)


async def forget_replies_quoting(conn: aiosqlite.Connection, theirs: str) -> int:
    """Forget what quoted or named them in the emailed replies to a comment of
    ``theirs`` (a JSON list of comment ids): the cut part, the raw bytes and the
    header section; how many replies."""
    ids = json_list(conn, "bigint")
    replies = f"SELECT id FROM comments WHERE parent_id IN {ids}"  # noqa: S608
    received = f"SELECT id FROM inbound_messages WHERE comment_id IN ({replies})"  # noqa: S608
    await conn.execute(f"DELETE FROM inbound_raw WHERE inbound_id IN ({received})", (theirs,))  # noqa: S608
    await conn.execute(
        f"UPDATE inbound_messages SET headers = NULL WHERE id IN ({received})",  # noqa: S608
        (theirs,),
    )
    cur = await conn.execute(
        f"UPDATE comments SET elided = '' WHERE elided != '' AND id IN ({replies})",  # noqa: S608
        (theirs,),
    )
    return max(cur.rowcount, 0)
