"""Abuse reports in the Abuse Reporting Format (RFC 5965), pure.

Feedback loops (Yahoo's CFL, Microsoft's JMRP, and others) send one when a reader
presses "Report spam": ``multipart/report; report-type=feedback-report`` whose second
part is ``message/feedback-report`` (``Feedback-Type: abuse``, ``User-Agent``,
``Version``, optional ``Original-Rcpt-To``...) and whose third is the reported
message (``message/rfc822``) or its header section (``text/rfc822-headers``). The
reported message's Message-ID says which of our messages it was; the report's own
addresses are never believed (anyone can write one).
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

__all__ = ["AbuseReport", "parse_arf"]

_LIMIT = 1024 * 1024  # the report comes first, the returned message last


@dataclass(frozen=True)
class AbuseReport:
    feedback_type: str  # abuse, fraud, virus, other, not-spam... (lower case)
    report_id: str  # the report's own Message-ID: a resent report is the same one
    returned_message_id: str  # "" when the reported message's is not there
    user_agent: str


def parse_arf(raw: bytes) -> AbuseReport | None:
    """The abuse report in ``raw``, or None when it is not one. Never raises: anyone
    can mail the postmaster address."""
    try:
        return _parse(raw)
    except RecursionError:  # multiparts nested thousands deep: no feedback loop's report
        return None


def _parse(raw: bytes) -> AbuseReport | None:
    message = email.message_from_bytes(raw[:_LIMIT], policy=email.policy.compat32)
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "feedback-report":
        return None
    fields: Message | None = None
    returned = ""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/feedback-report" and fields is None:
            fields = _fields(part)
        elif kind in ("message/rfc822", "text/rfc822-headers") and not returned:
            returned = _returned_id(part)
    if fields is None:
        return None
    return AbuseReport(
        feedback_type=str(fields.get("Feedback-Type", "")).strip().lower()[:40],
        report_id=_one_line(message.get("Message-ID", "")),
        returned_message_id=returned,
        user_agent=_one_line(fields.get("User-Agent", ""))[:200],
    )


def _fields(part: Message) -> Message:
    """The report's fields: Python's parser leaves this part's body as text, or (some
    versions) as one sub-message."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    text = payload if isinstance(payload, str) else ""
    return HeaderParser().parsestr(text.lstrip("\r\n"))


def _returned_id(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        headers = payload[0]
    elif isinstance(payload, str):
        headers = HeaderParser().parsestr(payload.lstrip("\r\n"))
    else:
        return ""
    found = _one_line(headers.get("Message-ID", ""))
    return found if found.startswith("<") and found.endswith(">") and len(found) < 500 else ""


def _one_line(value: object) -> str:
    return " ".join(str(value or "").split())
