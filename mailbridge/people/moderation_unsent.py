"""Moderation emails not sent yet that show an erased person's name or words.

A moderation email about a reply to one of their comments quotes it ("It answers Ann,
who wrote: ..."). Queued (a relay deferring it) or a dead letter (kept for good, and
sent as it was by ``mailbridge outbox --retry``), it is withdrawn and its bytes
deleted, and the reply counts as not yet mailed: the next moderation digest
(``moderation.digest_minutes``, in every mode) lists it as it is now. A moderation
digest or spam report that failed for good since their first comment came is
withdrawn as well (never delivered; what it listed is on the queue page). One queued
is left to go out: what it listed was marked mailed, and withdrawn it would never be.
"""

from __future__ import annotations

import aiosqlite

from mailbridge.store.engine import json_list

__all__ = ["withdraw_unsent"]

# The note withdrawal gives (mailbridge.store.withdrawal): a dead letter says so, and
# stays counted as one (WITHDRAWN_DEAD_LETTER).
_NOTE = (
    "last_error = ? || CASE WHEN status = 'failed' "
    "THEN ' (a dead letter: ' || coalesce(last_error, '') || ')' "
    "ELSE coalesce(' (last attempt: ' || last_error || ')', '') END"
)


async def _withdraw(conn: aiosqlite.Connection, ids: list[int], note: str) -> None:
    marks = ",".join("?" * len(ids))
    await conn.execute(
        "UPDATE outbox SET status = 'withdrawn', comment_id = NULL, lease_owner = NULL, "  # noqa: S608
        f"lease_expires_at = NULL, {_NOTE} WHERE id IN ({marks})",
        (note, *ids),
    )
    await conn.execute(f"DELETE FROM outbox_messages WHERE outbox_id IN ({marks})", ids)  # noqa: S608


async def withdraw_unsent(conn: aiosqlite.Connection, theirs: str) -> int:
    """Withdraw the unsent moderation emails showing a comment of ``theirs`` (a JSON
    list of comment ids); how many."""
    ids = json_list(conn, "bigint")
    about = [(int(r[0]), int(r[1])) for r in await conn.execute_fetchall(
        "SELECT id, comment_id FROM outbox WHERE kind = 'moderation_request' "  # noqa: S608
        "AND status IN ('queued', 'failed') "
        f"AND comment_id IN (SELECT id FROM comments WHERE parent_id IN {ids})",
        (theirs,),
    )]  # fmt: skip
    for row_id, reply_id in about:
        await _withdraw(
            conn,
            [row_id],
            f"withdrawn: comment {reply_id} answers a comment erased before this went out "
            "(the next moderation digest lists it)",
        )
        await conn.execute(
            "UPDATE comments SET moderation_mailed_at = NULL WHERE id = ? AND status = 'pending'",
            (reply_id,),
        )
    failed = [int(r[0]) for r in await conn.execute_fetchall(
        "SELECT id FROM outbox WHERE kind IN ('moderation_digest', 'spam_report') "  # noqa: S608
        "AND status = 'failed' AND comment_id IS NULL AND created_at >= "
        f"(SELECT min(created_at) FROM comments WHERE id IN {ids})",
        (theirs,),
    )]  # fmt: skip
    if failed:
        await _withdraw(conn, failed, "withdrawn: it may list a comment erased since")
    return len(about) + len(failed)
