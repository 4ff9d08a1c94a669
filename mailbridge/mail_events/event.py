"""One bounce or complaint a mail service (or an abuse report) told us of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["EventKind", "MailEvent"]

EventKind = Literal["hard", "soft", "complaint"]


@dataclass(frozen=True)
class MailEvent:
    provider: str
    event_id: str  # the service's id for the event: its retries repeat it
    kind: EventKind
    message_id: str  # "<...>" of the message the event is about; "" when none is named
    recipient: str  # as the service names it: for the log, masked
    status: str  # an enhanced status code, or ""
    diagnostic: str  # the receiving server's answer, or the service's words
    # The service's own id for the message (Postmark's MessageID, SES's
    # mail.messageId, Mailgun's message-id): what its API answered when we sent it
    # (outbox.provider_id), for when ``message_id`` is not ours or not there.
    provider_id: str = ""
    # ``message_id`` was read from the message a bounce returns (text the bouncing
    # server shaped), not from the service's own record: believed only for a message
    # sent to ``recipient`` (mailbridge.mail_events.accounting).
    returned: bool = False
