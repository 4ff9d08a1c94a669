"""RCPT: which addresses mailbridge takes mail for, checked before the message is sent.

Only its own addresses with a valid token (so never an open relay); a reply address
must answer a comment that exists, not have expired, and its writer and thread must be
under the hour's rate limits. What a reply address answers is returned, so that DATA,
in the same SMTP transaction, does not read and verify it again (issue 14).
"""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.inbound.limits import check_rates
from mailbridge.inbound.moderation import ModerationByReply
from mailbridge.inbound.recipients import Kind, kind_of
from mailbridge.inbound.targets import ReplyTarget, TargetResolver
from mailbridge.inbound.unsubscribe import MailtoUnsubscribe
from mailbridge.rejections import ExpiredReplyToken, Rejection, TooManyRecipients
from mailbridge.settings import Settings
from mailbridge.store import Store, inbound, threads
from mailbridge.tokens import Keyring, read_bounce_token

__all__ = ["RecipientCheck"]


class RecipientCheck:
    def __init__(
        self,
        *,
        store: Store,
        keyring: Keyring,
        settings: Settings,
        clock: Clock,
        targets: TargetResolver,
        unsubscribes: MailtoUnsubscribe,
        moderation: ModerationByReply,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._settings = settings
        self._clock = clock
        self._targets = targets
        self._unsubscribes = unsubscribes
        self._moderation = moderation

    async def check(self, address: str, accepted_so_far: int) -> ReplyTarget | None:
        """Sort and verify one RCPT address; raise the :class:`Rejection` that refuses it.
        For a reply address, return what it answers."""
        if accepted_so_far >= self._settings.limits.smtp_recipients_per_message:
            raise TooManyRecipients()
        recipient = kind_of(
            address, self._settings.smtp.reply_domain, self._settings.smtp.extra_recipients
        )
        if recipient.kind is Kind.BOUNCE:
            read_bounce_token(self._keyring.bounce, recipient.token)
        elif recipient.kind is Kind.UNSUBSCRIBE:
            self._unsubscribes.link(recipient.token)
        elif recipient.kind is Kind.MODERATE:
            self._moderation.check_token(recipient.token)
        elif recipient.kind is Kind.REPLY:
            now = self._clock.now()

            async def rates(conn: aiosqlite.Connection, target: ReplyTarget) -> None:
                # In the token's read snapshot (one read, not two); an expired address
                # is refused with its own explanation below, whatever the counts.
                if not _expired(target, now):
                    await check_rates(
                        conn,
                        self._settings.limits,
                        now,
                        address_id=target.address_id,
                        thread_id=target.thread_id,
                    )

            target = await self._targets.from_token(recipient.token, also=rates)
            await self.check_live(target)
            return target
        return None

    async def check_live(self, target: ReplyTarget) -> None:
        """Refuse an expired reply address, saying where the conversation is."""
        if target.expires is not None and _expired(target, self._clock.now()):
            path = await self._store.read(lambda c: _thread_path(c, target.thread_id))
            url = f"{self._settings.site.public_url.rstrip('/')}{path}"
            # Say only what is true: the thread pages have no comment form, and
            # a newer email from the conversation does carry a working address.
            raise ExpiredReplyToken(
                f"This reply address expired on {target.expires.isoformat()}, so nothing "
                f"was posted. The comment you answered: {url}#comment-{target.comment_id} "
                "- newer emails from this conversation carry a reply address that works."
            )

    async def log_refusal(
        self, *, peer: str, helo: str, mail_from: str, rcpt_to: str, rejection: Rejection
    ) -> None:
        """Record a recipient refused at RCPT: the operator sees those too."""
        await self._store.write(
            lambda c: inbound.record_refusal(
                c,
                received_at=iso(self._clock.now()),
                peer=peer,
                helo=helo,
                mail_from=mail_from,
                rcpt_to=rcpt_to,
                reason=rejection.code,
                detail=rejection.smtp_reply,
            )
        )


def _expired(target: ReplyTarget, now: datetime) -> bool:
    return target.expires is not None and target.expires < now.date()


async def _thread_path(conn: aiosqlite.Connection, thread_id: int) -> str:
    thread = await threads.get_thread(conn, thread_id=thread_id)
    return "/threads/" if thread is None else thread.path
