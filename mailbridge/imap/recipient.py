"""Who a message read from a mailbox was for: its reply address, from its headers.

Over SMTP the envelope says it (RCPT TO). A message fetched over IMAP has only its
headers: the delivering server's ``Delivered-To`` / ``X-Original-To`` /
``Envelope-To`` (the envelope recipient, when it adds one), then ``To`` and ``Cc``.
The first of mailbridge's addresses with a token (reply+, moderate+, unsubscribe+,
bounce+) wins; then the first address at the reply domain; failing that, the first at all,
so that the pipeline refuses it as "not a reply address" in the inbound log rather
than the message being skipped in silence.
"""

from __future__ import annotations

from email.message import Message
from email.utils import getaddresses, parseaddr

from mailbridge.inbound.recipients import (
    BOUNCE_PREFIX,
    MODERATE_PREFIX,
    REPLY_PREFIX,
    UNSUBSCRIBE_PREFIX,
)

__all__ = ["HEADER_NAMES", "envelope_sender", "recipient_of"]

_ENVELOPE = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")
_VISIBLE = ("To", "Cc")
# A mailbridge address with its token wins over one without: behind a catch-all, the
# delivering server's Delivered-To is the mailbox (reply@), X-Original-To the address.
_PREFIXES = (REPLY_PREFIX, MODERATE_PREFIX, UNSUBSCRIBE_PREFIX, BOUNCE_PREFIX)
# Every header the two functions below read (for a fetch of those alone).
HEADER_NAMES = (*_ENVELOPE, *_VISIBLE, "Return-Path", "From")


def recipient_of(headers: Message, reply_domain: str) -> str:
    """The address the message was delivered for (see the module doc); "" if none."""
    domain = "@" + reply_domain.lower()
    ours: list[str] = []  # at the reply domain
    found: list[str] = []
    for name in (*_ENVELOPE, *_VISIBLE):
        values = [str(v) for v in headers.get_all(name, [])]
        for _display, address in getaddresses(values):
            address = address.strip()
            if not address or "@" not in address:
                continue
            if address.lower().endswith(domain):
                if address.lower().startswith(_PREFIXES):
                    return address
                ours.append(address)
            found.append(address)
    return (ours or found or [""])[0]


def envelope_sender(headers: Message) -> str:
    """The envelope sender: ``Return-Path``, which the delivering server writes from the
    envelope (``<>`` for a bounce: kept as the null sender); without one (a message
    copied into the mailbox by other means), the ``From`` address."""
    value = headers.get("Return-Path")
    if value is not None:
        return parseaddr(str(value))[1]
    return parseaddr(str(headers.get("From", "")))[1]
