"""The spam folder's own decisions (its page, docs/spam.md): "Not spam" and "Delete for
good", each only for a comment still in the folder, in the caller's transaction.

"Not spam" teaches the trained filter "ham" whether it publishes the comment or puts
it back in the queue: the moderator said what it is, as WordPress's Not Spam tells
Akismet. (An Undo back to pending teaches nothing: it says "not that", not "ham".)

"Delete for good" forgets the address the comment was sent with when nothing else
needs it, as the folder's purge does (mailbridge.people.unreferenced): a robot often
types a real person's, and the purge never sees a comment deleted before it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.errors import NotFound
from mailbridge.models import Comment, CommentStatus
from mailbridge.moderate import removal
from mailbridge.people.unreferenced import forget_unreferenced
from mailbridge.spam import akismet_feedback, training
from mailbridge.store import comments
from mailbridge.webhooks.events import WebhookEvents

__all__ = ["Removed", "delete_from_folder", "taught_ham"]


class Removed(enum.Enum):
    DELETED = "deleted"
    ANSWERED = "answered"  # somebody replied to it: not deleted (reject it instead)
    LEFT = "left"  # no longer in the folder: decided since the page was loaded


async def taught_ham(
    conn: aiosqlite.Connection, comment: Comment, akismet: str | None, clock: Clock
) -> int:
    """A comment rescued to pending: the filter learns it as ham, and Akismet (its
    endpoint, when one checks comments) is told where it was wrong. Rows queued.

    It counts as mailed to the moderators: one has just read it, and it waits on the
    queue page. Rescued before the day's spam report marked it, it was in the next
    moderation digest; after, it was not."""
    await comments.mark_moderation_mailed(conn, [comment.id], iso(clock.now()))
    await training.learn(conn, comment.id, comment.body, spam=False)
    if akismet is None:
        return 0
    return await akismet_feedback.decided(conn, comment.id, "ham", akismet, clock)


async def delete_from_folder(
    conn: aiosqlite.Connection,
    comment_id: int,
    events: WebhookEvents | None,
    now: datetime,
    moderators: Sequence[str] = (),
) -> tuple[Removed, int]:
    """Delete a comment that is still spam and that nobody answered: (what happened,
    deliveries queued). What a moderator's Spam taught the filter stays learnt.

    Its address goes with it once nothing else needs it, as with the folder's own
    purge (mailbridge.people.unreferenced; ``moderators``: moderation.moderators, kept):
    deleted for good, a robot's comment left the address it typed (often a real
    person's) for good, with the subscription held for a rescue that cannot come."""
    await comments.lock_for_decision(conn, comment_id)
    comment = await comments.get_comment(conn, comment_id)
    if comment is None:
        raise NotFound(f"no comment {comment_id}")
    if comment.status is not CommentStatus.SPAM:
        return Removed.LEFT, 0
    deleted, queued = await removal.delete_unanswered(
        conn, comment_id, events, now, keep_learnt=True
    )
    if not deleted:
        return Removed.ANSWERED, queued
    if comment.address_id is not None:
        await forget_unreferenced(conn, [(comment.address_id, comment.thread_id)], moderators)
    return Removed.DELETED, queued
