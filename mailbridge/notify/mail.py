"""The postman: renders each kind of email mailbridge sends and queues it in the outbox.

Every method runs inside the caller's write transaction, so an email is queued if
and only if the change that caused it commits. Nothing here decides *who* hears
about what; :mod:`mailbridge.notify.notifier` does.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from email.headerregistry import Address
from typing import Any

import aiosqlite

from mailbridge.addresses import mailbox
from mailbridge.clock import Clock, iso
from mailbridge.errors import Rejection
from mailbridge.inbound.recipients import MODERATE_PREFIX
from mailbridge.models import Comment, Thread
from mailbridge.notify.digest_fit import fit_digest
from mailbridge.notify.drafts import Draft, build
from mailbridge.notify.writer import WriterFacts
from mailbridge.outbound.compose import (
    clean_header_text,
    compose,
    make_message_id,
    split_address,
    well_formed_message_id,
)
from mailbridge.outbound.headers import ascii_url, phrase_tokens
from mailbridge.settings import Settings
from mailbridge.store import outbox, threads, withdrawal
from mailbridge.templating import RenderedEmail, Renderer
from mailbridge.tokens import (
    Action,
    Keyring,
    LinkPurpose,
    make_bounce_token,
    make_moderation_reply_token,
    make_moderation_token,
    make_reply_token,
    make_subscription_token,
)

__all__ = [
    "ELIDED_SHOWN",
    "DigestEntry",
    "DigestItem",
    "Links",
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
class Links:
    thread: str
    comment: str


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
        self._keyring = keyring
        self._renderer = renderer
        self._clock = clock
        self.sender = split_address(settings.outbound.from_address)
        self.domain = settings.smtp.reply_domain
        # Links go into headers (List-Unsubscribe), which hold only ASCII: an IDN host
        # as its A-label.
        self._base = ascii_url(settings.site.public_url.rstrip("/"))
        slug = re.sub(r"[^a-z0-9]+", "-", settings.site.name.lower()).strip("-") or "comments"
        # RFC 2919: one List-Id for the whole site, so "unsubscribe" means this site.
        # The site's name is a phrase: encoded words when it is not plain ASCII.
        name = phrase_tokens(clean_header_text(settings.site.name))
        self.list_id = " ".join([*name, f"<{slug}.{self.domain}>"])

    # -- pieces -----------------------------------------------------------------

    def links(self, thread: Thread, comment_id: int | None = None) -> Links:
        page = f"{self._base}{thread.path}"
        return Links(page, f"{page}#comment-{comment_id}" if comment_id else page)

    def moderation_link(self, comment_id: int, action: Action, moderator_id: int) -> str:
        expires = self._clock.now() + timedelta(days=self._settings.moderation.link_days)
        token = make_moderation_token(
            self._keyring.moderation, comment_id, action, expires, moderator_id
        )
        return f"{self._base}/moderate/{token}"

    def moderation_links(self, comment_id: int, moderator_id: int) -> dict[str, str]:
        return {
            action.verb: self.moderation_link(comment_id, action, moderator_id)
            for action in (Action.APPROVE, Action.REJECT, Action.SPAM)
        }

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
        queued = await self.queue(
            conn,
            "moderation_digest",
            None,
            moderator,
            rendered,
            message_id=make_message_id("moderation-digest", self.domain),
        )
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
        return await self.queue(
            conn,
            "spam_report",
            None,
            moderator,
            rendered,
            message_id=make_message_id("spam-report", self.domain),
        )

    def moderation_reply_address(self, comment_id: int, moderator_id: int) -> Address:
        """Where a moderator replies to decide by email (mailbridge.inbound.moderation)."""
        expires = self._clock.now().date() + timedelta(days=self._settings.moderation.link_days)
        token = make_moderation_reply_token(
            self._keyring.moderation, comment_id, moderator_id, expires
        )
        return mailbox(
            clean_header_text(f"Moderate: {self._settings.site.name}"),
            f"{MODERATE_PREFIX}{token}@{self.domain}",
        )

    def subscription_token(
        self, purpose: LinkPurpose, address_id: int, thread_id: int | None, level: str
    ) -> str:
        days = (
            self._settings.notifications.confirmation_days
            if purpose is LinkPurpose.CONFIRM
            else self._settings.notifications.unsubscribe_days
        )
        expires = self._clock.now().date() + timedelta(days=days)
        return make_subscription_token(
            self._keyring.subscription, purpose, address_id, thread_id, level, expires
        )

    def unsubscribe_headers(self, address_id: int, thread_id: int) -> list[tuple[str, str]]:
        """RFC 8058 one-click unsubscribe (https and mailto) and RFC 2919 List-Id."""
        token = self.subscription_token(LinkPurpose.UNSUBSCRIBE, address_id, thread_id, "none")
        return [
            ("List-Id", self.list_id),
            (
                "List-Unsubscribe",
                f"<{self._base}/unsubscribe/{token}>, "
                f"<mailto:unsubscribe+{token}@{self.domain}?subject=unsubscribe>",
            ),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]

    def reply_address(self, address_id: int, epoch: int, comment: Comment) -> str:
        """The reply+TOKEN address by which ``address_id`` answers ``comment``."""
        token = make_reply_token(
            self._keyring.reply, address_id, comment.id, self.reply_expiry(), epoch
        )
        return f"reply+{token}@{self.domain}"

    def render(self, name: str, **context: Any) -> RenderedEmail:
        return self._renderer.email(name, site_name=self._settings.site.name, **context)

    def _return_path(self, outbox_id: int) -> str:
        """The VERP envelope sender: a bounce names the exact message and address."""
        return f"bounce+{make_bounce_token(self._keyring.bounce, outbox_id)}@{self.domain}"

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
            await outbox.enqueue(conn, out, now.timestamp(), iso(now), self._return_path)
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
        return Draft(
            kind="moderation_request",
            comment_id=comment.id,
            to=moderator,
            template="moderation_request",
            context={
                "site_name": self._settings.site.name,
                "thread": thread,
                "thread_url": self.links(thread).thread,
                "comment": comment,
                "author_email": author_email,
                "parent": parent,
                "parent_excerpt": excerpt(parent.body) if parent else "",
                "approve_url": self.moderation_link(comment.id, Action.APPROVE, moderator_id),
                "reject_url": self.moderation_link(comment.id, Action.REJECT, moderator_id),
                "spam_url": self.moderation_link(comment.id, Action.SPAM, moderator_id),
                "trust_url": self.moderation_link(comment.id, Action.TRUST, moderator_id),
                "about": about or WriterFacts(),
                "link_days": self._settings.moderation.link_days,
                "elided": elided,
                "elided_more": elided_more,
            },
            sender=self.sender,
            message_id=make_message_id(f"moderate.c{comment.id}", self.domain),
            date=self._clock.now(),
            references=(f"<t{thread.id}.moderation@{self.domain}>",),
            reply_to=self.moderation_reply_address(comment.id, moderator_id),
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
        rendered = self.render(
            "reply_notification" if single else "digest",
            thread=thread,
            thread_url=self.links(thread).thread,
            items=list(items),
            item=newest,
            comment=newest.comment,
            parent=newest.parent,
            parent_excerpt=newest.parent_excerpt,
            comment_url=newest.url,
            why=newest.why,
            expires=self.reply_expiry(),
            unsubscribe_url=self._unsubscribe_page(address_id, thread.id),
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
            reply_to=mailbox(self.reply_to_name(newest.comment.author), newest.reply_address),
            in_reply_to=references[-1],
            references=references,
            extra_headers=self.unsubscribe_headers(address_id, thread.id),
        )
        if queued:
            # What it carries, so that it is withdrawn if one leaves the page unsent.
            carried = [(item.comment.id, item.why) for item in items]
            await withdrawal.record_items(conn, message_id, address_id, carried)
        return queued

    def reply_to_name(self, author: str) -> str:
        """A notification's Reply-To name, "<author> via <site>", that cannot pass for
        someone's address: a client that shows only the name showed "ceo@bank.com via
        Blog" (or, for a name of 200 characters, "ceo@bank.com …" alone, " via Blog"
        cut off) as if the reply went there. So "@" and its look-alikes (U+FF20, U+FE6B) read
        " at ", and a long name is shortened, never the " via <site>" after it."""
        site = clean_header_text(self._settings.site.name)
        plain = "".join(" at " if unicodedata.normalize("NFKC", c) == "@" else c for c in author)
        name = clean_header_text(plain, limit=max(40, 200 - len(" via ") - len(site)))
        return clean_header_text(f"{name} via {site}")

    def reply_expiry(self) -> date:
        return self._clock.now().date() + timedelta(days=self._settings.smtp.reply_token_days)

    def _unsubscribe_page(self, address_id: int, thread_id: int) -> str:
        token = self.subscription_token(LinkPurpose.UNSUBSCRIBE, address_id, thread_id, "none")
        return f"{self._base}/unsubscribe/{token}"

    async def confirmation(
        self,
        conn: aiosqlite.Connection,
        to: Address,
        address_id: int,
        thread: Thread,
        level: str,
    ) -> bool:
        token = self.subscription_token(LinkPurpose.CONFIRM, address_id, thread.id, level)
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
            comment_url=self.links(thread, comment_id).comment,
            explanation=rejection.explanation or rejection.detail,
            settings_url=self._unsubscribe_page(address_id, thread.id),
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
