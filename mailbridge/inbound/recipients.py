"""Who an inbound message is for: a reply address, a VERP bounce address, or an extra one.

At RCPT time only the address is known: :func:`kind_of` sorts it without the
database. After DATA, a message sent to an extra address (the blog's From, for
people who reply to From instead of Reply-To) is matched by its headers: a reply
address in To, Cc, Delivered-To or X-Original-To, else a Message-ID mailbridge
minted in In-Reply-To or References.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from mailbridge.rejections import RelayDenied, UnknownRecipient

__all__ = [
    "BOUNCE_PREFIX",
    "REPLY_PREFIX",
    "UNSUBSCRIBE_PREFIX",
    "Kind",
    "Recipient",
    "kind_of",
    "loggable",
    "masked",
    "minted_message_ids",
    "reply_tokens_in_headers",
]

REPLY_PREFIX = "reply+"
BOUNCE_PREFIX = "bounce+"
UNSUBSCRIBE_PREFIX = "unsubscribe+"
MODERATE_PREFIX = "moderate+"
_HEADERS_WITH_RECIPIENTS = ("To", "Cc", "Delivered-To", "X-Original-To")
_MSGID = re.compile(r"<([^<>\s]{1,250})>")


class Kind(enum.Enum):
    REPLY = "reply"
    BOUNCE = "bounce"
    UNSUBSCRIBE = "unsubscribe"  # the mailto: of List-Unsubscribe
    EXTRA = "extra"
    POSTMASTER = "postmaster"  # RFC 5321 4.5.1: every mail domain must accept it
    MODERATE = "moderate"  # a moderator's reply to a moderation email


@dataclass(frozen=True)
class Recipient:
    kind: Kind
    address: str
    token: str  # the part after the + for REPLY and BOUNCE; "" for EXTRA


def _split(address: str) -> tuple[str, str]:
    local, at, domain = address.strip().strip("<>").rpartition("@")
    return (local, domain.lower().rstrip(".")) if at else ("", "")


def kind_of(address: str, reply_domain: str, extra: tuple[str, ...] = ()) -> Recipient:
    """Sort an RCPT address, or raise the :class:`Rejection` that refuses it."""
    if address.strip().strip("<>").lower() == "postmaster":
        return Recipient(Kind.POSTMASTER, address, "")  # bare "postmaster", RFC 5321
    local, domain = _split(address)
    if any(address.strip("<> ").lower() == e.lower() for e in extra):
        return Recipient(Kind.EXTRA, address, "")
    if domain != reply_domain.lower():
        raise RelayDenied()
    lowered = local.lower()
    if lowered == "postmaster":
        return Recipient(Kind.POSTMASTER, address, "")
    if lowered.startswith(REPLY_PREFIX):
        return Recipient(Kind.REPLY, address, local[len(REPLY_PREFIX) :])
    if lowered.startswith(BOUNCE_PREFIX):
        return Recipient(Kind.BOUNCE, address, local[len(BOUNCE_PREFIX) :])
    if lowered.startswith(MODERATE_PREFIX):
        return Recipient(Kind.MODERATE, address, local[len(MODERATE_PREFIX) :])
    if lowered.startswith(UNSUBSCRIBE_PREFIX):
        return Recipient(Kind.UNSUBSCRIBE, address, local[len(UNSUBSCRIBE_PREFIX) :])
    raise UnknownRecipient()


def loggable(address: str) -> str:
    """An RCPT address for a log line: its kind and domain, never its token nor anyone's
    own name. A reply or moderation address refused for a limit is valid, and the logs
    go where the operator's go (journald, a collector, a pasted excerpt); the whole
    address stays in the inbound log (`mailbridge inbound`)."""
    local, domain = _split(address)
    if local.lower() == "postmaster" or address.strip().strip("<>").lower() == "postmaster":
        return address.strip().strip("<>")
    if not domain:
        return "***"
    tag, plus, _token = local.partition("+")
    return f"{tag}+***@{domain}" if plus else f"***@{domain}"


def masked(text: str, *addresses: str) -> str:
    """``text`` (a relay's answer, say, which often names the recipient: "550 5.1.1
    <ann@example.com>: Recipient address rejected") with each of ``addresses`` as
    :func:`loggable` gives it, for a log line or `mailbridge status`."""
    for address in addresses:
        if address:
            text = re.sub(re.escape(address), loggable(address), text, flags=re.IGNORECASE)
    return text


def reply_tokens_in_headers(headers: Message, reply_domain: str) -> list[str]:
    """Reply tokens found in the recipient headers, in header order."""
    values = [str(v) for name in _HEADERS_WITH_RECIPIENTS for v in headers.get_all(name, [])]
    tokens: list[str] = []
    for _name, addr in getaddresses(values):
        local, domain = _split(addr)
        if domain == reply_domain.lower() and local.lower().startswith(REPLY_PREFIX):
            token = local[len(REPLY_PREFIX) :]
            if token not in tokens:
                tokens.append(token)
    return tokens


def minted_message_ids(headers: Message, domain: str) -> list[str]:
    """Message-IDs in In-Reply-To, then References newest first, that carry our domain."""

    def ids(name: str) -> list[str]:
        return [
            f"<{mid}>"
            for value in headers.get_all(name, [])
            for mid in _MSGID.findall(str(value))
            if mid.lower().endswith("@" + domain.lower())
        ]

    found: list[str] = []
    # References lists oldest first; the message answered is the last one.
    for mid in ids("In-Reply-To") + list(reversed(ids("References"))):
        if mid not in found:
            found.append(mid)
    return found
