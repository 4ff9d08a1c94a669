"""Each service's delivery-event payload (bounces, complaints), read into
:class:`~mailbridge.mail_events.event.MailEvent` (pure).

- **Mailgun** (a webhook for the ``failed`` and ``complained`` events): one JSON object,
  ``{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}``, signed
  as the inbound route is (HMAC-SHA256 of timestamp + token). ``event-data`` has
  ``event``, ``id``, ``timestamp``, ``recipient``, ``severity`` (``permanent`` or
  ``temporary`` for ``failed``), ``delivery-status`` (``code``, ``enhanced-code``,
  ``message``, ``description``) and ``message.headers["message-id"]`` (our
  Message-ID, without its angle brackets).
- **SendGrid** (the Event Webhook, signed): a JSON array of events, each with
  ``event`` (``bounce``, ``deferred``, ``dropped``, ``spamreport``, ...), ``sg_event_id``,
  ``email``, ``smtp-id`` (the Message-ID of the message sent), ``sg_message_id``
  (SendGrid's id: the send's ``X-Message-Id``, a dot, more), and for a bounce
  ``type`` (``bounce`` or ``blocked``), ``status`` (``5.1.1``) and ``reason``. The
  request is signed with ECDSA (P-256, SHA-256) over the
  ``X-Twilio-Email-Event-Webhook-Timestamp`` header followed by the raw body; the
  signature is base64 DER in ``X-Twilio-Email-Event-Webhook-Signature``, the
  verification key a base64 SubjectPublicKeyInfo.
- **Postmark** (the server's Bounce and Spam Complaint webhooks, with "Include message
  content" on): one JSON object, ``RecordType`` ``Bounce`` (``Type`` ``HardBounce``,
  ``SoftBounce``, ``Transient``, ...; ``Details``) or ``SpamComplaint``, ``ID``,
  ``Email``, and ``Content``: the bounce or complaint as received, which returns our
  message. HTTP Basic from the URL, as its inbound webhook.
- **Amazon SES** (sending notifications or event publishing to an SNS topic): the SNS
  envelope is checked as for inbound SES (mailbridge.inbound_webhooks.ses); its
  ``Message`` is SES's JSON (:func:`ses_events`).

A bounce's hard or soft is judged as a delivery report's is
(:func:`mailbridge.classify.status.failure_kind` on the event's status and diagnostic),
never on the service's own word alone.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mailbridge.classify.arf import parse_arf
from mailbridge.classify.bounces import parse_bounce
from mailbridge.classify.status import failure_kind, refine_status, status_from_text
from mailbridge.inbound_webhooks.providers import BadPayload, NotAuthentic
from mailbridge.mail_events.event import EventKind, MailEvent

__all__ = [
    "mailgun_event",
    "message_id",
    "postmark_event",
    "sendgrid_events",
    "sendgrid_key",
    "sendgrid_signature_ok",
    "ses_events",
]

MAX_EVENTS = 1000  # SendGrid batches events; a batch longer than this is not one


def message_id(value: object) -> str:
    """A Message-ID as the outbox keeps it, ``<...>``; "" for anything that is not one."""
    text = str(value or "").strip()
    if not text or len(text) > 500 or any(c.isspace() for c in text):
        return ""
    return text if text.startswith("<") and text.endswith(">") else f"<{text.strip('<>')}>"


def _kind(status: str, diagnostic: str) -> EventKind | None:
    status = refine_status(status or status_from_text(diagnostic), diagnostic)
    kind = failure_kind("failed", status, diagnostic)
    return None if kind == "none" else kind


def _text(value: object, limit: int = 1000) -> str:
    return " ".join(str(value or "").split())[:limit]


def mailgun_event(data: Any) -> MailEvent | None:
    """The event in Mailgun's webhook body; None for an event that counts for nothing
    here (delivered, opened, ...). The signature is checked by the caller."""
    if not isinstance(data, dict) or not isinstance(data.get("event-data"), dict):
        raise BadPayload("expected Mailgun's webhook JSON, with event-data")
    event = data["event-data"]
    name = str(event.get("event", ""))
    headers = (
        event.get("message", {}).get("headers", {})
        if isinstance(event.get("message"), dict)
        else {}
    )
    found = message_id(headers.get("message-id") if isinstance(headers, dict) else "")
    event_id = _text(event.get("id"), 200)
    if not event_id:
        raise BadPayload("a Mailgun event without an id")
    # Mailgun's id is unique within a day: with its timestamp it names one event.
    event_id = f"{event_id}@{_text(event.get('timestamp'), 40)}"
    recipient = _text(event.get("recipient"), 320)
    if name == "complained":
        return MailEvent(
            "mailgun", event_id, "complaint", found, recipient, "", "complained", found
        )
    if name != "failed":
        return None
    status_block = event.get("delivery-status")
    delivery = status_block if isinstance(status_block, dict) else {}
    code = _text(delivery.get("code"), 10)
    words = _text(delivery.get("message")) or _text(delivery.get("description"))
    diagnostic = _text(f"{code} {words}")
    status = _text(delivery.get("enhanced-code"), 20)
    kind: EventKind = "soft"
    if event.get("severity") != "temporary":
        kind = _kind(status, diagnostic) or "hard"  # "permanent", by Mailgun's word
    # The message-id Mailgun names is also the id its messages.mime answered: matched
    # as either (outbox.provider_id), whichever Mailgun put in the message it sent.
    return MailEvent("mailgun", event_id, kind, found, recipient, status, diagnostic, found)


def sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    """The Event Webhook's verification key, as SendGrid shows it (base64 DER), or PEM."""
    try:
        if "BEGIN PUBLIC KEY" in text:
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        raise ValueError("not a public key (base64 DER, as SendGrid shows it)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve (ECDSA) public key")
    return key


