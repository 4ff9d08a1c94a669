"""Decide who is told what, render the email, and queue it in the outbox.

Everything here runs inside the caller's write transaction, so an email is
queued if and only if the change that caused it commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email.headerregistry import Address

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.errors import Rejection
from mailbridge.models import Comment, CommentStatus, Thread
from mailbridge.outbound.compose import clean_header_text, compose, make_message_id, split_address
from mailbridge.settings import Settings
from mailbridge.store import comments, outbox, threads
from mailbridge.templating import Renderer
from mailbridge.tokens import (
    Action,
    Keyring,
    make_bounce_token,
    make_moderation_token,
    make_reply_token,
)

__all__ = ["Notifier", "excerpt"]

log = logging.getLogger(__name__)


def excerpt(text: str, limit: int = 300) -> str:
    """The start of ``text``, cut at a word boundary, with an ellipsis when shortened."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + "…"


@dataclass(frozen=True)
class _Links:
    thread: str
    comment: str


class Notifier:
    def __init__(self, settings: Settings, keyring: Keyring, renderer: Renderer, clock: Clock):
        self._settings = settings
        self._keyring = keyring
        self._renderer = renderer
        self._clock = clock
        self._sender = split_address(settings.outbound.from_address)
        self._domain = settings.smtp.reply_domain

    def _links(self, thread: Thread, comment_id: int) -> _Links:
        base = self._settings.site.public_url.rstrip("/")
        page = f"{base}/threads/{thread.key}"
        return _Links(thread=page, comment=f"{page}#comment-{comment_id}")

    def moderation_link(self, comment_id: int, action: Action) -> str:
        expires = self._clock.now() + timedelta(days=self._settings.moderation.link_days)
        token = make_moderation_token(self._keyring.moderation, comment_id, action, expires)
        return f"{self._settings.site.public_url.rstrip('/')}/moderate/{token}"

    async def _moderators(self, conn: aiosqlite.Connection, thread: Thread) -> list[Address]:
        found: dict[str, Address] = {}
        for configured in self._settings.moderation.moderators:
            address = split_address(configured)
            found.setdefault(address.addr_spec.lower(), address)
        if thread.author_address_id is not None:
            email = await threads.address_email(conn, thread.author_address_id)
            if email:
                found.setdefault(email.lower(), Address(addr_spec=email))
        return list(found.values())

    def _return_path(self, outbox_id: int) -> str:
        """The VERP envelope sender: a bounce names the exact message and address."""
        return f"bounce+{make_bounce_token(self._keyring.bounce, outbox_id)}@{self._domain}"

    async def _queue(
        self,
        conn: aiosqlite.Connection,
        kind: str,
        comment_id: int | None,
        rcpt: str,
        message_id: str,
        message: bytes,
    ) -> bool:
        state = await threads.address_state(conn, email=rcpt)
        if state is not None and state.suppressed_at is not None:
            log.info(
                "not mailing %s (%s): address suppressed since %s (%s)",
                kind,
                message_id,
                state.suppressed_at,
                state.suppressed_reason,
            )
            return False
        now = self._clock.now()
        out = outbox.Outgoing(kind, comment_id, message_id, self._sender.addr_spec, rcpt, message)
        queued = await outbox.enqueue(conn, out, now.timestamp(), iso(now), self._return_path)
        return queued is not None

    async def moderation_requests(self, conn: aiosqlite.Connection, comment: Comment) -> int:
        """Queue one moderation email per moderator of the comment's thread."""
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        assert thread is not None
        moderators = await self._moderators(conn, thread)
        if not moderators:
            log.warning(
                "comment %d on %s is pending but the thread has no moderator "
                "(set [moderation] moderators)",
                comment.id,
                thread.key,
            )
            return 0
        parent = None
        if comment.parent_id is not None:
            parent = await comments.get_comment(conn, comment.parent_id)
        author_email = None
        if comment.address_id is not None:
            author_email = await threads.address_email(conn, comment.address_id)
        links = self._links(thread, comment.id)
        rendered = self._renderer.email(
            "moderation_request",
            site_name=self._settings.site.name,
            thread=thread,
            thread_url=links.thread,
            comment=comment,
            author_email=author_email,
            parent=parent,
            parent_excerpt=excerpt(parent.body) if parent else "",
            approve_url=self.moderation_link(comment.id, Action.APPROVE),
            reject_url=self.moderation_link(comment.id, Action.REJECT),
            spam_url=self.moderation_link(comment.id, Action.SPAM),
            link_days=self._settings.moderation.link_days,
        )
        queued = 0
        for moderator in moderators:
            message_id = make_message_id(f"moderate.c{comment.id}", self._domain)
            message = compose(
                sender=self._sender,
                to=moderator,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                message_id=message_id,
                date=self._clock.now(),
                references=[f"<t{thread.id}.moderation@{self._domain}>"],
            )
            if await self._queue(
                conn, "moderation_request", comment.id, moderator.addr_spec, message_id, message
            ):
                queued += 1
        return queued

    async def reply_notification(self, conn: aiosqlite.Connection, comment: Comment) -> bool:
        """Tell the author of the parent comment that ``comment`` answers them, if we should."""
        if comment.parent_id is None:
            return False
        parent = await comments.get_comment(conn, comment.parent_id)
        if (
            parent is None
            or parent.status is not CommentStatus.APPROVED
            or parent.address_id is None
            or not parent.notify
            or parent.address_id == comment.address_id  # never about one's own comment
        ):
            return False
        recipient = await threads.address_email(conn, parent.address_id)
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        if recipient is None or thread is None:
            return False
        today = self._clock.now().date()
        expires = today + timedelta(days=self._settings.smtp.reply_token_days)
        state = await threads.address_state(conn, address_id=parent.address_id)
        epoch = 0 if state is None else state.key_epoch
        token = make_reply_token(self._keyring.reply, parent.address_id, comment.id, expires, epoch)
        reply_to = Address(
            display_name=clean_header_text(f"{comment.author} via {self._settings.site.name}"),
            addr_spec=f"reply+{token}@{self._domain}",
        )
        links = self._links(thread, comment.id)
        rendered = self._renderer.email(
            "reply_notification",
            site_name=self._settings.site.name,
            thread=thread,
            thread_url=links.thread,
            comment_url=links.comment,
            comment=comment,
            parent=parent,
            parent_excerpt=excerpt(parent.body),
            expires=expires,
        )
        message_id = make_message_id(f"c{comment.id}", self._domain)
        message = compose(
            sender=self._sender,
            to=Address(display_name=clean_header_text(parent.author), addr_spec=recipient),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=message_id,
            date=self._clock.now(),
            reply_to=reply_to,
            in_reply_to=f"<c{parent.id}@{self._domain}>",
            references=[f"<t{thread.id}@{self._domain}>", f"<c{parent.id}@{self._domain}>"],
        )
        return await self._queue(
            conn, "reply_notification", comment.id, recipient, message_id, message
        )

    async def rejection_notice(
        self,
        conn: aiosqlite.Connection,
        email: str,
        address_id: int,
        comment_id: int,
        rejection: Rejection,
        *,
        in_reply_to: str | None,
        thread_id: int,
    ) -> bool:
        """Tell a person why their reply was not posted: at most once per hour per sender.

        Only called for a verified person (the sender matched the reply address and
        was not a machine), so this never answers a robot or a forged sender.
        """
        hour = self._clock.now().strftime("%Y-%m-%dT%H")
        async with conn.execute(
            "INSERT INTO rejection_replies (sender, hour, reason) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (email, hour, rejection.code),
        ) as cur:
            if await cur.fetchone() is None:
                log.info(
                    "not explaining %s to address %d again this hour", rejection.code, address_id
                )
                return False
        thread = await threads.get_thread(conn, thread_id=thread_id)
        assert thread is not None
        links = self._links(thread, comment_id)
        rendered = self._renderer.email(
            "rejection_notice",
            site_name=self._settings.site.name,
            thread=thread,
            comment_url=links.comment,
            explanation=rejection.explanation or rejection.detail,
        )
        message_id = make_message_id("notice", self._domain)
        message = compose(
            sender=self._sender,
            to=Address(addr_spec=email),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=message_id,
            date=self._clock.now(),
            in_reply_to=in_reply_to,
            references=[in_reply_to] if in_reply_to else None,
            auto_submitted="auto-replied",
        )
        return await self._queue(conn, "rejection_notice", None, email, message_id, message)
