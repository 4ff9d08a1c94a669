"""What giving a comment a status brings along, in the caller's transaction: its
record in the moderation audit, what the filter learns from a person's decision and
what Akismet is told, the first publication and its readers' notifications (or their
withdrawal when it leaves the page), and the webhook events. Every road to a status
goes through :meth:`StatusChange.apply`: a moderator's decision, an automatic one, an
undo (:mod:`mailbridge.moderate.undoing`), a moderator's answer, a mirrored comment.
"""

from __future__ import annotations

import aiosqlite

from mailbridge.clock import Clock
from mailbridge.errors import ErasedComment, NotFound
from mailbridge.models import Channel, CommentStatus, Decider
from mailbridge.moderate.outcome import ModerationOutcome
from mailbridge.notify import Notifier
from mailbridge.people import data as people
from mailbridge.spam import akismet_feedback, training
from mailbridge.spam.akismet import Akismet
from mailbridge.store import comments, decisions
from mailbridge.webhooks.events import WebhookEvents

__all__ = ["StatusChange"]


class StatusChange:
    def __init__(
        self,
        notifier: Notifier,
        clock: Clock,
        akismet: Akismet | None = None,
        events: WebhookEvents | None = None,
    ) -> None:
        self._notifier = notifier
        self._clock = clock
        self._akismet = akismet
        self._events = events

    async def apply(
        self,
        conn: aiosqlite.Connection,
        comment_id: int,
        status: CommentStatus,
        by: Decider,
        now: str,
    ) -> tuple[ModerationOutcome, int]:
        """Set the status in the caller's transaction: audit, publication, notifications."""
        await comments.lock_for_decision(conn, comment_id)
        before = await comments.get_comment(conn, comment_id)
        if before is not None and before.status is not status and people.removed(before):
            # An old Approve link or an Undo published it again, empty, "by a former
            # commenter", and told its readers.
            raise ErasedComment(f"comment {comment_id} was erased at its writer's request")
        previous = await comments.set_status(conn, comment_id, status, now)
        if previous is None:
            raise NotFound(f"no comment {comment_id}")
        comment = await comments.get_comment(conn, comment_id)
        assert comment is not None
        notified = 0
        first = False
        decision_id = None
        if previous is not status:
            decision_id = await decisions.record(conn, comment_id, previous, status, by, now)
            if by.channel is not Channel.AUTO:
                # The author's Approve and Spam train the filter; the filter's own
                # decisions do not (docs/spam.md).
                await training.learn_decision(conn, comment_id, comment.body, status)
                label = training.LABELS.get(status)
                if self._akismet is not None and label is not None:
                    notified += await akismet_feedback.decided(
                        conn, comment_id, label, self._akismet.endpoint, self._clock
                    )
                elif self._akismet is not None:
                    await akismet_feedback.undecided(conn, comment_id)
                if status is CommentStatus.SPAM:
                    # A person put it in the spam folder (a moderator, the operator,
                    # wp-admin): nothing for the spam report to tell, or to offer to
                    # publish. Listed, an author's Spam on fifty old comments in
                    # wp-admin filled the report before the filter's catch.
                    await comments.mark_moderation_mailed(conn, [comment_id], now)
            if status is CommentStatus.APPROVED:
                first = await comments.mark_published(conn, comment_id, now)
                # Added to, not set: the Akismet report above must wake the outbox too.
                if first:
                    notified += await self._notifier.comment_published(conn, comment)
                else:
                    notified += await self._notifier.comment_republished(conn, comment)
            elif previous is CommentStatus.APPROVED:
                # Counted: a withdrawn digest's other comments wait for the digester.
                notified += await self._notifier.comment_unpublished(conn, comment)
            if previous is CommentStatus.SPAM and status is not CommentStatus.REJECTED:
                notified += await self._notifier.subscription_rescued(conn, comment)
            events = [{CommentStatus.APPROVED: "comment.approved",
                       CommentStatus.REJECTED: "comment.rejected"}.get(status)]  # fmt: skip
            if previous is CommentStatus.APPROVED:
                # Off the page by any road (an undo to pending, Spam): a receiver that
                # showed it on "comment.approved" must hear of it, not only of a reject.
                events.append("comment.unpublished")
            for event in events:
                if event is not None and self._events is not None:
                    notified += await self._events.comment(conn, event, comment)
        history = tuple(await decisions.history(conn, comment_id))
        comment = await comments.get_comment(conn, comment_id)
        assert comment is not None
        return ModerationOutcome(comment, previous, history, first, decision_id), notified
