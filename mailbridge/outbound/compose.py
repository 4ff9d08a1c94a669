"""Build outgoing RFC 5322 messages.

Header values that come from people (names, thread titles) are made one line and
stripped of control characters before they reach a header, so no input can add a
header. Every header is then encoded and folded by :mod:`mailbridge.outbound.headers`
(the email package's own folding breaks List-Unsubscribe URLs and subjects); the email
package builds the MIME body.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8, Policy
from email.utils import format_datetime

from mailbridge.addresses import mailbox, parse_mailbox
from mailbridge.outbound.headers import (
    WireHeader,
    mailbox_header,
    structured_header,
    text_header,
)

__all__ = ["Envelope", "clean_header_text", "compose", "make_message_id", "split_address"]

_JOINERS = frozenset("\u200c\u200d")


def clean_header_text(value: str, limit: int = 200) -> str:
    """One line of printable text, safe to put in a header.

    Control and line-separator characters become spaces; the zero-width joiner and
    non-joiner stay, since they are part of words (Persian) and emoji sequences.
    "=?" becomes "= ?": receivers (and the email package) decode RFC 2047 encoded
    words found in a value, so a name like ``=?utf-8?q?x=0D=0ABcc:...?=`` must never
    reach a header as it is.
    """
    cleaned = "".join(ch if ch.isprintable() or ch in _JOINERS else " " for ch in value)
    return " ".join(cleaned.replace("=?", "= ?").split())[:limit].rstrip()


def split_address(value: str, *, smtputf8: bool = False) -> Address:
    """A configured "Name <addr>" string (checked when the settings load) as an Address."""
    name, addr = parse_mailbox(value, smtputf8=smtputf8)
    return mailbox(clean_header_text(name), addr)


def make_message_id(kind: str, domain: str) -> str:
    return f"<{kind}.{secrets.token_hex(12)}@{domain}>"


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_to: str


def compose(
    *,
    sender: Address,
    to: Address,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: datetime,
    reply_to: Address | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    auto_submitted: str = "auto-generated",
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The complete message in wire form (CRLF line ends).

    Addresses must be normalised (mailbridge.addresses). One with non-ASCII before the
    @ makes the header block UTF-8 (RFC 6532), sendable only with SMTPUTF8.
    """
    people = [sender, to, *([reply_to] if reply_to is not None else [])]
    utf8 = not all(person.addr_spec.isascii() for person in people)
    msg = EmailMessage(policy=SMTPUTF8 if utf8 else SMTP)
    msg["Date"] = structured_header("Date", format_datetime(date))
    msg["From"] = _mailbox("From", sender)
    msg["To"] = _mailbox("To", to)
    if reply_to is not None:
        msg["Reply-To"] = _mailbox("Reply-To", reply_to)
    msg["Subject"] = text_header("Subject", clean_header_text(subject, limit=250))
    msg["Message-ID"] = structured_header("Message-ID", message_id)
    if in_reply_to:
        msg["In-Reply-To"] = structured_header("In-Reply-To", in_reply_to)
    if references:
        msg["References"] = structured_header("References", " ".join(references))
    # RFC 3834: we are a machine ("auto-replied" when answering a message); and ask
    # Exchange not to answer with its own robots.
    msg["Auto-Submitted"] = structured_header("Auto-Submitted", auto_submitted)
    msg["X-Auto-Response-Suppress"] = structured_header("X-Auto-Response-Suppress", "All")
    for name, value in extra_headers:
        # Only headers we build (List-*, with our own URLs and tokens): never user text.
        msg[name] = structured_header(name, value)
    msg["MIME-Version"] = structured_header("MIME-Version", "1.0")
    # "=_" never occurs in quoted-printable ("=" is followed by hex digits or a line
    # end), so no part can hold the boundary.
    boundary = f"=_{secrets.token_hex(16)}"
    msg["Content-Type"] = structured_header(
        "Content-Type", f'multipart/alternative; boundary="{boundary}"'
    )
    msg.set_payload([_text_part(msg.policy, "plain", text), _text_part(msg.policy, "html", html)])
    wire = msg.as_bytes()
    _check_headers(wire, [name.lower() for name in msg.keys()])
    return wire


def _text_part(policy: Policy, subtype: str, text: str) -> EmailMessage:
    """A UTF-8 text part in quoted-printable, as ``set_content(text, cte=...)`` makes
    it, but encoded by binascii (C) and with headers we fold ourselves: the email
    package's encoder and header parsing were most of composing's time, and a
    moderation email is composed for every reply (issue 14)."""
    part = EmailMessage(policy=policy)
    part["Content-Type"] = structured_header("Content-Type", f'text/{subtype}; charset="utf-8"')
    part["Content-Transfer-Encoding"] = structured_header(
        "Content-Transfer-Encoding", "quoted-printable"
    )
    # Line ends as set_content makes them (each line ended, "\r" and "\r\n" alike);
    # b2a_qp keeps lines within 76 characters (77 when it
    # encodes a space that ends a line).
    body = b"".join(line + b"\n" for line in text.encode("utf-8").splitlines())
    part.set_payload(binascii.b2a_qp(body, istext=True).decode("ascii"))
    return part


def _mailbox(field: str, person: Address) -> WireHeader:
    return mailbox_header(field, clean_header_text(person.display_name), person.addr_spec)


def _check_headers(wire: bytes, expected: list[str]) -> None:
    """Refuse to emit a message whose header block is not exactly the headers we set."""
    block = wire.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    found = [
        line.split(":", 1)[0].strip().lower()
        for line in block.split("\r\n")
        if line and not line[0].isspace()
    ]
    if sorted(found) != sorted(expected):
        raise ValueError(f"composed headers {found} differ from those set {expected}")
