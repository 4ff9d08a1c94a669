"""When the web form was shown, signed by the server: the timing signal of issue 10.

The widget asks for a form token (``POST /api/threads/KEY/form``) as it shows the form
and sends it back with the comment as ``form``. The server reads the time it was issued
from the token and works out from its own clock how long the form was open: a robot
posting straight to the API can no longer claim ``"elapsed": 60`` (the client's number,
which used to be the only measure). Pure functions; the key is ``Keyring.form``.

Token: 8 bytes issue time (Unix milliseconds: whole seconds would give a robot up to
one of the two), then a 128-bit HMAC-SHA256 over the purpose, the thread's key and
the issue time (a token of one thread is not one of another), URL-safe base64: 32
characters. It is valid :data:`LIFETIME`, far longer than anyone
writes: it only bounds the reuse of one token.

A missing, forged or expired token does not refuse the comment: old widgets (a cached
embed.js), other clients of the documented API and a tab left open for days send
none that proves anything. It is one weak signal (:attr:`FormTime.doubt`), never
enough alone; at worst the comment goes to the spam folder, where the author rescues it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["EXPIRED", "FORGED", "LIFETIME", "NO_TOKEN", "FormTime", "form_time", "make_form_token"]

LIFETIME = timedelta(hours=48)
_PAYLOAD = struct.Struct(">Q")
_MAC = 16
_LENGTH = 32  # base64 of 24 bytes
_PURPOSE = b"web form shown"


def _mac(key: bytes, thread_key: str, payload: bytes) -> bytes:
    message = _PURPOSE + b"\0" + thread_key.encode("utf-8", "surrogatepass") + b"\0" + payload
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC]


def make_form_token(key: bytes, thread_key: str, now: datetime) -> str:
    """A token saying the form of ``thread_key`` was shown at ``now``."""
    payload = _PAYLOAD.pack(int(now.timestamp() * 1000))
    raw = payload + _mac(key, thread_key, payload)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class FormTime:
    """How long the form was open, and how far that is known.

    ``seconds``: for the rule "written in under two seconds" (None: unknown).
    ``doubt``: why the time is not proven (the signal's name), None when it is."""

    seconds: float | None
    doubt: str | None = None


NO_TOKEN = "no form token"  # noqa: S105 (a signal's name)
FORGED = "form token not genuine"
EXPIRED = "form token expired"


def _issued(key: bytes, token: object, thread_key: str) -> datetime | None:
    """The issue time of a genuine token for ``thread_key``; None for anything else."""
    if not isinstance(token, str) or len(token) != _LENGTH or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return None
    payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if len(mac) != _MAC or not hmac.compare_digest(mac, _mac(key, thread_key, payload)):
        return None
    (issued,) = _PAYLOAD.unpack(payload)
    return datetime.fromtimestamp(issued / 1000, UTC)


def form_time(
    key: bytes, token: object, thread_key: str, now: datetime, claimed: float | None
) -> FormTime:
    """How long the form was open: the server's own measure from a genuine ``token``;
    else the client's ``claimed`` seconds ("elapsed"), with the doubt named.

    A client may say it was quicker than the token shows (the widget measures from the
    first keystroke, the token from when the form was shown), never slower."""
    if token is None:
        return FormTime(claimed, NO_TOKEN)
    issued = _issued(key, token, thread_key)
    if issued is None:
        return FormTime(claimed, FORGED)
    if now - issued > LIFETIME:
        return FormTime(claimed, EXPIRED)
    seconds = (now - issued).total_seconds()
    if seconds < 0:
        # Genuine, from the future: this server's clock was set back since. The time
        # is unknown, not zero (which would read as a robot's).
        return FormTime(claimed)
    return FormTime(seconds if claimed is None else min(seconds, claimed))
