"""Build outgoing RFC 5322 messages.

Header values that come from people (names, thread titles) are made one line and
stripped of control characters before they reach a header, so no input can add a
header. Every header is then encoded and folded by :mod:`mailbridge.outbound.headers`
(the email package's own folding breaks List-Unsubscribe URLs and subjects).

The MIME structure is always the same two parts in one multipart/alternative, each
quoted-printable or, when smaller (a text mostly in Cyrillic, Greek, Arabic, Hebrew or
CJK), base64, so it is written here, byte for byte as the email package's generator
writes it but for "From " at a line's start, escaped (tests/unit/test_compose.py
compares the two): the generator
wrote each body line with a call of its own, and was a tenth of the worker's time
while it reads a reply and composes its moderation email (issue 14).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.policy import SMTP
from email.utils import format_datetime

from mailbridge.addresses import mailbox, parse_mailbox
from mailbridge.outbound.headers import (
    WireHeader,
    cluster_cut,
    mailbox_header,
    structured_header,
    text_header,
)

__all__ = [
    "Envelope",
    "clean_header_text",
    "compose",
    "encoded_body",
    "make_message_id",
    "split_address",
    "well_formed_message_id",
]

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
    return cluster_cut(" ".join(cleaned.replace("=?", "= ?").split()), limit).rstrip()


def split_address(value: str, *, smtputf8: bool = False) -> Address:
    """A configured "Name <addr>" string (checked when the settings load) as an Address."""
    name, addr = parse_mailbox(value, smtputf8=smtputf8)
    return mailbox(clean_header_text(name), addr)


# RFC 5322 3.6.4 msg-id without obsolete forms: "<" dot-atom-text "@" (dot-atom-text or
# a no-fold-literal) ">", ASCII only since our headers are. Bounded so that it always
# fits a header line.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_MESSAGE_ID = re.compile(rf"<{_DOT_ATOM}@(?:{_DOT_ATOM}|\[[!-Z^-~]*\])>")
_LONGEST_MESSAGE_ID = 500


def well_formed_message_id(value: str | None) -> str | None:
    """The first well-formed msg-id in a Message-ID someone else wrote, or None.

    Such a value (a reply's, to thread our answer under it) may hold anything: text
    after the id, an encoded word, UTF-8, a thousand characters. Only the id itself
    may reach our In-Reply-To and References; without one the answer is unthreaded.
    """
    found = _MESSAGE_ID.search(value or "")
    if found is None or len(found.group()) > _LONGEST_MESSAGE_ID:
        return None
    return found.group()


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
    headers = [
        structured_header("Date", format_datetime(date)),
        _mailbox("From", sender),
        _mailbox("To", to),
    ]
    if reply_to is not None:
        headers.append(_mailbox("Reply-To", reply_to))
    headers.append(text_header("Subject", clean_header_text(subject, limit=250)))
    headers.append(structured_header("Message-ID", message_id))
    if in_reply_to:
        headers.append(structured_header("In-Reply-To", in_reply_to))
    if references:
        headers.append(structured_header("References", " ".join(references)))
    # RFC 3834: we are a machine ("auto-replied" when answering a message); and ask
    # Exchange not to answer with its own robots.
    headers.append(structured_header("Auto-Submitted", auto_submitted))
    headers.append(structured_header("X-Auto-Response-Suppress", "All"))
    # Only headers we build (List-*, with our own URLs and tokens): never user text.
    headers.extend(structured_header(name, value) for name, value in extra_headers)
    headers.append(structured_header("MIME-Version", "1.0"))
    # "=_" never occurs in quoted-printable ("=" is followed by hex digits or a line
    # end), so no part can hold the boundary.
    boundary = f"=_{secrets.token_hex(16)}".encode("ascii")
    headers.append(
        structured_header("Content-Type", f'multipart/alternative; boundary="{boundary.decode()}"')
    )
    # A non-ASCII address goes out as UTF-8 (RFC 6532); every other header is ASCII
    # (encoded words), and encoding it as ASCII proves that.
    head = _header_block(headers, "utf-8" if utf8 else "ascii")
    wire = b"".join(
        [
            head,
            b"\r\n--" + boundary + b"\r\n",
            _text_part("plain", text),
            b"\r\n--" + boundary + b"\r\n",
            _text_part("html", html),
            b"\r\n--" + boundary + b"--\r\n",
        ]
    )
    _check_headers(wire, [header.name.lower() for header in headers])
    return wire


def _header_block(headers: Sequence[WireHeader], charset: str) -> bytes:
    return "".join(header.fold(policy=SMTP) for header in headers).encode(charset)


_PART_HEADERS = {
    (subtype, cte): _header_block(
        [
            structured_header("Content-Type", f'text/{subtype}; charset="utf-8"'),
            structured_header("Content-Transfer-Encoding", cte),
        ],
        "ascii",
    )
    + b"\r\n"
    for subtype in ("plain", "html")
    for cte in ("quoted-printable", "base64")
}


def _text_part(subtype: str, text: str) -> bytes:
    cte, body = encoded_body(text)
    return _PART_HEADERS[subtype, cte] + body


def encoded_body(text: str) -> tuple[str, bytes]:
    """A UTF-8 text part's Content-Transfer-Encoding and body, CRLF line ends.

    Quoted-printable, as ``set_content(text, cte=...)`` makes it: every line ended
    ("\\r" and "\\r\\n" alike), and b2a_qp (C) keeping lines within 76 characters (77
    when it encodes a space that ends a line); "From " escaped. Base64 when that is
    shorter: quoted-printable writes each byte of a non-Latin letter as three
    characters, so a comment in Russian or Japanese went out three times its size
    (and a long one past the 102 KB at which Gmail hides the rest, buttons included).
    """
    lines = text.encode("utf-8").splitlines()
    body = b"".join(line + b"\n" for line in lines)
    qp = _escape_from(binascii.b2a_qp(body, istext=True))
    if not body.isascii():
        # Text is encoded in its canonical form, CRLF line ends (RFC 2045, 6.8);
        # encodebytes writes 57 bytes a line, each 76 characters and its line end.
        size = len(body) + len(lines)
        if 4 * -(-size // 3) + 2 * -(-size // 57) < len(qp) + qp.count(b"\n"):
            crlf = b"".join(line + b"\r\n" for line in lines)
            return "base64", base64.encodebytes(crlf).replace(b"\n", b"\r\n")
    return "quoted-printable", qp.replace(b"\n", b"\r\n")


def _escape_from(qp: bytes) -> bytes:
    """Quoted-printable lines starting "From " with the F encoded (=46).

    A delivery to an mbox file (Postfix's local(8), procmail) writes such a line as
    ">From ": the reader saw ">From what I read" and the DKIM body hash no longer
    matched. "=46rom" decodes to the same text and no mbox writer touches it. A line
    that the two added characters would take past quoted-printable's 76 is broken
    (a soft line break) after "=46rom".
    """
    if not qp.startswith(b"From ") and b"\nFrom " not in qp:
        return qp  # nearly always: no copy
    lines = qp.split(b"\n")
    for index, line in enumerate(lines):
        if line.startswith(b"From "):
            escaped = b"=46" + line[1:]
            lines[index] = escaped if len(escaped) <= 76 else b"=46rom=\n" + line[4:]
    return b"\n".join(lines)


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
