"""The webhook events about an erased person's comments (mailbridge.webhooks.events).

Each carries the comment as other software sees it, its writer's name and words in it
(never an address). Kept in the outbox like an email, they held both after an
erasure: a sent one's bytes for ``smtp.reply_token_days``, a dead letter's for good,
and a queued one was still posted after. Sent, its bytes go; queued or failed, it is
withdrawn (never posted, its note saying why) and its bytes go too. One being posted
goes out as it was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import aiosqlite

from mailbridge.webhooks.events import KIND

__all__ = ["forget_events"]


def _comment_id(body: bytes) -> int | None:
    """The id of the comment an event's body is about, if it is one."""
    try:
        comment = json.loads(body)["data"]["comment"]
        return int(comment["id"])
    except (ValueError, KeyError, TypeError):
        return None


async def forget_events(conn: aiosqlite.Connection, ids: Sequence[int]) -> int:
    """Forget the events about the comments ``ids``; how many."""
    if not ids:
        return 0
    # Any event about them was queued since their first comment came.
    found = await conn.execute_fetchall(
        "SELECT o.id, m.message FROM outbox o JOIN outbox_messages m ON m.outbox_id = o.id "  # noqa: S608
        "WHERE o.kind = ? AND o.status IN ('queued', 'failed', 'sent') AND o.created_at >= "
        f"(SELECT min(created_at) FROM comments WHERE id IN ({','.join('?' * len(ids))}))",
        (KIND, *ids),
    )
    theirs = set(ids)
    about = {
        int(row_id): comment_id
        for row_id, body in found
        if (comment_id := _comment_id(bytes(body))) in theirs
    }
    for row_id, comment_id in about.items():
        # As mailbridge.store.withdrawal notes it (a dead letter stays counted as one).
        await conn.execute(
            "UPDATE outbox SET status = 'withdrawn', lease_owner = NULL, "
            "lease_expires_at = NULL, last_error = ? || CASE WHEN status = 'failed' "
            "THEN ' (a dead letter: ' || coalesce(last_error, '') || ')' "
            "ELSE coalesce(' (last attempt: ' || last_error || ')', '') END "
            "WHERE id = ? AND status IN ('queued', 'failed')",
            (f"withdrawn: comment {comment_id} was erased before this went out", row_id),
        )
        await conn.execute("DELETE FROM outbox_messages WHERE outbox_id = ?", (row_id,))
    return len(about)