def sendgrid_signature_ok(
    key: ec.EllipticCurvePublicKey, signature: str | None, timestamp: str | None, body: bytes
) -> None:
    """Raise NotAuthentic unless SendGrid's key signed ``timestamp`` + ``body``.

    No age is required: SendGrid documents none, and a replayed event is the same
    event (its ``sg_event_id``), counted once."""
    if not signature or not timestamp:
        raise NotAuthentic("no X-Twilio-Email-Event-Webhook-Signature or -Timestamp header")
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise NotAuthentic(
            "the SendGrid signature does not verify (is the verification key right?)"
        ) from None


def sendgrid_events(data: Any) -> list[MailEvent]:
    """The bounces, deferrals and spam reports in an Event Webhook batch."""
    if not isinstance(data, list):
        raise BadPayload("expected the Event Webhook's JSON array of events")
    if len(data) > MAX_EVENTS:
        raise BadPayload(f"{len(data)} events, more than {MAX_EVENTS}")
    found = []
    for event in data:
        if not isinstance(event, dict):
            raise BadPayload("an event that is not a JSON object")
        read = _sendgrid_event(event)
        if read is not None:
            found.append(read)
    return found


def _sendgrid_event(event: dict[str, Any]) -> MailEvent | None:
    name = str(event.get("event", ""))
    event_id = _text(event.get("sg_event_id"), 200)
    if not event_id:
        raise BadPayload("an event without sg_event_id")
    found = message_id(event.get("smtp-id"))
    recipient = _text(event.get("email"), 320)
    status = _text(event.get("status"), 20)
    reason = _text(event.get("reason")) or _text(event.get("response"))
    kind: EventKind | None
    if name == "spamreport":
        kind, reason = "complaint", "spamreport"
    elif name == "deferred":
        kind = "soft"
    elif name == "bounce":
        # "blocked" is SendGrid's word for a refusal about the message or our
        # reputation; the classification below says the same of most (5.7.x).
        # Without a code a blocked one stays soft (failure_kind would read a codeless
        # permanent failure as hard).
        if event.get("type") == "blocked" and not (status or status_from_text(reason)):
            kind = "soft"
        else:
            kind = _kind(status, reason) or "hard"
    elif name == "dropped" and reason.lower().startswith("bounced address"):
        kind = "hard"  # not sent: SendGrid's own list says the address bounced
    else:
        kind = None  # processed, delivered, open, click, unsubscribe, other drops
    if kind is None:
        return None
    # The id /v3/mail/send answered (X-Message-Id, outbox.provider_id) begins
    # sg_message_id, before its first dot ("<X-Message-Id>.filter..."): SendGrid may
    # send with another Message-ID than ours, so smtp-id alone can miss.
    theirs = _text(event.get("sg_message_id"), 200).split(".", 1)[0]
    return MailEvent("sendgrid", event_id, kind, found, recipient, status, reason, theirs)


