"""``mailbridge send-reply``: answer a notification as its reader's mail client would.

For trying mailbridge out and for checking a setup end to end: it reads an email
mailbridge wrote (a file of the outbox Maildir), and sends a reply from the address it
was sent to, to its ``Reply-To``, through mailbridge's own SMTP service. Header fields
are read with a parser that unfolds them (a long ``Reply-To`` is folded over lines,
which broke naive scripts).
"""

from __future__ import annotations

import smtplib
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid

from mailbridge.errors import MailbridgeError

__all__ = ["CannotReply", "build_reply", "send_reply"]

_TIMEOUT = 60.0


class CannotReply(MailbridgeError):
    """The file is no email mailbridge can be answered through, or sending failed."""


def _one_address(message: EmailMessage, field: str) -> Address:
    header = message[field]
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if len(addresses) != 1:
        raise CannotReply(f"the email needs exactly one {field} address to reply to")
    return addresses[0]


def _text(said: bytes | str) -> str:
    return said.decode("utf-8", "replace") if isinstance(said, bytes) else said


def build_reply(notification: bytes, body: str) -> tuple[str, str, EmailMessage]:
    """(sender, recipient, reply): ``body`` from the notification's To, to its Reply-To."""
    original = BytesParser(policy=policy.default).parsebytes(notification)
    assert isinstance(original, EmailMessage)
    sender = _one_address(original, "To")
    recipient = _one_address(original, "Reply-To")
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = recipient.addr_spec
    subject = str(original.get("Subject", ""))
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Date"] = formatdate(localtime=True)
    reply["Message-ID"] = make_msgid(domain=sender.domain or None)
    if original["Message-ID"] is not None:
        reply["In-Reply-To"] = str(original["Message-ID"])
        reply["References"] = str(original["Message-ID"])
    reply.set_content(body.rstrip("\n") + "\n")
    return sender.addr_spec, recipient.addr_spec, reply


def send_reply(notification: bytes, body: str, host: str, port: int) -> str:
    """Send the reply through the SMTP service at ``host:port``; what the server said."""
    sender, recipient, reply = build_reply(notification, body)
    try:
        with smtplib.SMTP(host, port, timeout=_TIMEOUT) as smtp:
            smtp.send_message(reply, from_addr=sender, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = exc.recipients[recipient]
        raise CannotReply(f"refused: {code} {_text(text)}") from None
    except smtplib.SMTPResponseException as exc:
        raise CannotReply(f"refused: {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except OSError as exc:
        raise CannotReply(
            f"cannot reach mailbridge's SMTP service at {host}:{port} ({exc}); "
            "is `mailbridge serve` running?"
        ) from None
    return f"Sent a reply from {sender} to {recipient} through {host}:{port}."
