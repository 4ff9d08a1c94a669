"""Build outgoing RFC 5322 messages.

Header values that come from people (names, thread titles) are folded to one
line and stripped of control characters before they reach a header, so no input
can add a header; the email package then encodes them (RFC 2047) as needed.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

__all__ = ["Envelope", "clean_header_text", "compose", "make_message_id", "split_address"]


def clean_header_text(value: str, limit: int = 200) -> str:
    """One line of printable text, safe to put in a header.

    Control and line-separator characters become spaces. "=?" becomes "= ?": the
    email package decodes RFC 2047 encoded words found in a value it is given, so
    a name like ``=?utf-8?q?x=0D=0ABcc:...?=`` would otherwise decode into a line
    break and a header of the sender's choosing.
    """
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return " ".join(cleaned.replace("=?", "= ?").split())[:limit]


def split_address(value: str) -> Address:
    """A configured "Name <addr>" string as an Address."""
    name, addr = parseaddr(value)
    return Address(display_name=clean_header_text(name), addr_spec=addr)


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
    """The complete message in wire form (CRLF line ends)."""
    msg = EmailMessage(policy=SMTP)
    msg["Date"] = format_datetime(date)
    msg["From"] = sender
    msg["To"] = to
    if reply_to is not None:
        msg["Reply-To"] = reply_to
    msg["Subject"] = clean_header_text(subject, limit=250)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    # RFC 3834: we are a machine ("auto-replied" when answering a message); and ask
    # Exchange not to answer with its own robots.
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    for name, value in extra_headers:
        # Only headers we build (List-*, with our own URLs and tokens): never user text.
        if not value.isascii() or any(c in value for c in "\r\n"):
            raise ValueError(f"header {name} must be one line of ASCII")
        msg[name] = value
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    wire = msg.as_bytes()
    _check_headers(wire, [name.lower() for name in msg.keys()])
    return wire


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
