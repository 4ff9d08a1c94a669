"""Who a message read from a mailbox was for: its reply address, from its headers.

Over SMTP the envelope says it (RCPT TO). A message fetched over IMAP has only its
headers: the delivering server's ``Delivered-To`` / ``X-Original-To`` /
``Envelope-To`` (the envelope recipient, when it adds one), then ``To`` and ``Cc``.
The first address at the reply domain wins; failing that, the first address at all,
so that the pipeline refuses it as "not a reply address" in the inbound log rather
than the message being skipped in silence.
"""

from __future__ import annotations

from email.message import Message
from email.utils import getaddresses, parseaddr

__all__ = ["HEADER_NAMES", "envelope_sender", "recipient_of"]

_ENVELOPE = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")
_VISIBLE = ("To", "Cc")
# Every header the two functions below read (for a fetch of those alone).
HEADER_NAMES = (*_ENVELOPE, *_VISIBLE, "Return-Path", "From")


def recipient_of(headers: Message, reply_domain: str) -> str:
    """The address the message was delivered for (see the module doc); "" if none."""
    domain = "@" + reply_domain.lower()
    found: list[str] = []
    for name in (*_ENVELOPE, *_VISIBLE):
        values = [str(v) for v in headers.get_all(name, [])]
        for _display, address in getaddresses(values):
            address = address.strip()
            if not address or "@" not in address:
                continue
            if address.lower().endswith(domain):
                return address
            found.append(address)
    return found[0] if found else ""


def envelope_sender(headers: Message) -> str:
    """The envelope sender: ``Return-Path``, which the delivering server writes from the
    envelope (``<>`` for a bounce: kept as the null sender); without one (a message
    copied into the mailbox by other means), the ``From`` address."""
    value = headers.get("Return-Path")
    if value is not None:
        return parseaddr(str(value))[1]
    return parseaddr(str(headers.get("From", "")))[1]
