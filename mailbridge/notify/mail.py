"""The postman: renders each kind of email mailbridge sends and queues it in the outbox.

Every method runs inside the caller's write transaction, so an email is queued if
and only if the change that caused it commits. Nothing here decides *who* hears
about what; :mod:`mailbridge.notify.notifier` does. The links, reply addresses and
list headers each email carries are :mod:`mailbridge.notify.addressing`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from typing import Any

import aiosqlite

from mailbridge.addresses import mailbox
from mailbridge.clock import Clock, iso
from mailbridge.models import Comment, Thread
from mailbridge.notify.addressing import Addressing
from mailbridge.notify.digest_fit import fit_digest
from mailbridge.notify.drafts import Draft, build
from mailbridge.notify.writer import WriterFacts
from mailbridge.outbound.compose import compose, make_message_id, well_formed_message_id
from mailbridge.rejections import Rejection
from mailbridge.settings import Settings
from mailbridge.store import listings, mail_events, outbox, threads, withdrawal
from mailbridge.templating import RenderedEmail, Renderer
from mailbridge.tokens import Action, Keyring, LinkPurpose

__all__ = [
    "ELIDED_SHOWN",
    "DigestEntry",
    "DigestItem",
    "Mailer",
    "cut_short",
    "excerpt",
]

log = logging.getLogger(__name__)


def excerpt(text: str, limit: int = 300) -> str:
    """The start of ``text``, cut at a word boundary, with an ellipsis when shortened."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + "…"


# What extraction cut is shown to the moderator up to this many characters: enough to
# spot a wrong cut, while a long quoted thread does not swell every moderation email.
ELIDED_SHOWN = 2000


def cut_short(text: str, limit: int) -> tuple[str, int]:
    """``text`` without surrounding blank lines, at most ``limit`` characters (cut at a
    line end where one is near), and how many characters were left out."""
    text = text.strip("\n")
    if len(text) <= limit:
        return text, 0
    cut = text[:limit]
    line_end = cut.rfind("\n")
    if line_end > limit // 2:
        cut = cut[:line_end]
    return cut, len(text) - len(cut)


@dataclass(frozen=True)
class DigestEntry:
    """One pending comment in a moderation digest, with its moderator's links."""

    comment: Comment
    thread: Thread
    links: dict[str, str]


@dataclass(frozen=True)
class DigestItem:
    """One comment in a notification: what it says, and how to answer it."""

    comment: Comment
    parent: Comment | None
    why: str  # "reply": it answers the recipient; "thread": new in a followed thread
    url: str
    reply_address: str
    parent_excerpt: str


