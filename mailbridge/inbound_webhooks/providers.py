"""Each service's authentication and payload, as its documentation describes them.

- **Mailgun** (a route whose action is ``forward("https://.../inbound/mailgun/mime")``:
  Mailgun posts the raw MIME only to a URL that ends in ``mime``): form fields ``body-mime``
  (the whole message), ``recipient``, ``sender``, and ``timestamp``, ``token``,
  ``signature``: the hex HMAC-SHA256 of timestamp + token under the webhook signing
  key. A timestamp more than 15 minutes from now is refused (a replayed request).
- **Postmark** (an inbound stream's webhook, with "Include raw email content in JSON
  payload" on): JSON with ``RawEmail``, ``OriginalRecipient``, ``From``. Postmark signs
  nothing; its documentation has the credentials put in the URL
  (``https://user:password@host/inbound/postmark``), which arrive as HTTP Basic.
- **SendGrid** (Inbound Parse, with "POST the raw, full MIME message" on): form fields
  ``email`` (the message) and ``envelope`` (JSON: ``to``, ``from``); HTTP Basic from the
  URL as for Postmark.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BadPayload",
    "Delivered",
    "NotAuthentic",
    "basic_auth_matches",
    "mailgun_delivery",
    "mailgun_signature_ok",
    "postmark_delivery",
    "recipients",
    "sendgrid_delivery",
]

MAILGUN_WINDOW_SECONDS = 900


class BadPayload(Exception):
    """The request is not what the service sends (400, with why)."""


class NotAuthentic(Exception):
    """The request did not prove it came from the service (401)."""


MAX_RECIPIENTS = 100  # SES takes 50 a message; a list longer than this is not a reply


@dataclass(frozen=True)
class Delivered:
    raw: bytes
    rcpts: tuple[str, ...]  # each is delivered to, as SMTP does each RCPT; ("",): none
    sender: str


def recipients(found: object) -> tuple[str, ...]:
    """The envelope recipients in a list, each once (case aside), in order; ("",) if none."""
    seen: dict[str, str] = {}
    for address in found if isinstance(found, list) else []:
        seen.setdefault(str(address).strip().lower(), str(address).strip())
    seen.pop("", None)
    if len(seen) > MAX_RECIPIENTS:
        raise BadPayload(f"{len(seen)} envelope recipients, more than {MAX_RECIPIENTS}")
    return tuple(seen.values()) or ("",)


def mailgun_signature_ok(fields: Mapping[str, str], signing_key: str, now: float) -> None:
    """Raise NotAuthentic unless Mailgun signed this request, lately."""
    timestamp, token = fields.get("timestamp", ""), fields.get("token", "")
    signature = fields.get("signature", "")
    expected = hmac.new(
        signing_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    # As bytes: compare_digest raises TypeError on a str with non-ASCII in it (a 500).
    given = signature.lower().encode("utf-8", "replace")
    if not timestamp or not token or not hmac.compare_digest(expected.encode(), given):
        raise NotAuthentic(
            "the Mailgun signature does not match: is inbound_webhooks.mailgun_signing_key "
            "Mailgun's HTTP webhook signing key (not an API key)?"
        )
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        raise NotAuthentic("the Mailgun timestamp is not a number") from None
    if age > MAILGUN_WINDOW_SECONDS:
        raise NotAuthentic(f"the Mailgun timestamp is {age:.0f} s away from now (a replay?)")


def mailgun_delivery(fields: Mapping[str, str], raw: bytes | None) -> Delivered:
    if not raw:
        raise BadPayload(
            "no body-mime: Mailgun posts the raw message only to a URL that ends in "
            "'mime': make the route forward to .../inbound/mailgun/mime "
            "(docs/inbound-webhooks.md)"
        )
    return Delivered(raw, (fields.get("recipient", ""),), fields.get("sender", ""))


def basic_auth_matches(header: str | None, user: str, password: str) -> bool:
    """Does an Authorization header carry exactly these credentials (constant time)?"""
    if not header or not header.startswith("Basic "):
        return False
    try:
        given = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, f"{user}:{password}".encode())


def postmark_delivery(data: Any) -> Delivered:
    if not isinstance(data, dict):
        raise BadPayload("expected Postmark's inbound JSON object")
    raw = data.get("RawEmail")
    if not isinstance(raw, str) or not raw:
        raise BadPayload(
            'no RawEmail: turn on "Include raw email content in JSON payload" in the '
            "inbound stream's settings (docs/inbound-webhooks.md)"
        )
    rcpt = data.get("OriginalRecipient")
    if not isinstance(rcpt, str) or not rcpt:
        full = data.get("ToFull")
        first = full[0] if isinstance(full, list) and full else {}
        rcpt = first.get("Email", "") if isinstance(first, dict) else ""
    sender = data.get("From") if isinstance(data.get("From"), str) else ""
    # The raw message as a JSON string: its 8-bit bytes were read as UTF-8 by Postmark.
    try:
        message = raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): kept as "?"
        message = raw.encode("utf-8", "replace")
    return Delivered(message, (str(rcpt),), str(sender))


def sendgrid_delivery(fields: Mapping[str, str], raw: bytes | None) -> Delivered:
    if not raw:
        raise BadPayload(
            'no email field: turn on "POST the raw, full MIME message" in the Inbound '
            "Parse settings (docs/inbound-webhooks.md)"
        )
    try:
        envelope = json.loads(fields.get("envelope", "{}"))
    except ValueError:
        raise BadPayload("the envelope field is not JSON") from None
    to = envelope.get("to") if isinstance(envelope, dict) else None
    sender = str(envelope.get("from") or "") if isinstance(envelope, dict) else ""
    return Delivered(raw, recipients(to), sender)
