"""Where an email's links and replies lead: the signed links, reply addresses and
list headers that :class:`mailbridge.notify.mail.Mailer` puts in each email.

No I/O: each value is made from the settings, the keyring and the clock, so an
email built in a worker process carries the same links as one built here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from email.headerregistry import Address

from mailbridge.addresses import mailbox
from mailbridge.clock import Clock
from mailbridge.inbound.recipients import MODERATE_PREFIX
from mailbridge.models import Comment, Thread
from mailbridge.outbound.compose import clean_header_text, split_address
from mailbridge.outbound.headers import ascii_url, phrase_tokens
from mailbridge.settings import Settings
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

__all__ = ["Addressing", "Links"]


@dataclass(frozen=True)
class Links:
    thread: str
    comment: str


class Addressing:
    def __init__(self, settings: Settings, keyring: Keyring, clock: Clock):
        self._settings = settings
        self._keyring = keyring
        self._clock = clock
        self.sender = split_address(settings.outbound.from_address)
        self.domain = settings.smtp.reply_domain
        # Links go into headers (List-Unsubscribe), which hold only ASCII: an IDN host
        # as its A-label.
        self.base = ascii_url(settings.site.public_url.rstrip("/"))
        slug = re.sub(r"[^a-z0-9]+", "-", settings.site.name.lower()).strip("-") or "comments"
        # RFC 2919: one List-Id for the whole site, so "unsubscribe" means this site.
        # The site's name is a phrase: encoded words when it is not plain ASCII.
        name = phrase_tokens(clean_header_text(settings.site.name))
        self.list_id = " ".join([*name, f"<{slug}.{self.domain}>"])

    def links(self, thread: Thread, comment_id: int | None = None) -> Links:
        page = f"{self.base}{thread.path}"
        return Links(page, f"{page}#comment-{comment_id}" if comment_id else page)

    def moderation_link(self, comment_id: int, action: Action, moderator_id: int) -> str:
        expires = self._clock.now() + timedelta(days=self._settings.moderation.link_days)
        token = make_moderation_token(
            self._keyring.moderation, comment_id, action, expires, moderator_id
        )
        return f"{self.base}/moderate/{token}"

    def moderation_links(self, comment_id: int, moderator_id: int) -> dict[str, str]:
        return {
            action.verb: self.moderation_link(comment_id, action, moderator_id)
            for action in (Action.APPROVE, Action.REJECT, Action.SPAM)
        }

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
                f"<{self.base}/unsubscribe/{token}>, "
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

    def return_path(self, outbox_id: int) -> str:
        """The VERP envelope sender: a bounce names the exact message and address."""
        return f"bounce+{make_bounce_token(self._keyring.bounce, outbox_id)}@{self.domain}"

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

    def unsubscribe_page(self, address_id: int, thread_id: int) -> str:
        token = self.subscription_token(LinkPurpose.UNSUBSCRIBE, address_id, thread_id, "none")
        return f"{self.base}/unsubscribe/{token}"
