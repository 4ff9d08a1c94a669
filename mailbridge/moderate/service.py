"""Comment lifecycle: new comments wait for moderation; approval publishes and notifies.

No HTTP or SMTP knowledge here: the web API, the inbound mail pipeline and the
moderation pages all call this one service, and every change it makes commits
together with the emails it causes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.errors import InvalidInput, NotFound
from mailbridge.models import (
    Channel,
    Comment,
    CommentStatus,
    Decider,
    Decision,
    NewComment,
    Source,
    Thread,
)
from mailbridge.moderate import removal, spam_folder, undoing
from mailbridge.moderate.analysis import TextAnalysis
from mailbridge.moderate.holding import flag_private
from mailbridge.moderate.outcome import (
    ModerationOutcome,
    ModerationView,
    ModeratorAnswer,
    read_view,
)
from mailbridge.moderate.private import private_findings
from mailbridge.moderate.status_change import StatusChange
from mailbridge.moderate.trust import AutoDecision, TrustPolicy, grant
from mailbridge.notify import Notifier
from mailbridge.spam import akismet_feedback
from mailbridge.spam.akismet import Akismet
from mailbridge.store import Store, comments, decisions, moderation_queue, threads
from mailbridge.store.subscriptions import Level
from mailbridge.tokens import Action
from mailbridge.webhooks.events import WebhookEvents

__all__ = [
    "CommentService",
    "ModerationOutcome",
    "ModerationView",
    "ModeratorAnswer",
    "SameTransaction",
    "WithParent",
]

log = logging.getLogger(__name__)

SameTransaction = Callable[[aiosqlite.Connection, Comment], Awaitable[None]]
# submit's ``also``: the new comment and its parent (None for a top-level comment), as
# the submitting transaction read them (so it need not read the parent again).
WithParent = Callable[[aiosqlite.Connection, Comment, Comment | None], Awaitable[None]]


class CommentService:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        queued: Callable[[], None] = lambda: None,
        policy: TrustPolicy | None = None,
        akismet: Akismet | None = None,
        events: WebhookEvents | None = None,
        mail_later: Callable[[], None] | None = None,
        moderators: Sequence[str] = (),
    ) -> None:
        """``moderators``: moderation.moderators (their addresses are never forgotten)."""
        self._store = store
        self._moderators = tuple(moderators)
        # With it, a new comment's moderation emails are built after its commit
        # (mailbridge.notify.moderation_mailer, woken by it); without, in its transaction.
        self._mail_later = mail_later
        self._akismet = akismet
        self._events = events
        self._policy = policy or TrustPolicy()
        self._notifier = notifier
        self._clock = clock
        self._change = StatusChange(notifier, clock, akismet, events)
        # Told after a commit that queued or scheduled mail (wakes the worker and digester).
        self._queued = queued

    @property
    def keeps_spam(self) -> bool:
        """Whether comments are scored, so a suspect one can wait in the spam folder."""
        return self._policy.spam_threshold is not None

    async def thread(self, key: str) -> Thread:
        found = await self._store.read(lambda c: threads.get_thread(c, key=key))
        if found is None:
            raise NotFound(f"no thread '{key}'")
        return found

    async def submit(
        self,
        new: NewComment,
        also: WithParent | None = None,
        analysis: TextAnalysis | None = None,
    ) -> Comment:
        """Store a pending comment and queue its moderation emails, in one transaction.

        ``also`` runs in the same transaction (the inbound pipeline marks its
        message accepted there, so the comment and that mark commit together), with
        the comment and its parent as read in it.
        ``analysis``: what a worker process read from the comment's words already
        (mailbridge.moderate.analysis); used only if it was read from this very body.
        """
        if analysis is not None and analysis.body != new.body:
            analysis = None
        outside = None
        if self._akismet is not None and self._policy.spam_threshold is not None:
            # Asked before the transaction: a slow service must not hold the database.
            thread = await self._store.read(
                lambda c: threads.get_thread(c, thread_id=new.thread_id)
            )
            outside = await self._akismet.check(new, thread.url if thread else "")
        # The trust and spam reads and scoring, before the transaction too (issue 14):
        # they held the one writer while every other comment waited.
        assessment = await self._store.read(
            lambda c: self._policy.assess(
                c,
                new.thread_id,
                new.body,
                new.email,
                new.seconds_to_write,
                outside,
                analysis,
                trapped=new.trapped,
                form_doubt=new.form_doubt,
            )
        )
        private = list(analysis.private) if analysis else private_findings(new.body)

        async def work(conn: aiosqlite.Connection) -> tuple[Comment, int, bool]:
            parent = None
            if new.parent_id is not None:
                parent = await comments.get_comment(conn, new.parent_id)
                if parent is None or parent.thread_id != new.thread_id:
                    raise InvalidInput("parent", "parent: no such comment in this thread")
                if parent.status is not CommentStatus.APPROVED and new.source is Source.WEB:
                    raise InvalidInput("parent", "parent: that comment is not published")
            # The row as the INSERT stored it (RETURNING), not read again after it.
            comment, created = await comments.add_comment(conn, new)
            comment_id = comment.id
            if created and outside is not None and outside.sent:
                # For a report if a moderator decides otherwise (spam/akismet_feedback.py).
                now_s = self._clock.now().timestamp()
                await akismet_feedback.remember(conn, comment_id, outside.sent, outside.spam, now_s)
            if also is not None:
                # First: the inbound row's checks are what the moderation email shows.
                await also(conn, comment, parent)
            queued = 0
            mail_row = False  # a row for the moderation mailer: wake it after the commit
            if created and comment.address_id is not None:
                if new.source is Source.WEB and new.subscribe and assessment.spam is not None:
                    # Bound for the spam folder: remembered, but no confirmation email to
                    # an address a robot typed; a rescue sends it (StatusChange.apply).
                    await self._notifier.subscription_held(
                        conn, comment.address_id, comment.thread_id, Level(new.subscribe)
                    )
                elif new.source is Source.WEB and new.subscribe:
                    thread = await threads.get_thread(conn, thread_id=comment.thread_id)
                    assert thread is not None
                    queued += await self._notifier.subscription_requested(
                        conn, comment.address_id, thread, Level(new.subscribe)
                    )
                elif new.source is Source.EMAIL:
                    await self._notifier.replied_by_email(
                        conn, comment.address_id, comment.thread_id
                    )
            if created and self._events is not None:
                queued += await self._events.comment(conn, "comment.created", comment)
                if new.source is Source.EMAIL:
                    queued += await self._events.comment(conn, "reply.received", comment)
            if created and comment.status is CommentStatus.PENDING:
                comment = await flag_private(conn, comment, private)
                decision, why = self._policy.decision(assessment, comment)
                if decision is AutoDecision.WAIT:
                    mailed, mail_row = await self._moderation_mail(conn, comment, None)
                    queued += mailed
                else:
                    # Trusted (published now, moderators told with links to undo) or
                    # blocked (rejected quietly); recorded in the audit as "auto".
                    target = {
                        AutoDecision.APPROVE: CommentStatus.APPROVED,
                        AutoDecision.REJECT: CommentStatus.REJECTED,
                        AutoDecision.SPAM: CommentStatus.SPAM,
                    }[decision]
                    now = iso(self._clock.now())
                    if decision is AutoDecision.SPAM:
                        # Kept in the spam folder with why, for a rescue (docs/spam.md),
                        # and what else held it: whoever rescues it must see that it may
                        # carry its writer's number (it replaced that note before).
                        held = comment.held_reason
                        await comments.set_held_reason(
                            conn, comment.id, f"{why}; {held}" if held else why
                        )
                    auto = Decider(Channel.AUTO, None)
                    outcome, notified = await self._change.apply(
                        conn, comment.id, target, auto, now
                    )
                    comment = outcome.comment
                    queued += notified
                    if decision is AutoDecision.APPROVE:
                        mailed, mail_row = await self._moderation_mail(conn, comment, why)
                        queued += mailed
            return comment, queued, mail_row

        comment, queued, mail_row = await self._store.write(work)
        if mail_row and self._mail_later is not None:
            # Not for a comment left for the digest (most of a flood, in "auto" mode)
            # or sent to spam: the mailer would only read an empty queue.
            self._mail_later()
        log.info(
            "comment %d on thread %d from %s: %s",
            comment.id,
            comment.thread_id,
            comment.source.value,
            comment.status.value,
        )
        if queued:
            self._queued()
        return comment

    async def _moderation_mail(
        self, conn: aiosqlite.Connection, comment: Comment, auto_approved: str | None
    ) -> tuple[int, bool]:
        """The moderators' emails about a new comment: queued now, or left to be built;
        (emails queued, whether a row was left for the moderation mailer)."""
        if self._mail_later is None:
            return await self._notifier.moderation_requests(conn, comment, auto_approved), False
        # Asked now, as the comment comes: "auto" mode counts what is pending at its time.
        if auto_approved is None and await self._notifier.leave_for_digest(conn):
            return 0, False  # the next digest carries it
        await moderation_queue.add(conn, comment.id, auto_approved, iso(self._clock.now()))
        return 0, True

    async def moderate(
        self,
        comment_id: int,
        action: Action,
        by: Decider,
        expected: CommentStatus | None = None,
    ) -> ModerationOutcome:
        """Apply ``action`` for ``by``; idempotent: a comment that already has the
        status is left alone and nothing is recorded. A change is recorded in the
        moderation audit, in the same transaction. With ``expected``, only a comment
        that still has that status is changed (see :meth:`decide`).

        Readers are told once, on the first publication (``mark_published``). A
        later change of mind withdraws the batched notifications still waiting, and
        publishing again releases only those: nobody is told twice.
        """

        given: list[bool] = []

        async def trusted(conn: aiosqlite.Connection, comment: Comment, now: str) -> None:
            if action is Action.TRUST and await grant(conn, comment, by.address_id, now):
                given.append(True)

        status = CommentStatus(action.status)
        outcome = await self._decide(comment_id, status, by, trusted, expected)
        return replace(outcome, trust_given=bool(given)) if given else outcome

    async def decide(
        self,
        comment_id: int,
        status: CommentStatus,
        by: Decider,
        also: SameTransaction | None = None,
        expected: CommentStatus | None = None,
    ) -> ModerationOutcome:
        """Give the comment ``status`` (see :meth:`moderate`); ``also`` runs in the same
        transaction, after the change. With ``expected``, a comment whose status is no
        longer that is left alone (an unchanged outcome with its current status): a
        page loaded before someone else decided it must not overrule them."""

        async def then(conn: aiosqlite.Connection, comment: Comment, _now: str) -> None:
            if also is not None:
                await also(conn, comment)

        return await self._decide(comment_id, status, by, then, expected)

    async def _decide(
        self,
        comment_id: int,
        status: CommentStatus,
        by: Decider,
        also: Callable[[aiosqlite.Connection, Comment, str], Awaitable[None]],
        expected: CommentStatus | None = None,
    ) -> ModerationOutcome:
        async def work(conn: aiosqlite.Connection) -> tuple[ModerationOutcome, int]:
            if expected is not None:
                current = await comments.get_comment(conn, comment_id)
                if current is None:
                    raise NotFound(f"no comment {comment_id}")
                if current.status is not expected:
                    return ModerationOutcome(current, current.status), 0
            now = iso(self._clock.now())
            outcome, notified = await self._change.apply(conn, comment_id, status, by, now)
            await also(conn, outcome.comment, now)
            return outcome, notified

        outcome, notified = await self._store.write(work)
        if outcome.changed:
            log.info(
                "comment %d: %s -> %s by moderator %s via %s%s",
                comment_id,
                outcome.previous.value,
                outcome.comment.status.value,
                by.address_id if by.address_id is not None else "(unknown)",
                by.channel.value,
                f" ({notified} notification(s) queued or scheduled)" if notified else "",
            )
        if notified:
            self._queued()
        return outcome

    async def rescue(self, comment_id: int, by: Decider) -> ModerationOutcome:
        """The spam folder's Not spam, into the queue: back to pending if still spam
        (else unchanged), the filter taught ham (mailbridge.moderate.spam_folder)."""
        endpoint = self._akismet.endpoint if self._akismet is not None else None
        reports: list[int] = []

        async def taught(conn: aiosqlite.Connection, comment: Comment, _now: str) -> None:
            reports.append(await spam_folder.taught_ham(conn, comment, endpoint, self._clock))

        outcome = await self._decide(
            comment_id, CommentStatus.PENDING, by, taught, expected=CommentStatus.SPAM
        )
        if any(reports):  # an Akismet report queued: wake the worker, now committed
            self._queued()
        return outcome

    async def delete_spam(self, comment_id: int) -> spam_folder.Removed:
        """The spam folder's Delete for good, of a comment still there, and its address
        when nothing else needs it (see its module)."""

        async def work(conn: aiosqlite.Connection) -> tuple[spam_folder.Removed, int]:
            now = self._clock.now()
            return await spam_folder.delete_from_folder(
                conn, comment_id, self._events, now, self._moderators
            )

        removed, queued = await self._store.write(work)
        if removed is spam_folder.Removed.DELETED:
            log.info("comment %d: deleted from the spam folder", comment_id)
        if queued:
            self._queued()
        return removed

    async def undo(
        self,
        comment_id: int,
        decided: CommentStatus,
        back_to: CommentStatus,
        by: Decider,
        decision_id: int | None = None,
    ) -> ModerationOutcome | None:
        """Put a comment back to the status it had before a decision, if nothing was
        decided since (else None). Nobody is notified twice (see :meth:`moderate`).

        ``decision_id`` names the decision taken back: it must still be the latest. The
        status alone is not enough: approve, undo, approve again, and the first undo's
        POST resent by the browser (or a queue page loaded before someone else decided)
        found the status it expected and overruled the newer decision. None only for an
        undo link from before they named their decision."""

        async def work(conn: aiosqlite.Connection) -> tuple[ModerationOutcome | None, int]:
            now = iso(self._clock.now())
            return await undoing.take_back(
                conn, self._change.apply, comment_id, decided, back_to, by, decision_id, now
            )

        outcome, notified = await self._store.write(work)
        if outcome is not None:
            log.info("comment %d: undone, %s -> %s", comment_id, decided.value, back_to.value)
        if notified:
            self._queued()
        return outcome

    async def trust_alone(
        self, comment_id: int, moderator_id: int, *, strict: bool = False
    ) -> int | None:
        """See :func:`mailbridge.moderate.undoing.trust_alone`."""
        return await self._store.read(
            lambda c: undoing.trust_alone(c, comment_id, moderator_id, strict=strict)
        )

    async def standing_decision(self, comment_id: int, days: int) -> Decision | None:
        """The comment's latest decision of the last ``days`` days, if it still stands."""
        since = iso(self._clock.now() - timedelta(days=days))
        return await self._store.read(lambda c: decisions.undoable_one(c, comment_id, since))

    async def delete(self, comment_id: int) -> bool:
        """Delete a comment that nobody answered, with its decisions and what it taught
        the spam filter (emails and received messages stay, without the link to it).
        False when it has replies: rejecting it takes it and them off the page instead,
        and keeps the conversation whole for the moderators. NotFound when missing."""

        async def work(conn: aiosqlite.Connection) -> tuple[bool, int]:
            return await removal.delete_unanswered(
                conn, comment_id, self._events, self._clock.now()
            )

        deleted, queued = await self._store.write(work)
        if deleted:
            log.info("comment %d: deleted", comment_id)
        if queued:
            self._queued()
        return deleted

    async def answer_as_moderator(self, new: NewComment, by: Decider) -> ModeratorAnswer:
        """A moderator's own answer (moderating by reply): stored and published at
        once, in one transaction, notifying the person it answers; or, when its words
        look like they carry personal details, held with a moderation email like any
        comment (issue 10: never published unseen; nobody saw it as it would be
        published, and its signature or a number may have come along). An answer with
        the same words sent again is not stored twice."""
        private = tuple(private_findings(new.body))

        async def work(conn: aiosqlite.Connection) -> tuple[ModeratorAnswer, int]:
            assert new.parent_id is not None
            # Nothing tells a moderator their reply worked, so some send it again: the
            # same words twice would be on the page twice and emailed twice.
            earlier = await comments.same_answer(conn, new.parent_id, new.author, new.body)
            if earlier is not None:
                held = () if earlier[1] is CommentStatus.APPROVED else private
                return ModeratorAnswer(earlier[0], again=True, held=held), 0
            comment_id, _created = await comments.insert_comment(conn, new)
            if private:
                comment = await comments.get_comment(conn, comment_id)
                assert comment is not None and comment.status is CommentStatus.PENDING
                comment = await flag_private(conn, comment, list(private))
                queued, _row = await self._moderation_mail(conn, comment, None)
                return ModeratorAnswer(comment_id, held=private), queued
            now = iso(self._clock.now())
            _outcome, notified = await self._change.apply(
                conn, comment_id, CommentStatus.APPROVED, by, now
            )
            return ModeratorAnswer(comment_id), notified

        answer, queued = await self._store.write(work)
        if self._mail_later is not None and answer.held and not answer.again:
            self._mail_later()
        state = "held" if answer.held else "published"
        log.info("comment %d: a moderator's answer, %s%s", answer.id, state,
                 " before" if answer.again else "")  # fmt: skip
        if queued:
            self._queued()
        return answer

    async def mirror(
        self, new: NewComment, by: Decider, also: SameTransaction | None = None
    ) -> tuple[Comment, bool]:
        """A comment another system published (the WordPress bridge): stored, then
        published through the same path as a moderator's approval (audit, readers
        told once), in one transaction with ``also``. Idempotent on ``new.source_ref``:
        (comment, False) when it was stored before, and nothing is done again."""

        async def work(conn: aiosqlite.Connection) -> tuple[Comment, bool, int]:
            comment_id, created = await comments.insert_comment(conn, new)
            notified = 0
            if created:
                now = iso(self._clock.now())
                outcome, notified = await self._change.apply(
                    conn, comment_id, CommentStatus.APPROVED, by, now
                )
                comment = outcome.comment
            else:
                found = await comments.get_comment(conn, comment_id)
                assert found is not None
                comment = found
            if also is not None:
                await also(conn, comment)
            return comment, created, notified

        comment, created, notified = await self._store.write(work)
        if created:
            log.info("comment %d: published from %s", comment.id, by.channel.value)
        if notified:
            self._queued()
        return comment, created

    async def view(self, comment_id: int) -> ModerationView:
        """A comment with its parent, thread and decisions, for the moderation pages."""

        return await self._store.read(lambda conn: read_view(conn, comment_id))
