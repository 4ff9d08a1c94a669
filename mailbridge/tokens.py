"""Signed tokens: reply addresses and moderation links.

Both are HMAC-SHA256 over a fixed binary payload, each purpose with its own key
derived from the instance secret, each with an expiry inside the signed payload,
and both verified with :func:`hmac.compare_digest`. Neither needs a database
lookup to verify.

Reply token (the ``TOKEN`` in ``reply+TOKEN@reply_domain``): 4 bytes recipient
address id, 4 bytes id of the comment being answered, 2 bytes expiry day (days
since 1970-01-01), then an 80-bit MAC: 20 bytes, 32 characters of lower-case
base32. Case-insensitive, because some mail systems change the case of local parts.
The MAC also covers the recipient's key epoch (not in the token): raising an
address's epoch revokes every reply address ever sent to it.

Subscription token (confirmation and unsubscribe links, and the ``TOKEN`` in
``unsubscribe+TOKEN@reply_domain``): purpose-bound, 4 bytes address id, 4 bytes
thread id (0: site-wide), 1 byte level, 2 bytes expiry day, then a 112-bit MAC:
25 bytes, 40 characters of lower-case base32 (case-insensitive, like reply tokens).

Bounce token (the ``TOKEN`` in the VERP return path ``bounce+TOKEN@reply_domain``):
4 bytes outbox id and an 88-bit MAC, 24 characters of base32.

Moderation token (in ``/moderate/TOKEN``): 4 bytes comment id, 1 byte action,
4 bytes expiry (Unix seconds), 4 bytes id of the moderator's address (whom the
link was sent to, so each decision records who made it), then a 128-bit MAC,
URL-safe base64 (39 characters). Links minted before the moderator was part of
the token (34 characters, no moderator) stay valid until they expire; their
decisions are recorded with the moderator unknown.
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

from mailbridge.errors import BadLink, ExpiredLink
from mailbridge.rejections import BadReplyToken

__all__ = [
    "Action",
    "Keyring",
    "LinkPurpose",
    "ModerationLink",
    "ReplyToken",
    "SubscriptionLink",
    "make_bounce_token",
    "make_moderation_token",
    "make_reply_token",
    "make_subscription_token",
    "new_secret",
    "peek_reply_token",
    "read_bounce_token",
    "read_moderation_token",
    "read_reply_token",
    "read_subscription_token",
]

_EPOCH = date(1970, 1, 1)
_REPLY = struct.Struct(">IIH")
_REPLY_MAC = 10  # 80 bits
_MODERATION = struct.Struct(">IBII")
_MODERATION_V1 = struct.Struct(">IBI")  # before the moderator was named in the link
_MODERATION_MAC = 16
REPLY_TOKEN_LENGTH = 32
_BOUNCE = struct.Struct(">I")
_BOUNCE_MAC = 11  # 88 bits: 15 bytes, 24 characters without padding
BOUNCE_TOKEN_LENGTH = 24


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
    bounce: bytes
    subscription: bytes
    # Shown to other daemons sharing the database, so that one with another secret
    # is noticed at start; a key of its own, so it tells nothing of the others.
    fingerprint: bytes
    # Keys the hash of a client's IP address in the shared rate limits (rate_hits).
    clients: bytes
    # Signs when the widget showed its form (mailbridge.spam.form_token).
    form: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> Keyring:
        if len(secret) < 16:
            raise ValueError("instance secret is too short")

        def derive(purpose: str) -> bytes:
            return hmac.new(secret, b"mailbridge key: " + purpose.encode(), hashlib.sha256).digest()

        return cls(
            reply=derive("reply-address v1"),
            moderation=derive("moderation-link v1"),
            bounce=derive("bounce-address v1"),
            subscription=derive("subscription-link v1"),
            fingerprint=derive("instance fingerprint v1")[:16],
            clients=derive("rate-limit client v1"),
            form=derive("web form v1"),
        )


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


def _reply_mac(key: bytes, payload: bytes, epoch: int) -> bytes:
    return _mac(key, b"reply", payload + struct.pack(">I", epoch), _REPLY_MAC)


def make_reply_token(
    key: bytes, address_id: int, comment_id: int, expires: date, epoch: int = 0
) -> str:
    payload = _REPLY.pack(address_id, comment_id, (expires - _EPOCH).days)
    raw = payload + _reply_mac(key, payload, epoch)
    return base64.b32encode(raw).decode("ascii").lower()


def _b32(token: str, length: int) -> bytes:
    if len(token) != length:
        raise BadReplyToken()
    try:
        return base64.b32decode(token.upper())
    except (binascii.Error, ValueError):
        raise BadReplyToken() from None


def peek_reply_token(token: str) -> ReplyToken:
    """What a well-formed token claims, NOT verified: only to look up the key epoch."""
    address_id, comment_id, day = _REPLY.unpack(_b32(token, REPLY_TOKEN_LENGTH)[: _REPLY.size])
    return ReplyToken(address_id, comment_id, _EPOCH + timedelta(days=day))


def read_reply_token(key: bytes, token: str, epoch: int = 0) -> ReplyToken:
    """Verify a reply token's MAC; raise :class:`BadReplyToken` if it is not genuine.

    ``epoch`` is the recipient's current key epoch. Expiry is the caller's check
    (:meth:`ReplyToken.expired`): an expired but genuine token still names its
    comment, which lets the refusal point to the thread.
    """
    raw = _b32(token, REPLY_TOKEN_LENGTH)
    payload, mac = raw[: _REPLY.size], raw[_REPLY.size :]
    if not hmac.compare_digest(mac, _reply_mac(key, payload, epoch)):
        raise BadReplyToken()
    return peek_reply_token(token)


def make_bounce_token(key: bytes, outbox_id: int) -> str:
    payload = _BOUNCE.pack(outbox_id)
    raw = payload + _mac(key, b"bounce", payload, _BOUNCE_MAC)
    return base64.b32encode(raw).decode("ascii").lower()


def read_bounce_token(key: bytes, token: str) -> int:
    """The outbox id a VERP token stands for; :class:`BadReplyToken` if not genuine."""
    raw = _b32(token, BOUNCE_TOKEN_LENGTH)
    payload, mac = raw[: _BOUNCE.size], raw[_BOUNCE.size :]
    if not hmac.compare_digest(mac, _mac(key, b"bounce", payload, _BOUNCE_MAC)):
        raise BadReplyToken()
    return int(_BOUNCE.unpack(payload)[0])


# The Reply-To of a moderation email: moderate+TOKEN@reply_domain. Base32 like reply
# tokens, because mail systems may change the case of a local part.
_MODERATE_REPLY = struct.Struct(">IIH")  # comment, moderator's address, expiry day
_MODERATE_REPLY_MAC = 10  # 80 bits; 20 bytes in all: 32 characters
MODERATE_REPLY_TOKEN_LENGTH = 32


def make_moderation_reply_token(
    key: bytes, comment_id: int, moderator_id: int, expires: date
) -> str:
    payload = _MODERATE_REPLY.pack(comment_id, moderator_id, (expires - _EPOCH).days)
    raw = payload + _mac(key, b"moderate by reply", payload, _MODERATE_REPLY_MAC)
    return base64.b32encode(raw).decode("ascii").lower()


def read_moderation_reply_token(key: bytes, token: str) -> tuple[int, int, date]:
    """(comment id, moderator address id, expiry) of a genuine token; else BadReplyToken.

    Expiry is the caller's check, as for reply tokens."""
    raw = _b32(token, MODERATE_REPLY_TOKEN_LENGTH)
    payload, mac = raw[: _MODERATE_REPLY.size], raw[_MODERATE_REPLY.size :]
    expected = _mac(key, b"moderate by reply", payload, _MODERATE_REPLY_MAC)
    if not hmac.compare_digest(mac, expected):
        raise BadReplyToken()
    comment_id, moderator_id, day = _MODERATE_REPLY.unpack(payload)
    return int(comment_id), int(moderator_id), _EPOCH + timedelta(days=day)


