"""Signed tokens: reply addresses and moderation links.

Both are HMAC-SHA256 over a fixed binary payload, each purpose with its own key
derived from the instance secret, each with an expiry inside the signed payload,
and both verified with :func:`hmac.compare_digest`. Neither needs a database
lookup to verify.

Reply token (the ``TOKEN`` in ``reply+TOKEN@reply_domain``): 4 bytes recipient
address id, 4 bytes id of the comment being answered, 2 bytes expiry day (days
since 1970-01-01), then an 80-bit MAC: 20 bytes, 32 characters of lower-case
base32. Case-insensitive, because some mail systems change the case of local parts.

Moderation token (in ``/moderate/TOKEN``): 4 bytes comment id, 1 byte action,
4 bytes expiry (Unix seconds), then a 128-bit MAC, URL-safe base64.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from mailbridge.errors import BadLink, BadReplyToken, ExpiredLink

__all__ = [
    "Action",
    "Keyring",
    "ModerationLink",
    "ReplyToken",
    "make_moderation_token",
    "make_reply_token",
    "new_secret",
    "read_moderation_token",
    "read_reply_token",
]

_EPOCH = date(1970, 1, 1)
_REPLY = struct.Struct(">IIH")
_REPLY_MAC = 10  # 80 bits
_MODERATION = struct.Struct(">IBI")
_MODERATION_MAC = 16
REPLY_TOKEN_LENGTH = 32


def new_secret() -> bytes:
    """A fresh instance secret (256 bits)."""
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class Keyring:
    """Per-purpose keys derived from the one instance secret.

    Deriving instead of reusing means a token minted for one purpose can never
    verify as another, even if the payloads happened to line up.
    """

    reply: bytes
    moderation: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> Keyring:
        if len(secret) < 16:
            raise ValueError("instance secret is too short")

        def derive(purpose: str) -> bytes:
            return hmac.new(secret, b"mailbridge key: " + purpose.encode(), hashlib.sha256).digest()

        return cls(reply=derive("reply-address v1"), moderation=derive("moderation-link v1"))


def _mac(key: bytes, purpose: bytes, payload: bytes, size: int) -> bytes:
    return hmac.new(key, purpose + b"\0" + payload, hashlib.sha256).digest()[:size]


@dataclass(frozen=True)
class ReplyToken:
    """What a reply address stands for: who it was sent to, and what they answer."""

    address_id: int
    comment_id: int
    expires: date

    def expired(self, today: date) -> bool:
        return self.expires < today


def make_reply_token(key: bytes, address_id: int, comment_id: int, expires: date) -> str:
    payload = _REPLY.pack(address_id, comment_id, (expires - _EPOCH).days)
    raw = payload + _mac(key, b"reply", payload, _REPLY_MAC)
    return base64.b32encode(raw).decode("ascii").lower()


def read_reply_token(key: bytes, token: str) -> ReplyToken:
    """Verify a reply token's MAC; raise :class:`BadReplyToken` if it is not genuine.

    Expiry is the caller's check (:meth:`ReplyToken.expired`): an expired but genuine
    token still names its comment, which lets the refusal point to the thread.
    """
    if len(token) != REPLY_TOKEN_LENGTH:
        raise BadReplyToken()
    try:
        raw = base64.b32decode(token.upper())
    except (binascii.Error, ValueError):
        raise BadReplyToken() from None
    payload, mac = raw[: _REPLY.size], raw[_REPLY.size :]
    if not hmac.compare_digest(mac, _mac(key, b"reply", payload, _REPLY_MAC)):
        raise BadReplyToken()
    address_id, comment_id, day = _REPLY.unpack(payload)
    return ReplyToken(address_id, comment_id, _EPOCH + timedelta(days=day))


class Action(enum.Enum):
    """What a moderation link does; the value is the comment status it sets."""

    APPROVE = "approved"
    REJECT = "rejected"
    SPAM = "spam"

    @property
    def code(self) -> int:
        return list(Action).index(self) + 1

    @property
    def verb(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class ModerationLink:
    comment_id: int
    action: Action
    expires: datetime


def make_moderation_token(key: bytes, comment_id: int, action: Action, expires: datetime) -> str:
    payload = _MODERATION.pack(comment_id, action.code, int(expires.timestamp()))
    raw = payload + _mac(key, b"moderate", payload, _MODERATION_MAC)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_moderation_token(key: bytes, token: str, now: datetime) -> ModerationLink:
    """Verify a moderation token; raise :class:`BadLink` or :class:`ExpiredLink`."""
    if len(token) > 64:
        raise BadLink()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise BadLink() from None
    if len(raw) != _MODERATION.size + _MODERATION_MAC:
        raise BadLink()
    payload, mac = raw[: _MODERATION.size], raw[_MODERATION.size :]
    if not hmac.compare_digest(mac, _mac(key, b"moderate", payload, _MODERATION_MAC)):
        raise BadLink()
    comment_id, code, expires = _MODERATION.unpack(payload)
    actions = list(Action)
    if not 1 <= code <= len(actions):
        raise BadLink()
    link = ModerationLink(comment_id, actions[code - 1], datetime.fromtimestamp(expires, UTC))
    if link.expires < now:
        raise ExpiredLink()
    return link
