"""Taking a decision back (Undo, docs/moderation.md): only the very decision named, only
while it is the latest, and with what it brought along (the trust "Approve and trust"
gave). The change itself goes through the service's usual path (audit, notifications).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import aiosqlite

from mailbridge.errors import NotFound
from mailbridge.models import Channel, CommentStatus, Decider
from mailbridge.moderate.outcome import ModerationOutcome
from mailbridge.spam import akismet_feedback, training
from mailbridge.store import comments, decisions, trust

__all__ = ["Apply", "take_back", "trust_alone"]

# StatusChange.apply (mailbridge.moderate.status_change): (conn, comment id, status, by,
# now) -> (outcome, notified)
Apply = Callable[
    [aiosqlite.Connection, int, CommentStatus, Decider, str],
    Awaitable[tuple[ModerationOutcome, int]],
]


async def take_back(
    conn: aiosqlite.Connection,
    apply: Apply,
    comment_id: int,
    decided: CommentStatus,
    back_to: CommentStatus,
    by: Decider,
    decision_id: int | None,
    now: str,
) -> tuple[ModerationOutcome | None, int]:
    """In the caller's transaction: (None, 0) when the decision no longer stands."""
    await comments.lock_for_decision(conn, comment_id)
    current = await comments.get_comment(conn, comment_id)
    if current is None:
        raise NotFound(f"no comment {comment_id}")
    if current.status is not decided:
        return None, 0
    history = await decisions.history(conn, comment_id)
    latest = history[-1] if history else None
    if decision_id is not None and (latest.id if latest else 0) != decision_id:
        return None, 0
    if back_to is decided:
        # "Approve and trust" on a comment published before (trust_alone): only the
        # trust it gave goes back; the comment stays as it is.
        withdrawn = False
        if current.address_id is not None and by.address_id is not None:
            since = latest.decided_at if latest else ""
            withdrawn = await trust.clear_granted_since(
                conn, current.address_id, since, by.address_id
            )
        return ModerationOutcome(current, decided, tuple(history), trust_withdrawn=withdrawn), 0
    mailed = await comments.moderation_mailed(conn, comment_id)
    outcome, notified = await apply(conn, comment_id, back_to, by, now)
    earlier = history[-2] if len(history) > 1 else None
    if earlier is None or earlier.channel is Channel.AUTO or earlier.status is not back_to:
        # Back to a status the daemon gave (the spam folder, a trusted writer), not a
        # moderator: the undo teaches nothing (apply() learnt it as the moderator's
        # Spam or Approve, and reported it to Akismet: a rescue undone taught "spam").
        await training.forget(conn, comment_id)
        await akismet_feedback.undecided(conn, comment_id)
    if (
        back_to is CommentStatus.SPAM
        and earlier is not None
        and earlier.channel is Channel.AUTO
        and earlier.status is CommentStatus.SPAM
    ):
        # Back in the folder as the filter's catch, not as a person's Spam: apply()
        # marked it told (a person's Spam has nothing for the spam report), and the
        # report never listed it; and the folder shows the filter's reasons again
        # (explain.placed_by skips the decision and its undo).
        await comments.set_moderation_mailed(conn, comment_id, mailed)
    address_id = current.address_id
    if decided is CommentStatus.APPROVED and latest is not None and address_id is not None:
        # "Approve and trust" undone: the trust it gave goes too, or the writer the
        # moderator changed their mind about is published unseen from now on.
        withdrawn = await trust.clear_granted(
            conn, address_id, latest.decided_at, latest.moderator_id
        )
        if withdrawn:
            outcome = replace(outcome, trust_withdrawn=True)
    return outcome, notified


async def trust_alone(
    conn: aiosqlite.Connection, comment_id: int, moderator_id: int, *, strict: bool
) -> int | None:
    """For "Approve and trust" pressed on a comment approved before: when the writer's
    trust is one ``moderator_id`` gave since the comment's latest decision (``strict``:
    after its second; in the same one the decision may have given it), the id of that
    decision (0: it has none) an Undo of the trust alone is bound to; else None."""
    comment = await comments.get_comment(conn, comment_id)
    if comment is None or comment.status is not CommentStatus.APPROVED:
        return None
    if comment.address_id is None:
        return None
    given = await trust.granted_by(conn, comment.address_id, moderator_id)
    history = await decisions.history(conn, comment_id)
    latest = history[-1] if history else None
    since = latest.decided_at if latest else ""
    if given is None or given < since or (strict and given == since):
        return None
    return latest.id if latest else 0
