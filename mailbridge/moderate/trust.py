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
from dataclasses import dataclass

import aiosqlite

from mailbridge.models import Comment
from mailbridge.spam.akismet import AkismetVerdict
from mailbridge.spam.scorer import score_comment
from mailbridge.store import trust
from mailbridge.store.trust import Standing

__all__ = ["AutoDecision", "TrustPolicy", "decide"]


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
class TrustPolicy:
    auto_approve_after: int = 0
    hold_everything: bool = False
    spam_threshold: float | None = 0.5  # None: no spam scoring
    site_urls: tuple[str, ...] = ()  # links to these are the site's own, not promotion

    async def decision(
        self,
        conn: aiosqlite.Connection,
        comment: Comment,
        seconds_to_write: float | None = None,
        akismet: AkismetVerdict | None = None,
    ) -> tuple[AutoDecision, str]:
        if comment.address_id is None:
            return AutoDecision.WAIT, "no address"
        standing = await trust.standing(conn, comment.address_id)
        approved = await trust.approved_count(conn, comment.address_id, comment.id)
        spam = None
        if self.spam_threshold is not None:
            verdict = await score_comment(
                conn,
                comment.id,
                comment.body,
                first_comment=approved == 0,
                threshold=self.spam_threshold,
                seconds_to_write=seconds_to_write,
                site_urls=self.site_urls,
                akismet=akismet,
            )
            if verdict.spam:
                spam = verdict.reason()
        return decide(
            standing=standing,
            approved_before=approved,
            auto_approve_after=self.auto_approve_after,
            hold_everything=self.hold_everything,
            held=bool(comment.held_reason),
            spam=spam,
        )
