"""Abuse reports (ARF, RFC 5965) from feedback loops, at the VERP or postmaster address.

A reader pressed "Report spam"; their provider's feedback loop sends the report to the
address the operator registered. It counts as the same complaint a service's webhook
reports (mailbridge.mail_events), by the same rule as a bounce: only for a message we
sent, named by the VERP token or by the reported message's Message-ID, and then
against that message's recipient. A report about anything else counts for nobody.
"""

from __future__ import annotations

import logging

import aiosqlite

from mailbridge.classify.arf import AbuseReport
from mailbridge.mail_events import MailEvent, MailEventAccounting
from mailbridge.store import Store, inbound
from mailbridge.store.inbound import Disposition

__all__ = ["COMPLAINT_TYPES", "REPORT_RECEIVED", "AbuseReports"]

log = logging.getLogger(__name__)

REPORT_RECEIVED = "250 2.0.0 Abuse report received"
# What a reader's "Report spam" is sent as; "not-spam" and "virus" say other things.
COMPLAINT_TYPES = frozenset({"abuse", "fraud"})


class AbuseReports:
    def __init__(self, store: Store, accounting: MailEventAccounting) -> None:
        self._store = store
        self._accounting = accounting

    async def handle(
        self, inbound_id: int, report: AbuseReport, outbox_id: int | None, where: str
    ) -> str:
        """Count the complaint; the SMTP answer (always accepted: never bounced back)."""
        message_id = report.returned_message_id
        if outbox_id is not None:  # at a VERP address: its signed token is the authority
            message_id = await self._store.read(lambda c: _message_id(c, outbox_id))
        event = MailEvent(
            provider="arf",
            # A feedback loop's resend of a report is the same report.
            event_id=report.report_id or f"inbound:{inbound_id}",
            kind="complaint",
            message_id=message_id,
            recipient="",
            status="",
            diagnostic=f"Feedback-Type: {report.feedback_type}; User-Agent: {report.user_agent}",
        )
        [outcome] = await self._accounting.record([event], f"{where} inbound {inbound_id}")
        record = {
            "feedback_type": report.feedback_type,
            "user_agent": report.user_agent,
            "reported_message_id": report.returned_message_id,
            "outcome": outcome.outcome,
        }
        await self._store.write(
            lambda c: inbound.set_outcome(
                c, inbound_id, Disposition.BOUNCE, reason=f"complaint.{outcome.outcome}",
                detail=REPORT_RECEIVED, checks={"abuse_report": record},
            )
        )  # fmt: skip
        return REPORT_RECEIVED


async def _message_id(conn: aiosqlite.Connection, outbox_id: int) -> str:
    async with conn.execute("SELECT message_id FROM outbox WHERE id = ?", (outbox_id,)) as cur:
        row = await cur.fetchone()
    return "" if row is None else str(row[0])
