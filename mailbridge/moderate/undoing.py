"""Taking a decision back (Undo, docs/moderation.md): only the very decision named, only
while it is the latest, and with what it brought along (the trust "Approve and trust"
gave). The change itself goes through the service's usual path (audit, notifications).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import aiosqlite

from mailbridge.errors import NotFound
from mailbridge.models import CommentStatus, Decider
from mailbridge.moderate.outcome import ModerationOutcome
from mailbridge.store import comments, decisions, trust

__all__ = ["Apply", "take_back"]

# CommentService._apply: (conn, comment id, status, by, now) -> (outcome, notified)
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
    if decision_id is not None and (latest is None or latest.id != decision_id):
        return None, 0
    outcome, notified = await apply(conn, comment_id, back_to, by, now)
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
