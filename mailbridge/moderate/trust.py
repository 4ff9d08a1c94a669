"""Who skips the queue: trusted commenters, regulars, and nobody when all is held.

The rule (WordPress's, plus explicit lists): a comment from a blocked address is
rejected at once, quietly; with ``moderation.hold_everything`` every other comment
waits for a moderator; a comment held for a reason (failed authentication, what
looks private, spam) always waits; a trusted address, or one with at least
``moderation.auto_approve_after`` approved comments, is published at once and the
moderators are told afterwards, with links to undo.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import aiosqlite

from mailbridge.models import Comment
from mailbridge.moderate.analysis import TextAnalysis
from mailbridge.spam.akismet import AkismetVerdict
from mailbridge.spam.scorer import ThreadScripts, score_comment
from mailbridge.store import threads, trust
from mailbridge.store.trust import Standing

__all__ = ["Assessment", "AutoDecision", "TrustPolicy", "decide", "grant"]


class AutoDecision(enum.Enum):
    APPROVE = "approve"  # published at once; moderators told afterwards
    REJECT = "reject"  # a blocked address: rejected, no moderation email
    SPAM = "spam"  # scored as spam: the spam folder, no moderation email
    WAIT = "wait"  # the moderation queue, as every comment by default


def decide(
    *,
    standing: Standing | None,
    approved_before: int,
    auto_approve_after: int,
    hold_everything: bool,
    held: bool,
    spam: str | None = None,
) -> tuple[AutoDecision, str]:
    """The decision and why, in words for the moderation email and the audit.

    ``spam`` is the spam verdict's reason when the score crossed the threshold: such
    a comment is never published without a moderator, trusted writer or not."""
    if standing is Standing.BLOCKED:
        return AutoDecision.REJECT, "the address is blocked"
    if spam is not None:
        return AutoDecision.SPAM, spam
    if hold_everything:
        return AutoDecision.WAIT, "every comment is held (moderation.hold_everything)"
    if held:
        return AutoDecision.WAIT, "held for a closer look"
    if standing is Standing.TRUSTED:
        return AutoDecision.APPROVE, "the writer is trusted"
    if auto_approve_after > 0 and approved_before >= auto_approve_after:
        return AutoDecision.APPROVE, f"the writer has {approved_before} approved comments"
    return AutoDecision.WAIT, "a new comment waits for a moderator"


@dataclass(frozen=True)
class Assessment:
    """A new comment's writer and words, as read before it is stored."""

    known: bool  # the writer's address is known (the comment has one)
    standing: Standing | None = None
    approved: int = 0  # their comments published before
    spam: str | None = None  # the spam verdict's reason when the score crossed the line


@dataclass(frozen=True)
class TrustPolicy:
    auto_approve_after: int = 0
    hold_everything: bool = False
    spam_threshold: float | None = 0.5  # None: no spam scoring
    site_urls: tuple[str, ...] = ()  # links to these are the site's own, not promotion
    # What the scorer remembers of threads (their script, by version): one per store.
    scripts: ThreadScripts = field(default_factory=ThreadScripts, compare=False, repr=False)

    async def assess(
        self,
        conn: aiosqlite.Connection,
        thread_id: int,
        body: str,
        email: str | None,
        seconds_to_write: float | None = None,
        akismet: AkismetVerdict | None = None,
        analysis: TextAnalysis | None = None,
        trapped: bool = False,
        form_doubt: str | None = None,
    ) -> Assessment:
        """What the decision rests on, read before the comment's write transaction (a
        read snapshot), so the reads and the scoring never hold the one writer. A
        writer seen for the first time has no standing and nothing approved."""
        if not email:
            return Assessment(known=False)
        # The address, its standing and its count in one statement, in this snapshot.
        writer = await trust.writer_by_email(conn, email)
        standing, approved = None, 0
        if writer is not None:
            standing, approved = writer.standing, writer.approved
        spam = None
        if self.spam_threshold is not None:
            verdict = await score_comment(
                conn,
                thread_id,
                body,
                first_comment=approved == 0,
                threshold=self.spam_threshold,
                seconds_to_write=seconds_to_write,
                form_doubt=form_doubt,
                trapped=trapped,
                site_urls=self.site_urls,
                akismet=akismet,
                features=analysis.features if analysis else None,
                words=analysis.words if analysis else None,
                scripts=self.scripts,
            )
            if verdict.spam:
                spam = verdict.reason()
        return Assessment(True, standing, approved, spam)

    def decision(self, assessment: Assessment, comment: Comment) -> tuple[AutoDecision, str]:
        if not assessment.known or comment.address_id is None:
            return AutoDecision.WAIT, "no address"
        return decide(
            standing=assessment.standing,
            approved_before=assessment.approved,
            auto_approve_after=self.auto_approve_after,
            hold_everything=self.hold_everything,
            held=bool(comment.held_reason),
            spam=assessment.spam,
        )


async def grant(conn: aiosqlite.Connection, comment: Comment, by: int | None, now: str) -> bool:
    """ "Approve and trust": trust the comment's writer since ``now`` (the decision's own
    time: its undo knows the trust as its own); False when they were trusted before
    (kept as it was, so an undo leaves it) or it has no writer."""
    if comment.address_id is None:
        return False
    if await trust.standing(conn, comment.address_id) is Standing.TRUSTED:
        return False
    if by is not None and await threads.address_email(conn, by) is None:
        # The moderator's address was erased since their link was sent: the trust
        # stands, by nobody known (a foreign key refused it: a 500).
        by = None
    await trust.set_standing(conn, comment.address_id, Standing.TRUSTED, now, by)
    return True
