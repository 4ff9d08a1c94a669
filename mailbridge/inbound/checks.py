"""The checks the pipeline runs on a message, behind one interface.

The pipeline asks three questions: is this machine mail, is it a bounce, and is
the sender who they claim to be. The answers come from :mod:`mailbridge.classify`
and :mod:`mailbridge.senderauth`; this module is the seam between them and the
pipeline, so each can be tested on its own and the pipeline with real ones.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Protocol

__all__ = [
    "AuthDecision",
    "AuthOutcome",
    "BounceReport",
    "BouncedRecipient",
    "InboundChecks",
    "MachineFinding",
]


@dataclass(frozen=True)
class MachineFinding:
    """Why a message was judged to come from a machine."""

    code: str  # e.g. "auto_submitted", "out_of_office_subject"
    evidence: str  # the header and value that showed it
    signals: tuple[str, ...] = ()  # every sign found, strongest first


@dataclass(frozen=True)
class BouncedRecipient:
    address: str
    kind: str  # "hard" | "soft"
    status: str  # enhanced status code, e.g. "5.1.1"
    diagnostic: str


@dataclass(frozen=True)
class BounceReport:
    format: str  # "rfc3464", "exim", ...
    recipients: tuple[BouncedRecipient, ...]
    original_message_id: str | None = None


class AuthDecision(enum.StrEnum):
    ACCEPT = "accept"
    HOLD = "hold"
    REFUSE = "refuse"
    TEMPFAIL = "tempfail"


@dataclass(frozen=True)
class AuthOutcome:
    decision: AuthDecision
    summary: str  # one line for the operator and, when refused, the sender
    code: str = ""  # finer reason code, e.g. "dmarc_reject"
    record: dict[str, Any] = field(default_factory=dict)  # JSON-able, for the inbound log


class InboundChecks(Protocol):
    def machine(self, headers: Message, mail_from: str) -> MachineFinding | None:
        """A finding when the message is an auto-reply, bulk or list mail, else None."""
        ...

    def may_answer(self, headers: Message, mail_from: str) -> bool:
        """Whether an automatic answer (an explanation) may be sent to this sender."""
        ...

    def bounce(self, raw: bytes, mail_from: str) -> BounceReport | None:
        """The parsed delivery status notification, or None when it is not one."""
        ...

    async def authenticate(self, raw: bytes, from_domain: str, peer: str) -> AuthOutcome:
        """DKIM / DMARC / trusted Authentication-Results, and what to do about them."""
        ...
