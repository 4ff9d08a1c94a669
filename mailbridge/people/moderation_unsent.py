"""Moderation emails not sent yet that show an erased person's name or words.

A moderation email about a reply to one of their comments quotes it ("It answers Ann,
who wrote: ..."). Queued (a relay deferring it) or a dead letter (kept for good, and
sent as it was by ``mailbridge outbox --retry``), it is withdrawn and its bytes
deleted, and the reply counts as not yet mailed: the next moderation digest
(``moderation.digest_minutes``, in every mode) lists it as it is now.

A moderation digest or spam report not sent yet that lists one of their comments
(mailbridge.store.listings) went out within the minute with their name and words: it
is withdrawn too, and every comment it listed still waiting for a decision (pending;
for a report, still in the spam folder) counts as not yet mailed, for the next digest
or report to list as it is now (theirs by "a former commenter"). One that failed for
good since their first comment came is withdrawn whatever it lists (one queued before
sql/0031 recorded no listing). One a worker has taken goes out as it was.
"""

from __future__ import annotations

import aiosqlite

from mailbridge.store import listings
from mailbridge.store.engine import json_list

__all__ = ["relist_own", "withdraw_unsent"]

# The note withdrawal gives (mailbridge.store.withdrawal): a dead letter says so, and
# stays counted as one (WITHDRAWN_DEAD_LETTER).
_NOTE = (
    "last_error = ? || CASE WHEN status = 'failed' "
    "THEN ' (a dead letter: ' || coalesce(last_error, '') || ')' "
    "ELSE coalesce(' (last attempt: ' || last_error || ')', '') END"
)


_LISTED = "withdrawn: it listed a comment erased before it went out (the next one lists the others)"


async def _withdraw(conn: aiosqlite.Connection, ids: list[int], note: str) -> None:
    marks = ",".join("?" * len(ids))
    await conn.execute(
        "UPDATE outbox SET status = 'withdrawn', comment_id = NULL, lease_owner = NULL, "  # noqa: S608
        f"lease_expires_at = NULL, {_NOTE} WHERE id IN ({marks})",
        (note, *ids),
    )
    await conn.execute(f"DELETE FROM outbox_messages WHERE outbox_id IN ({marks})", ids)  # noqa: S608
    await conn.execute(f"DELETE FROM outbox_listed WHERE outbox_id IN ({marks})", ids)  # noqa: S608


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
    digests = {int(r[0]): str(r[1]) for r in await conn.execute_fetchall(
        "SELECT id, kind FROM outbox WHERE kind IN ('moderation_digest', 'spam_report') "  # noqa: S608
        "AND status IN ('queued', 'failed') AND comment_id IS NULL AND (id IN "
        f"(SELECT outbox_id FROM outbox_listed WHERE comment_id IN {ids}) OR (status = 'failed' "
        f"AND created_at >= (SELECT min(created_at) FROM comments WHERE id IN {ids})))",
        (theirs, theirs),
    )}  # fmt: skip
    if not digests:
        return len(about)
    for kind, waiting in (("moderation_digest", "pending"), ("spam_report", "spam")):
        listed = await listings.listed_by(conn, [i for i, k in digests.items() if k == kind])
        await conn.executemany(
            "UPDATE comments SET moderation_mailed_at = NULL WHERE id = ? AND status = ?",
            [(comment_id, waiting) for comment_id in listed],
        )
    await _withdraw(conn, sorted(digests), _LISTED)
    return len(about) + len(digests)


async def relist_own(conn: aiosqlite.Connection, theirs: str) -> None:
    """Their pending comments whose moderation email is not sent yet (it is deleted:
    it shows their address) count as not yet mailed: the next moderation digest lists
    them, by "a former commenter". Before the erasure deletes those emails."""
    ids = json_list(conn, "bigint")
    await conn.execute(
        "UPDATE comments SET moderation_mailed_at = NULL WHERE status = 'pending' "  # noqa: S608
        "AND id IN (SELECT comment_id FROM outbox WHERE kind = 'moderation_request' "
        f"AND status IN ('queued', 'failed') AND comment_id IN {ids})",
        (theirs,),
    )