# A moderator's sign-in link for the queue page: their address id and an expiry (Unix
# seconds). Short-lived; the session it opens is stored (hashed) and revocable.
_LOGIN = struct.Struct(">II")
_LOGIN_MAC = 16


def make_login_token(key: bytes, address_id: int, expires: datetime) -> str:
    return _make_address_token(key, b"moderator login", address_id, expires)


def read_login_token(key: bytes, token: str, now: datetime) -> int:
    """The address id a sign-in link is for; :class:`BadLink` or :class:`ExpiredLink`."""
    return _read_address_token(key, b"moderator login", token, now)


def make_privacy_token(key: bytes, address_id: int, expires: datetime) -> str:
    """A link to see, download or erase one's own data, sent to the address itself."""
    return _make_address_token(key, b"privacy link", address_id, expires)


def read_privacy_token(key: bytes, token: str, now: datetime) -> int:
    return _read_address_token(key, b"privacy link", token, now)


def _make_address_token(key: bytes, purpose: bytes, address_id: int, expires: datetime) -> str:
    payload = _LOGIN.pack(address_id, int(expires.timestamp()))
    raw = payload + _mac(key, purpose, payload, _LOGIN_MAC)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _read_address_token(key: bytes, purpose: bytes, token: str, now: datetime) -> int:
    if len(token) > 40:
        raise BadLink()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise BadLink() from None
    if len(raw) != _LOGIN.size + _LOGIN_MAC:
        raise BadLink()
    payload, mac = raw[: _LOGIN.size], raw[_LOGIN.size :]
    if not hmac.compare_digest(mac, _mac(key, purpose, payload, _LOGIN_MAC)):
        raise BadLink()
    address_id, expires = _LOGIN.unpack(payload)
    if datetime.fromtimestamp(expires, UTC) < now:
        raise ExpiredLink()
    return int(address_id)


