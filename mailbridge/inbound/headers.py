"""What the pipeline reads of a message before the extractor does: its headers."""

from __future__ import annotations

import hashlib
from email.message import Message
from email.utils import getaddresses

from mailbridge.inbound.recipients import Kind, Recipient
from mailbridge.rawheaders import parse_header_section
from mailbridge.rejections import BadReplyToken, UnparseableMessage
from mailbridge.tokens import peek_reply_token

__all__ = [
    "claimed_address",
    "dedup_key",
    "from_address",
    "header_block",
    "message_id_of",
    "parse_headers",
]


def dedup_key(message_id: str | None, raw: bytes, rcpt_to: str) -> str:
    """Same Message-ID to the same recipient address is the same message (a redelivery)."""
    identity = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(f"{identity}\0{rcpt_to.lower()}".encode()).hexdigest()


def parse_headers(raw: bytes) -> Message:
    # Headers only: the body is the extractor's job.
    return parse_header_section(raw)


def header_block(raw: bytes) -> str:
    end = raw.find(b"\r\n\r\n")
    end = end if end >= 0 else raw.find(b"\n\n")
    return raw[: end if end >= 0 else min(len(raw), 64 * 1024)].decode("utf-8", "replace")


def from_address(headers: Message) -> str:
    # Raw values: a UTF-8 From (RFC 6532, e.g. a Unicode domain) read as UTF-8, not as
    # the placeholders compat32 puts in place of 8-bit bytes.
    values = [
        str(v).encode("ascii", "surrogateescape").decode("utf-8", "replace")
        for k, v in headers.raw_items()
        if k.lower() == "from"
    ]
    found = [addr for _name, addr in getaddresses(values) if "@" in addr]
    if len(found) != 1:
        raise UnparseableMessage()
    return found[0]


def claimed_address(recipient: Recipient) -> int | None:
    """The address a reply token names (unverified: for the log and rate limits only)."""
    if recipient.kind is not Kind.REPLY:
        return None
    try:
        return peek_reply_token(recipient.token).address_id
    except BadReplyToken:
        return None


def message_id_of(headers: Message) -> str | None:
    """The Message-ID on one line, or None."""
    value = headers.get("Message-ID")
    return " ".join(str(value).split()) if value else None
