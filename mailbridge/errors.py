"""Every error mailbridge raises on purpose, in one tree.

::

    MailbridgeError
    ├── ConfigError                 the configuration cannot be used; the CLI prints it, exit 1
    │   ├── DataDirUnusable         the data directory, database or secret cannot be opened
    │   └── MigrationFailed         a schema migration failed at start, rolled back whole
    ├── ImportFormatError           an import file is neither WordPress WXR nor mailbridge JSON
    ├── StoreClosedError            the store was used after close()
    ├── NotFound                    a thread or comment named by a caller does not exist
    ├── InvalidInput                a field of a web submission is wrong (names the field)
    ├── ThreadRefused               a page may not create its thread (origin, path, title)
    ├── InvalidAddress              an email address mailbridge cannot use (mailbridge.addresses)
    ├── LinkError                   a moderation link cannot be used (HTTP 403)
    │   ├── BadLink                 malformed or tampered token
    │   └── ExpiredLink             genuine token past its expiry
    ├── DeliveryError               an outbound send failed
    │   ├── TemporaryDeliveryError  4xx or network trouble: retried with backoff
    │   └── PermanentDeliveryError  5xx: recorded as failed, never retried
    └── Rejection                   an inbound message or recipient is not posted: one
                                    subclass per reason, in mailbridge.rejections
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadLink",
    "ConfigError",
    "DataDirUnusable",
    "DeliveryError",
    "ExpiredLink",
    "ImportFormatError",
    "InvalidAddress",
    "InvalidInput",
    "LinkError",
    "MailbridgeError",
    "NotFound",
    "PermanentDeliveryError",
    "StoreClosedError",
    "TemporaryDeliveryError",
    "ThreadRefused",
]


class MailbridgeError(Exception):
    """Base of every error mailbridge raises on purpose."""


class ConfigError(MailbridgeError):
    """The configuration (file, environment or flags) cannot be used."""


class DataDirUnusable(ConfigError):
    """The data directory, its database or its secret cannot be opened or written.

    Raised before anything starts, so every command stops with one line (which path,
    what failed, what to do) and a non-zero exit instead of a traceback.
    """

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(
            f"{path}: {problem}. mailbridge needs a data directory it can write (data_dir, "
            "--data-dir or MAILBRIDGE_DATA_DIR): fix it (permissions, ownership, a file in "
            "the way) or choose another one"
        )


class MigrationFailed(ConfigError):
    """A schema migration could not be applied: its transaction was rolled back whole,
    and the next start applies it again. Named apart from DataDirUnusable, whose advice
    (permissions, or another data directory) is wrong for a full disk or a lock."""

    def __init__(self, where: object, name: str, problem: str) -> None:
        self.name = name
        super().__init__(
            f"{where}: migration {name} could not be applied ({problem}); the database is "
            "as it was before that step, and the next start applies it again once that is "
            "fixed (docs/operating.md#upgrading)"
        )


class ImportFormatError(MailbridgeError):
    """An import file is neither a WordPress export nor mailbridge JSON."""


class StoreClosedError(MailbridgeError):
    """The store was used after :meth:`Store.close`."""


class NotFound(MailbridgeError):
    """A thread or comment named by a caller does not exist."""


class ErasedComment(NotFound):
    """A comment whose text was erased at its writer's request (``privacy.erased_comments
    = "remove"``): it left the page for good, and no decision or undo moves it again."""


class InvalidInput(MailbridgeError):
    """One field of a submission is wrong; ``field`` names it for the API answer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ThreadRefused(MailbridgeError):
    """A page may not create (or find) its thread: the HTTP status and why, for the widget."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field


class InvalidAddress(MailbridgeError):
    """An email address that mailbridge cannot use; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LinkError(MailbridgeError):
    """A moderation link cannot be used; the web answers 403 with ``text``."""

    text: ClassVar[str] = "This link is not valid."


class BadLink(LinkError):
    text = "This link is not valid: it is incomplete or has been changed."


class ExpiredLink(LinkError):
    # Each page adds what the person can do instead (it differs per kind of link).
    text = "This link has expired."


class DeliveryError(MailbridgeError):
    """An outbound send failed; ``detail`` is what the relay or the system said."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TemporaryDeliveryError(DeliveryError):
    """A 4xx answer or a network problem: the outbox retries with backoff.

    ``retry_after``: the service asked for no new attempt before this many seconds
    (HTTP ``Retry-After``); the next attempt waits at least that long.
    """

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """A 5xx answer: the outbox records the message as failed and keeps it.

    ``at_rcpt``: the relay gave it to RCPT TO, so it is about the recipient's address
    (a bounce, counted as one), not about the message or about us.
    """

    def __init__(self, detail: str, *, at_rcpt: bool = False) -> None:
        super().__init__(detail)
        self.at_rcpt = at_rcpt