# Undo of one moderation decision: the comment, the status it had and the one it was
# given, the moderator, an expiry (Unix seconds), and the decision's id (only the
# latest decision may be undone). Valid 30 days. Links made before the decision's id
# was in them (_UNDO_OLD, 40 characters) are still read, with no decision named.
_UNDO = struct.Struct(">IBBIII")
_UNDO_OLD = struct.Struct(">IBBII")
_UNDO_MAC = 16
_STATUSES = ("pending", "approved", "rejected", "spam")


@dataclass(frozen=True)
class UndoLink:
    comment_id: int
    previous: str
    status: str
    moderator_id: int
    decision_id: int | None = None  # None: a link from before it was named


def make_undo_token(
    key: bytes,
    comment_id: int,
    previous: str,
    status: str,
    moderator_id: int,
    expires: datetime,
    decision_id: int,
) -> str:
    payload = _UNDO.pack(
        comment_id,
        _STATUSES.index(previous),
        _STATUSES.index(status),
        moderator_id,
        int(expires.timestamp()),
        decision_id,
    )
    raw = payload + _mac(key, b"undo decision", payload, _UNDO_MAC)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_undo_token(key: bytes, token: str, now: datetime) -> UndoLink:
    """The decision an undo link reverses; :class:`BadLink` or :class:`ExpiredLink`."""
    if len(token) > 48:
        raise BadLink()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise BadLink() from None
    size = len(raw) - _UNDO_MAC
    if size not in (_UNDO.size, _UNDO_OLD.size):
        raise BadLink()
    payload, mac = raw[:size], raw[size:]
    # The MAC covers the payload's length: an old link cannot pass for a new one.
    if not hmac.compare_digest(mac, _mac(key, b"undo decision", payload, _UNDO_MAC)):
        raise BadLink()
    decision_id: int | None = None
    if size == _UNDO.size:
        comment_id, previous, status, moderator_id, expires, decision_id = _UNDO.unpack(payload)
    else:
        comment_id, previous, status, moderator_id, expires = _UNDO_OLD.unpack(payload)
    if max(previous, status) >= len(_STATUSES):
        raise BadLink()
    if datetime.fromtimestamp(expires, UTC) < now:
        raise ExpiredLink()
    return UndoLink(comment_id, _STATUSES[previous], _STATUSES[status], moderator_id, decision_id)


def csrf_token(key: bytes, session_token: str) -> str:
    """The form token bound to one session (double submit, derived: nothing stored)."""
    return _mac(key, b"csrf", session_token.encode(), 16).hex()


class Action(enum.Enum):
    """What a moderation link does; the value is the comment status it sets."""

    APPROVE = "approved"
    REJECT = "rejected"
    SPAM = "spam"
    TRUST = "trusted"  # approve, and trust the writer's address from now on

    @property
    def code(self) -> int:
        return list(Action).index(self) + 1

    @property
    def verb(self) -> str:
        return "approve and trust" if self is Action.TRUST else self.name.lower()

    @property
    def status(self) -> str:
        """The comment status this action sets."""
        return "approved" if self is Action.TRUST else self.value