def ses_events(message: Mapping[str, Any]) -> list[MailEvent]:
    """The bounces and complaints in a (verified) SNS Notification of SES's sending
    notifications (``notificationType``) or event publishing (``eventType``):
    ``bounce.bouncedRecipients`` (``status``, ``diagnosticCode``) with ``bounceType``
    Permanent, Transient or Undetermined; ``complaint.complainedRecipients``. SES
    rewrites the Message-ID it sends with: ours is in ``mail.commonHeaders.messageId``
    (or ``mail.headers``), present once "Include original headers" is on."""
    try:
        inner = json.loads(str(message.get("Message", "")))
    except (ValueError, RecursionError):
        raise BadPayload("the SNS Message is not SES's JSON") from None
    if not isinstance(inner, dict):
        raise BadPayload("the SNS Message is not SES's JSON object")
    kind = str(inner.get("notificationType") or inner.get("eventType") or "")
    mail = _object(inner.get("mail"))
    # SES's id, which SendEmail answered (outbox.provider_id): always there.
    theirs = _text(mail.get("messageId"), 200)
    found = message_id(_object(mail.get("commonHeaders")).get("messageId"))
    headers = mail.get("headers")
    for header in headers if isinstance(headers, list) else []:
        if not found and isinstance(header, dict):
            if str(header.get("name", "")).lower() == "message-id":
                found = message_id(header.get("value"))
    if kind == "Bounce":
        bounce = _object(inner.get("bounce"))
        permanent = bounce.get("bounceType") == "Permanent"
        entries, feedback = bounce.get("bouncedRecipients"), _text(bounce.get("feedbackId"), 200)
    elif kind == "Complaint":
        complaint = _object(inner.get("complaint"))
        if str(complaint.get("complaintFeedbackType", "")).lower() == "not-spam":
            return []
        entries, feedback = (
            complaint.get("complainedRecipients"),
            _text(complaint.get("feedbackId"), 200),
        )
    else:
        return []  # Delivery, Send, Open...: nothing to count
    if not feedback:
        raise BadPayload(f"an SES {kind} without a feedbackId")
    events = []
    for number, entry in enumerate(entries if isinstance(entries, list) else [], 1):
        recipient = _text(_object(entry).get("emailAddress"), 320)
        # One event per recipient listed: SNS's retry lists them in the same order.
        # Never the address itself: the id is logged, and kept beyond any erasure.
        event_id = f"{feedback}/{number}"
        if kind == "Complaint":
            events.append(
                MailEvent("ses", event_id, "complaint", found, recipient, "", kind, theirs)
            )
            continue
        status = _text(_object(entry).get("status"), 20)
        diagnostic = _text(_object(entry).get("diagnosticCode"))
        read: EventKind = "soft"
        if permanent:
            read = _kind(status, diagnostic) or "hard"
        events.append(
            MailEvent("ses", event_id, read, found, recipient, status, diagnostic, theirs)
        )
    return events[:MAX_EVENTS]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# Postmark's bounce Types that say nothing about delivery (a subscription robot's
# answer, an auto-reply, a challenge): not counted.
_POSTMARK_SKIPPED = frozenset({
    "Subscribe", "Unsubscribe", "AutoResponder", "ChallengeVerification", "OpenRelayTest",
    "ManuallyDeactivated", "Unconfirmed", "SMTPApiError", "InboundError",
    "TemplateRenderingFailed",
})  # fmt: skip
_POSTMARK_HARD = frozenset({"HardBounce", "BadEmailAddress"})


def postmark_event(data: Any) -> MailEvent | None:
    """The event in a Postmark Bounce or SpamComplaint webhook (HTTP Basic is checked
    by the caller). Postmark's ``MessageID`` is its own, not ours: ours is read from
    ``Content`` (the bounce or complaint as received, with "Include message content"
    on), from the message it returns."""
    if not isinstance(data, dict):
        raise BadPayload("expected Postmark's webhook JSON object")
    record = str(data.get("RecordType", ""))
    kind_name = str(data.get("Type", ""))
    if record not in ("Bounce", "SpamComplaint"):
        return None  # Delivery, Open, Click, SubscriptionChange
    event_id = _text(data.get("ID"), 40)
    if not event_id:
        raise BadPayload("a Postmark bounce without an ID")
    recipient = _text(data.get("Email"), 320)
    details = _text(data.get("Details")) or _text(data.get("Description"))
    found = _returned_id(str(data.get("Content") or ""))
    # Postmark's id, which /email answered (outbox.provider_id): there without the content.
    theirs = _text(data.get("MessageID"), 200)
    if record == "SpamComplaint" or kind_name == "SpamComplaint":
        return MailEvent(
            "postmark", event_id, "complaint", found, recipient, "", "SpamComplaint", theirs,
            returned=True,
        )  # fmt: skip
    if kind_name in _POSTMARK_SKIPPED:
        return None
    status = status_from_text(details)
    kind: EventKind = "soft"
    if kind_name in _POSTMARK_HARD:
        kind = _kind(status, details) or "hard"
    return MailEvent(
        "postmark", event_id, kind, found, recipient, status, details, theirs, returned=True
    )


def _returned_id(content: str) -> str:
    """The Message-ID of the message a bounce or an abuse report returns."""
    if not content:
        return ""
    raw = content.encode("utf-8", "replace")
    report = parse_arf(raw)
    if report is not None:
        return report.returned_message_id
    bounce = parse_bounce(raw)
    return message_id(bounce.original_message_id) if bounce is not None else ""
