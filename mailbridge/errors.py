"""Every error mailbridge raises on purpose, in one tree.

::

    MailbridgeError
    ├── ConfigError                 the configuration cannot be used; the CLI prints it, exit 1
    ├── ImportFormatError           an import file is neither WordPress WXR nor mailbridge JSON
    ├── StoreClosedError            the store was used after close()
    ├── NotFound                    a thread or comment named by a caller does not exist
    ├── InvalidInput                a field of a web submission is wrong (names the field)
    ├── LinkError                   a moderation link cannot be used (HTTP 403)
    │   ├── BadLink                 malformed or tampered token
    │   └── ExpiredLink             genuine token past its expiry
    ├── DeliveryError               an outbound send failed
    │   ├── TemporaryDeliveryError  4xx or network trouble: retried with backoff
    │   └── PermanentDeliveryError  5xx: recorded as failed, never retried
    └── Rejection                   an inbound message or recipient is refused
        ├── RelayDenied             RCPT to a domain that is not the reply domain   550 5.7.1
        ├── UnknownRecipient        RCPT to the reply domain but not reply+TOKEN    550 5.1.1
        ├── BadReplyToken           reply token malformed or forged                 550 5.1.1
        ├── ExpiredReplyToken       genuine reply token past its expiry             550 5.1.1
        ├── TooManyReplyAddresses   a second reply address in one transaction       452 4.5.3
        ├── UnknownComment          the token's comment no longer exists            550 5.1.1
        ├── SenderMismatch          From is not the person the token was sent to    550 5.7.1
        ├── UnparseableMessage      no usable From header or body                   550 5.6.0
        └── EmptyReply              nothing of the writer's own is left             550 5.6.0

A :class:`Rejection` subclass carries its SMTP reply on the class (``smtp_code``,
``smtp_status``, ``reason`` and the default ``text`` the sender is told), so adding a
reason is one class here and one entry in ``docs/rejections.md`` (a test checks both).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadLink",
    "BadReplyToken",
    "ConfigError",
    "DeliveryError",
    "EmptyReply",
    "ExpiredLink",
    "ExpiredReplyToken",
    "ImportFormatError",
    "InvalidInput",
    "LinkError",
    "MailbridgeError",
    "NotFound",
    "PermanentDeliveryError",
    "Rejection",
    "RelayDenied",
    "SenderMismatch",
    "StoreClosedError",
    "TemporaryDeliveryError",
    "TooManyReplyAddresses",
    "UnknownComment",
    "UnknownRecipient",
    "UnparseableMessage",
    "rejection_classes",
]


class MailbridgeError(Exception):
    """Base of every error mailbridge raises on purpose."""


class ConfigError(MailbridgeError):
    """The configuration (file, environment or flags) cannot be used."""


class ImportFormatError(MailbridgeError):
    """An import file is neither a WordPress export nor mailbridge JSON."""


class StoreClosedError(MailbridgeError):
    """The store was used after :meth:`Store.close`."""


class NotFound(MailbridgeError):
    """A thread or comment named by a caller does not exist."""


class InvalidInput(MailbridgeError):
    """One field of a submission is wrong; ``field`` names it for the API answer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class LinkError(MailbridgeError):
    """A moderation link cannot be used; the web answers 403 with ``text``."""

    text: ClassVar[str] = "This link is not valid."


class BadLink(LinkError):
    text = "This link is not valid: it is incomplete or has been changed."


class ExpiredLink(LinkError):
    text = "This link has expired. Use a newer moderation email, or the command line."


class DeliveryError(MailbridgeError):
    """An outbound send failed; ``detail`` is what the relay or the system said."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TemporaryDeliveryError(DeliveryError):
    """A 4xx answer or a network problem: the outbox retries with backoff."""


class PermanentDeliveryError(DeliveryError):
    """A 5xx answer: the outbox records the message as failed and keeps it."""


class Rejection(MailbridgeError):
    """An inbound recipient or message refused, with the SMTP reply that says why.

    ``reason`` is the machine-readable code stored on the inbound record and shown
    to the operator; ``text`` is what the sending server (and so the person) is told.
    """

    smtp_code: ClassVar[int] = 550
    smtp_status: ClassVar[str] = "5.7.1"
    reason: ClassVar[str] = "rejected"
    text: ClassVar[str] = "Message refused."

    def __init__(self, text: str | None = None) -> None:
        self.detail = text if text is not None else type(self).text
        super().__init__(self.detail)

    @property
    def smtp_reply(self) -> str:
        # One line: CR/LF in a reply would break the SMTP dialogue.
        detail = " ".join(self.detail.split())
        return f"{self.smtp_code} {self.smtp_status} {detail}"

    @property
    def temporary(self) -> bool:
        return 400 <= self.smtp_code < 500


class RelayDenied(Rejection):
    reason = "relay_denied"
    text = "Relaying denied: this server only accepts replies to its own reply addresses."


class UnknownRecipient(Rejection):
    smtp_status = "5.1.1"
    reason = "unknown_recipient"
    text = "No such mailbox: only reply addresses from notification emails are accepted."


class BadReplyToken(Rejection):
    smtp_status = "5.1.1"
    reason = "bad_token"
    text = "This reply address is not valid (it may have been mistyped or altered)."


class ExpiredReplyToken(Rejection):
    smtp_status = "5.1.1"
    reason = "expired_token"
    text = "This reply address has expired. Please reply on the website instead."


class TooManyReplyAddresses(Rejection):
    smtp_code = 452
    smtp_status = "4.5.3"
    reason = "too_many_reply_addresses"
    text = "One reply address per message, please send the others separately."


class UnknownComment(Rejection):
    smtp_status = "5.1.1"
    reason = "unknown_comment"
    text = "The comment this address replies to no longer exists."


class SenderMismatch(Rejection):
    reason = "sender_mismatch"
    text = (
        "This reply address belongs to someone else: reply from the address "
        "the notification was sent to."
    )


class UnparseableMessage(Rejection):
    smtp_status = "5.6.0"
    reason = "unparseable"
    text = "The message has no usable From address or body."


class EmptyReply(Rejection):
    smtp_status = "5.6.0"
    reason = "empty_reply"
    text = (
        "Your reply was empty once the quoted notification was removed, so nothing "
        "was posted. Write your answer above the quoted text."
    )


def rejection_classes() -> list[type[Rejection]]:
    """Every concrete rejection reason, for docs and completeness tests."""
    found: list[type[Rejection]] = []
    pending: list[type[Rejection]] = [Rejection]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            pending.append(sub)
    return sorted(found, key=lambda c: c.__name__)
