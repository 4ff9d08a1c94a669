"""``unsubscribe+TOKEN@reply_domain``: the mailto: half of RFC 8058 List-Unsubscribe."""

from __future__ import annotations

import logging

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.errors import LinkError
from mailbridge.rejections import BadReplyToken
from mailbridge.store import Store, inbound, subscriptions, threads
from mailbridge.store.inbound import Disposition
from mailbridge.store.subscriptions import Level
from mailbridge.tokens import LinkPurpose, SubscriptionLink, read_subscription_token

__all__ = ["UNSUBSCRIBED", "MailtoUnsubscribe"]

log = logging.getLogger(__name__)

UNSUBSCRIBED = "250 2.0.0 Unsubscribed: no more emails will be sent to this address"


class MailtoUnsubscribe:
    def __init__(self, store: Store, key: bytes, clock: Clock) -> None:
        self._store = store
        self._key = key
        self._clock = clock

    def link(self, token: str) -> SubscriptionLink:
        """The verified link, or a refusal at RCPT time."""
        try:
            return read_subscription_token(
                self._key, LinkPurpose.UNSUBSCRIBE, token, self._clock.now().date()
            )
        except LinkError:
            raise BadReplyToken("This unsubscribe address is not valid.") from None

    async def apply(self, inbound_id: int, token: str) -> str:
        """Whatever the message says: stop every email from this site to the address.

        The token is the credential, as with the https link; the message is not
        judged (providers send these automatically, often with no body at all).
        """
        link = self.link(token)
        now = iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> bool:
            # Erased (privacy) since the email was sent: nothing is held to change and
            # nothing more is sent (a foreign key failed: 451, retried for days).
            held = await threads.address_email(conn, link.address_id) is not None
            if held:
                await subscriptions.choose(conn, link.address_id, None, Level.NONE, "mailto", now)
            await inbound.set_outcome(
                conn,
                inbound_id,
                Disposition.UNSUBSCRIBED,
                reason="unsubscribe",
                detail=UNSUBSCRIBED,
                address_id=link.address_id if held else None,
            )
            return held

        if await self._store.write(work):
            log.info("inbound %d: address %d unsubscribed by mail", inbound_id, link.address_id)
        else:
            log.info("inbound %d: unsubscribe by mail of what is no longer held", inbound_id)
        return UNSUBSCRIBED