@dataclass(frozen=True)
class ModerationLink:
    comment_id: int
    action: Action
    expires: datetime
    moderator_id: int | None  # the address it was sent to; None in a link from before that


def make_moderation_token(
    key: bytes, comment_id: int, action: Action, expires: datetime, moderator_id: int
) -> str:
    payload = _MODERATION.pack(comment_id, action.code, int(expires.timestamp()), moderator_id)
    raw = payload + _mac(key, b"moderate v2", payload, _MODERATION_MAC)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_moderation_token(key: bytes, token: str, now: datetime) -> ModerationLink:
    """Verify a moderation token; raise :class:`BadLink` or :class:`ExpiredLink`."""
    if len(token) > 64:
        raise BadLink()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise BadLink() from None
    moderator_id: int | None
    if len(raw) == _MODERATION.size + _MODERATION_MAC:
        payload, mac = raw[: _MODERATION.size], raw[_MODERATION.size :]
        purpose = b"moderate v2"
        comment_id, code, expires, moderator_id = _MODERATION.unpack(payload)
    elif len(raw) == _MODERATION_V1.size + _MODERATION_MAC:
        payload, mac = raw[: _MODERATION_V1.size], raw[_MODERATION_V1.size :]
        purpose = b"moderate"
        comment_id, code, expires = _MODERATION_V1.unpack(payload)
        moderator_id = None
    else:
        raise BadLink()
    if not hmac.compare_digest(mac, _mac(key, purpose, payload, _MODERATION_MAC)):
        raise BadLink()
    actions = list(Action)
    if not 1 <= code <= len(actions):
        raise BadLink()
    link = ModerationLink(
        comment_id, actions[code - 1], datetime.fromtimestamp(expires, UTC), moderator_id
    )
    if link.expires < now:
        raise ExpiredLink()
    return link


class LinkPurpose(enum.Enum):
    """What a subscription token may be used for; part of what the MAC covers."""

    CONFIRM = b"confirm-subscription"
    UNSUBSCRIBE = b"unsubscribe"


_LEVELS = ("none", "replies", "thread")
_SUBSCRIPTION = struct.Struct(">IIBH")
_SUBSCRIPTION_MAC = 14
SUBSCRIPTION_TOKEN_LENGTH = 40


@dataclass(frozen=True)
class SubscriptionLink:
    purpose: LinkPurpose
    address_id: int
    thread_id: int | None  # None: site-wide
    level: str  # "none" | "replies" | "thread"
    expires: date


def make_subscription_token(
    key: bytes,
    purpose: LinkPurpose,
    address_id: int,
    thread_id: int | None,
    level: str,
    expires: date,
) -> str:
    payload = _SUBSCRIPTION.pack(
        address_id, thread_id or 0, _LEVELS.index(level), (expires - _EPOCH).days
    )
    raw = payload + _mac(key, purpose.value, payload, _SUBSCRIPTION_MAC)
    return base64.b32encode(raw).decode("ascii").lower()


def read_subscription_token(
    key: bytes, purpose: LinkPurpose, token: str, today: date
) -> SubscriptionLink:
    """Verify a subscription token for ``purpose``; :class:`BadLink` / :class:`ExpiredLink`."""
    if len(token) != SUBSCRIPTION_TOKEN_LENGTH:
        raise BadLink()
    try:
        raw = base64.b32decode(token.upper())
    except (binascii.Error, ValueError):
        raise BadLink() from None
    payload, mac = raw[: _SUBSCRIPTION.size], raw[_SUBSCRIPTION.size :]
    if not hmac.compare_digest(mac, _mac(key, purpose.value, payload, _SUBSCRIPTION_MAC)):
        raise BadLink()
    address_id, thread_id, level, day = _SUBSCRIPTION.unpack(payload)
    if level >= len(_LEVELS):
        raise BadLink()
    link = SubscriptionLink(
        purpose, address_id, thread_id or None, _LEVELS[level], _EPOCH + timedelta(days=day)
    )
    if link.expires < today:
        raise ExpiredLink()
    return link
