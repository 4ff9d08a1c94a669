"""Filing a reply as a comment, the pipeline's last step (mailbridge.inbound.process):
what the filing needs to know first, read in one snapshot, then the comment and the
outcome on its inbound row in one transaction, so the server answers 250 only once
both are stored.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.extract import Extraction
from mailbridge.inbound.sent import sent_texts
from mailbridge.inbound.targets import ReplyTarget
from mailbridge.models import (
    ELIDED_KEPT,
    AttachmentNote,
    Comment,
    CommentStatus,
    NewComment,
    Source,
)
from mailbridge.moderate.analysis import TextAnalysis
from mailbridge.moderate.service import CommentService
from mailbridge.people.late_replies import forget_quote_of_erased
from mailbridge.store import inbound
from mailbridge.store.inbound import Disposition
from mailbridge.store.reply_facts import reply_facts
from mailbridge.store.subscriptions import Level

__all__ = ["ACCEPTED", "ReplyFiling", "reply_context"]

ACCEPTED = "250 2.0.0 Thank you: your reply was received and awaits moderation"


class ReplyFiling:
    """Files a reply that passed every check as a comment pending moderation."""

    def __init__(self, service: CommentService, clock: Clock) -> None:
        self._service = service
        self._clock = clock

    async def file(
        self,
        inbound_id: int,
        target: ReplyTarget,
        extraction: Extraction,
        body: str,
        analysis: TextAnalysis | None,
        author: str | None,
        held_reason: str | None,
        found: dict[str, Any],
    ) -> Comment:
        if extraction.unsure:
            # Never "empty" by accident: the words are filed, and a human decides.
            unsure = f"check what extraction should cut: {extraction.unsure}"
            held_reason = f"{held_reason}; {unsure}" if held_reason else unsure
        new = NewComment(
            thread_id=target.thread_id,
            parent_id=target.comment_id,
            # The name they use on the blog, never the From display name: that may be
            # a real name the person did not choose to publish.
            author=author or "Reader",
            body=body,
            status=CommentStatus.PENDING,
            source=Source.EMAIL,
            created_at=iso(self._clock.now()),
            email=target.email,
            notify=True,  # answering by email is asking to hear back
            source_ref=str(inbound_id),
            attachments=tuple(
                AttachmentNote(a.filename, a.content_type, a.size) for a in extraction.attachments
            ),
            held_reason=held_reason,
            # Kept for the moderator (docs/extraction.md); the raw message has the rest.
            elided=extraction.elided[:ELIDED_KEPT],
        )
        status = Disposition.HELD if held_reason else Disposition.ACCEPTED

        async def mark(
            conn: aiosqlite.Connection, comment: Comment, parent: Comment | None
        ) -> None:
            await inbound.set_outcome(
                conn,
                inbound_id,
                status,
                detail=ACCEPTED,
                checks=found,
                comment_id=comment.id,
                address_id=target.address_id,
            )
            # The parent as submit's transaction read it: this one (not read again).
            await forget_quote_of_erased(conn, inbound_id, comment, parent)

        return await self._service.submit(new, also=mark, analysis=analysis)


async def reply_context(
    conn: aiosqlite.Connection, target: ReplyTarget
) -> tuple[bool, Level | None, list[str], str | None]:
    """What a reply's filing needs to know, in one read snapshot: is the thread closed,
    what has this person asked to hear about it, what we sent them (it tells our quoted
    notification from the writer's own words), and the name they use on the blog. The
    first two and the last are one statement (mailbridge.store.reply_facts)."""
    facts = await reply_facts(conn, target.thread_id, target.address_id)
    if facts is None:  # no such thread: refused as closed, before anything else is used
        return True, None, [], None
    sent = await sent_texts(conn, target.email, target.comment_id)
    return facts.closed, facts.level, sent, facts.author