class Mailer:
    def __init__(self, settings: Settings, keyring: Keyring, renderer: Renderer, clock: Clock):
        self._settings = settings
        self._renderer = renderer
        self._clock = clock
        self.addressing = Addressing(settings, keyring, clock)
        # What this class's own headers and links use, as the addressing makes them.
        self.sender = self.addressing.sender
        self.domain = self.addressing.domain
        self._base = self.addressing.base

    # -- pieces -----------------------------------------------------------------

    async def moderation_digest(
        self,
        conn: aiosqlite.Connection,
        moderator: Address,
        entries: Sequence[DigestEntry],
        waiting: int,
    ) -> tuple[int, bool]:
        """Queue ``moderator``'s digest of the leading ``entries`` that fit in one
        readable email (mailbridge.notify.digest_fit), of ``waiting`` in all: how many
        it lists, and whether it was queued (not to a suppressed address)."""

        def render(count: int) -> RenderedEmail:
            return self.render(
                "moderation_digest",
                entries=list(entries[:count]),
                more=waiting - count,
                queue_url=f"{self._base}/moderate",
                link_days=self._settings.moderation.link_days,
            )

        listed, rendered = fit_digest(render, [e.comment for e in entries])
        message_id = make_message_id("moderation-digest", self.domain)
        queued = await self.queue(
            conn, "moderation_digest", None, moderator, rendered, message_id=message_id
        )
        # What it lists: an erasure withdraws it (mailbridge.people.moderation_unsent).
        await listings.record(conn, message_id, [e.comment.id for e in entries[:listed]])
        return listed, queued

    async def spam_report(
        self,
        conn: aiosqlite.Connection,
        moderator: Address,
        entries: Sequence[DigestEntry],
        total: int,
    ) -> bool:
        """What went to the spam folder since the last report, each with a rescue link."""
        rendered = self.render(
            "spam_report",
            entries=list(entries),
            total=total,
            more=total - len(entries),
            spam_url=f"{self._base}/moderate/spam",
            link_days=self._settings.moderation.link_days,
        )
        message_id = make_message_id("spam-report", self.domain)
        queued = await self.queue(
            conn, "spam_report", None, moderator, rendered, message_id=message_id
        )
        await listings.record(conn, message_id, [e.comment.id for e in entries])
        return queued

    def render(self, name: str, **context: Any) -> RenderedEmail:
        return self._renderer.email(name, site_name=self._settings.site.name, **context)

    async def queue(
        self,
        conn: aiosqlite.Connection,
        kind: str,
        comment_id: int | None,
        to: Address,
        rendered: RenderedEmail,
        *,
        message_id: str,
        reply_to: Address | None = None,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
        auto_submitted: str = "auto-generated",
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> bool:
        """Compose and queue one email; False when the address is suppressed or it is a repeat."""
        if await self._suppressed(conn, to.addr_spec, kind, message_id):
            return False
        now = self._clock.now()
        message = compose(
            sender=self.sender,
            to=to,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=message_id,
            date=now,
            reply_to=reply_to,
            in_reply_to=in_reply_to,
            references=list(references) or None,
            auto_submitted=auto_submitted,
            extra_headers=extra_headers,
        )
        return await self._enqueue(conn, kind, comment_id, message_id, to.addr_spec, message)

    async def queue_built(self, conn: aiosqlite.Connection, draft: Draft, message: bytes) -> bool:
        """Queue a drafted email built elsewhere (a worker process); as :meth:`queue`."""
        if await self._suppressed(conn, draft.to.addr_spec, draft.kind, draft.message_id):
            return False
        return await self._enqueue(
            conn, draft.kind, draft.comment_id, draft.message_id, draft.to.addr_spec, message
        )

    async def _suppressed(
        self, conn: aiosqlite.Connection, rcpt: str, kind: str, message_id: str
    ) -> bool:
        state = await threads.address_state(conn, email=rcpt)
        if state is None or state.suppressed_at is None:
            return False
        if kind == "confirmation" and state.suppressed_reason == mail_events.COMPLAINT:
            return False  # the one email asked for after a complaint (docs/subscriptions.md)
        if kind in outbox.MODERATION_KINDS and state.suppressed_reason == mail_events.COMPLAINT:
            # A moderator's complaint does not stop the mail their role needs (as
            # outbox.fail_suppressed): only the operator does (moderation.moderators).
            return False
        log.info(
            "not mailing %s (%s): address suppressed since %s (%s)",
            kind,
            message_id,
            state.suppressed_at,
            state.suppressed_reason,
        )
        return True

    async def _enqueue(
        self,
        conn: aiosqlite.Connection,
        kind: str,
        comment_id: int | None,
        message_id: str,
        rcpt: str,
        message: bytes,
    ) -> bool:
        now = self._clock.now()
        out = outbox.Outgoing(kind, comment_id, message_id, self.sender.addr_spec, rcpt, message)
        return (
            await outbox.enqueue(conn, out, now.timestamp(), iso(now), self.addressing.return_path)
            is not None
        )

    # -- the emails ---------------------------------------------------------------

    def moderation_draft(
        self,
        moderator: Address,
        moderator_id: int,
        thread: Thread,
        comment: Comment,
        parent: Comment | None,
        author_email: str | None,
        about: WriterFacts | None = None,
    ) -> Draft:
        """One moderator's email about ``comment``, as plain data (built by workers)."""
        elided, elided_more = cut_short(comment.elided, ELIDED_SHOWN)
        ad = self.addressing
        return Draft(
            kind="moderation_request",
            comment_id=comment.id,
            to=moderator,
            template="moderation_request",
            context={
                "site_name": self._settings.site.name,
                "thread": thread,
                "thread_url": ad.links(thread).thread,
                "comment": comment,
                "author_email": author_email,
                "parent": parent,
                "parent_excerpt": excerpt(parent.body) if parent else "",
                "approve_url": ad.moderation_link(comment.id, Action.APPROVE, moderator_id),
                "reject_url": ad.moderation_link(comment.id, Action.REJECT, moderator_id),
                "spam_url": ad.moderation_link(comment.id, Action.SPAM, moderator_id),
                "trust_url": ad.moderation_link(comment.id, Action.TRUST, moderator_id),
                "about": about or WriterFacts(),
                "link_days": self._settings.moderation.link_days,
                "elided": elided,
                "elided_more": elided_more,
            },
            sender=self.sender,
            message_id=make_message_id(f"moderate.c{comment.id}", self.domain),
            date=self._clock.now(),
            references=(f"<t{thread.id}.moderation@{self.domain}>",),
            reply_to=ad.moderation_reply_address(comment.id, moderator_id),
        )

    async def moderation_request(self, conn: aiosqlite.Connection, draft: Draft) -> bool:
        """Build a moderation email here and queue it (in the caller's transaction)."""
        return await self.queue_built(conn, draft, build(self._renderer, draft))

    async def notification(
        self,
        conn: aiosqlite.Connection,
        to: Address,
        address_id: int,
        thread: Thread,
        items: Sequence[DigestItem],
    ) -> bool:
        """One comment (a notification) or several (a digest) for one person and thread.

        Each comment carries its own reply address; the email's Reply-To is the
        newest one's, so pressing Reply answers the latest comment.
        """
        newest = items[-1]
        single = len(items) == 1
        ad = self.addressing
        rendered = self.render(
            "reply_notification" if single else "digest",
            thread=thread,
            thread_url=ad.links(thread).thread,
            items=list(items),
            item=newest,
            comment=newest.comment,
            parent=newest.parent,
            parent_excerpt=newest.parent_excerpt,
            comment_url=newest.url,
            why=newest.why,
            expires=ad.reply_expiry(),
            unsubscribe_url=ad.unsubscribe_page(address_id, thread.id),
        )
        anchor = newest.parent.id if newest.parent else None
        references = [f"<t{thread.id}@{self.domain}>"]
        if anchor is not None:
            references.append(f"<c{anchor}@{self.domain}>")
        message_id = make_message_id(f"c{newest.comment.id}", self.domain)
        queued = await self.queue(
            conn,
            "reply_notification" if single else "digest",
            # A digest is filed under its newest comment, like its Reply-To: a reply
            # sent to From instead is matched to it through In-Reply-To.
            newest.comment.id,
            to,
            rendered,
            message_id=message_id,
            reply_to=mailbox(ad.reply_to_name(newest.comment.author), newest.reply_address),
            in_reply_to=references[-1],
            references=references,
            extra_headers=ad.unsubscribe_headers(address_id, thread.id),
        )
        if queued:
            # What it carries, so that it is withdrawn if one leaves the page unsent.
            carried = [(item.comment.id, item.why) for item in items]
            await withdrawal.record_items(conn, message_id, address_id, carried)
        return queued

    async def confirmation(
        self,
        conn: aiosqlite.Connection,
        to: Address,
        address_id: int,
        thread: Thread,
        level: str,
    ) -> bool:
        ad = self.addressing
        token = ad.subscription_token(LinkPurpose.CONFIRM, address_id, thread.id, level)
        rendered = self.render(
            "confirm_subscription",
            thread=thread,
            level=level,
            confirm_url=f"{self._base}/confirm/{token}",
            days=self._settings.notifications.confirmation_days,
        )
        return await self.queue(
            conn,
            "confirmation",
            None,
            to,
            rendered,
            message_id=make_message_id("confirm", self.domain),
        )

    async def moderator_login(
        self, conn: aiosqlite.Connection, to: Address, login_url: str, minutes: int
    ) -> bool:
        rendered = self.render("moderator_login", login_url=login_url, minutes=minutes)
        return await self.queue(
            conn,
            "moderator_login",
            None,
            to,
            rendered,
            message_id=make_message_id("login", self.domain),
        )

    async def privacy_link(
        self, conn: aiosqlite.Connection, to: Address, url: str, minutes: int
    ) -> bool:
        rendered = self.render("privacy_link", link_url=url, minutes=minutes)
        return await self.queue(
            conn, "privacy_link", None, to, rendered,
            message_id=make_message_id("privacy", self.domain),
        )  # fmt: skip

    async def rejection_notice(
        self,
        conn: aiosqlite.Connection,
        to: Address,
        address_id: int,
        thread: Thread,
        comment_id: int,
        rejection: Rejection,
        in_reply_to: str | None,
    ) -> bool:
        rendered = self.render(
            "rejection_notice",
            thread=thread,
            comment_url=self.addressing.links(thread, comment_id).comment,
            explanation=rejection.explanation or rejection.detail,
            settings_url=self.addressing.unsubscribe_page(address_id, thread.id),
        )
        # The reply's own Message-ID, as its sender wrote it: only a well-formed id.
        in_reply_to = well_formed_message_id(in_reply_to)
        return await self.queue(
            conn,
            "rejection_notice",
            None,
            to,
            rendered,
            message_id=make_message_id("notice", self.domain),
            in_reply_to=in_reply_to,
            references=[in_reply_to] if in_reply_to else (),
            auto_submitted="auto-replied",
        )
