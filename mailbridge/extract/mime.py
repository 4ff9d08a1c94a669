"""MIME: parse the raw message, find the body part(s), list the attachments.

Parsing uses the standard library's ``compat32`` policy, which is several
times faster than ``policy.default`` and, unlike it, never decodes anything we
do not ask for; headers we need are decoded here.

Body selection: every inline ``text/plain`` part and every inline ``text/html``
part is collected in document order (Apple Mail splits a reply around an
inline image into several text parts).  The plain text is used when it carries
something; the HTML when there is no plain part or the plain part is an empty
stub ("This message is in HTML format").  Everything else (images, files,
forwarded messages, calendar invitations) is an :class:`Attachment`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value

from mailbridge.extract.charsets import decode_bytes
from mailbridge.extract.flowed import decode_flowed
from mailbridge.extract.model import Attachment

__all__ = ["NESTED_TOO_DEEP", "Body", "ParsedMail", "decode_header_value", "parse_mail"]

# Recorded when the parser gave up on nesting; the inbound pipeline refuses such mail.
NESTED_TOO_DEEP = "MIME nested too deep; body read as text"

# A message that starts with blank lines before its headers (some stores add
# one): the parser would see no headers at all.
_HEADER_START = re.compile(rb"[\r\n]{1,8}(?=[!-9;-~]{1,76}:)")
_STUB = re.compile(
    r"(?:this\s+(?:is\s+an?\s+)?(?:message|e-?mail)\s+(?:is\s+)?(?:in|has\s+been\s+converted\s+to)"
    r"\s+html|to\s+view\s+this\s+(?:message|e-?mail).{0,60}html|your\s+(?:mail\s+)?client\s+does"
    r"\s+not\s+support\s+html)",
    re.IGNORECASE,
)
_MAX_PARTS = 500  # a hostile message with thousands of parts is cut short


@dataclass
class Body:
    """One decoded text part."""

    subtype: str  # "plain" or "html"
    text: str
    charset: str
    fallback: bool


@dataclass
class ParsedMail:
    plain: list[Body] = field(default_factory=list)
    html: list[Body] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    sender: str = ""
    defects: list[str] = field(default_factory=list)


def decode_header_value(value: object) -> str:
    """A header as text: RFC 2047 encoded words decoded, never raising."""
    if value is None:
        return ""
    raw = str(value)
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except (ValueError, LookupError, UnicodeError, AssertionError, MessageError):
        return raw


def _filename(part: Message) -> str | None:
    for value in (part.get_param("filename", header="content-disposition"), part.get_param("name")):
        if value:
            try:
                name = collapse_rfc2231_value(value)
            except (ValueError, LookupError, UnicodeError):
                # A broken RFC 2231 charset (a NUL in its name, say): its text as is.
                name = value[2] if isinstance(value, tuple) else str(value)
            return decode_header_value(name).strip() or None
    return None


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, UnicodeError, AssertionError):
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("ascii", "surrogateescape")
    return b""


def _text_of(part: Message, subtype: str) -> Body:
    data = _payload_bytes(part)
    text, charset, fallback = decode_bytes(data, part.get_content_charset())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if subtype == "plain" and str(part.get_param("format") or "").lower() == "flowed":
        delsp = str(part.get_param("delsp") or "").lower() == "yes"
        text = decode_flowed(text, delsp)
    return Body(subtype, text, charset, fallback)


def is_stub(text: str) -> bool:
    """True if a plain part only says "see the HTML part" (or nothing)."""
    stripped = text.strip()
    return not stripped or (len(stripped) < 300 and _STUB.search(stripped) is not None)


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse ``raw`` and sort its parts; never raises on any bytes."""
    parsed = ParsedMail()
    if raw[:1] in (b"\r", b"\n"):
        m = _HEADER_START.match(raw)
        if m is not None:
            raw = raw[m.end() :]
            parsed.defects.append("blank lines before the headers")
    try:
        msg = BytesParser(policy=compat32).parsebytes(raw)
    except RecursionError:
        # The standard parser recurses once per nested multipart; a message
        # nested thousands deep is read as headers plus one text body instead.
        msg = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
        del msg["Content-Type"]
        parsed.defects.append(NESTED_TOO_DEEP)
    parsed.sender = decode_header_value(msg.get("From"))
    stack: list[Message] = [msg]
    seen = 0
    while stack and seen < _MAX_PARTS:
        part = stack.pop()
        seen += 1
        ctype = part.get_content_type()
        if ctype == "message/rfc822" or ctype.startswith("message/"):
            parsed.attachments.append(_attachment(part, ctype))
            continue
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(reversed([c for c in children if isinstance(c, Message)]))
            continue
        maintype, _, subtype = ctype.partition("/")
        disposition = str(part.get("Content-Disposition", "")).split(";", 1)[0].strip().lower()
        if maintype == "multipart":
            # Declared multipart without boundary lines: the body is the text.
            parsed.defects.append("multipart without parts")
            parsed.plain.append(_text_of(part, "plain"))
            continue
        is_text = maintype == "text" and subtype in ("plain", "html")
        if is_text and disposition != "attachment" and _filename(part) is None:
            body = _text_of(part, subtype)
            (parsed.plain if subtype == "plain" else parsed.html).append(body)
        else:
            parsed.attachments.append(_attachment(part, ctype))
    if stack:
        parsed.defects.append(f"more than {_MAX_PARTS} parts; the rest ignored")
    if msg.defects:
        parsed.defects.extend(type(d).__name__ for d in msg.defects[:5])
    return parsed


def _attachment(part: Message, ctype: str) -> Attachment:
    if ctype.startswith("message/"):
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else payload
        try:
            size = len(inner.as_bytes() if isinstance(inner, Message) else str(inner or ""))
        except (MessageError, LookupError, UnicodeError, ValueError):
            # Flattening re-encodes the inner message: a charset label that is not one
            # (found by fuzzing) fails it. The size is only shown to the moderator.
            size = 0
    else:
        size = len(_payload_bytes(part))
    return Attachment(filename=_filename(part), content_type=ctype, size=size)
