"""Bounces of mail we sent: count them per address and stop mailing hard-bouncing ones.

Every outgoing message has its own VERP return path, ``bounce+TOKEN@reply_domain``,
whose signed token names the outbox row: the bounce tells us exactly which message
and which address failed, whatever the bounce's own format says.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

import aiosqlite

from mailbridge.inbound.checks import BounceReport, InboundChecks
from mailbridge.rejections import AutomatedMessage
from mailbridge.store import Store, inbound, threads
from mailbridge.store.engine import as_address, dialect_of
from mailbridge.store.inbound import Disposition

__all__ = ["BounceAccounting"]

log = logging.getLogger(__name__)

BOUNCE_RECEIVED = "250 2.0.0 Delivery report received"


class BounceAccounting:
    def __init__(self, store: Store, checks: InboundChecks, hard_limit: int) -> None:
        self._store = store
        self._checks = checks
        self._hard_limit = hard_limit

    async def handle(
        self,
        inbound_id: int,
        raw: bytes,
        mail_from: str,
        outbox_id: int | None,
        now: str,
        report: BounceReport | None = None,
    ) -> str:
        """Count the bounce in ``raw`` (for ``outbox_id`` when known); return the SMTP reply."""
        report = report or self._checks.bounce(raw, mail_from)
        if report is None:
            # Mail to a return path that is not a delivery report: an auto-reply sent
            # to the envelope sender. Never a comment, never answered.
            raise AutomatedMessage(code="automated.not_a_bounce")
        failed = [r for r in report.recipients if r.kind in ("hard", "soft")]
        record = {"format": report.format, "recipients": [asdict(r) for r in report.recipients]}

        async def work(conn: aiosqlite.Connection) -> str:
            row_id = outbox_id
            if row_id is None and report.original_message_id:
                row_id = await _sent_as(conn, report.original_message_id)
            if row_id is None:
                # Not at a VERP address, and returning no message of ours: anyone can
                # write such a report about anyone (a reply address is in every
                # notification), so it counts against nobody. Kept in the inbound log.
                address_ids: list[int | None] = [None] * len(failed)
            else:
                address_ids = await _addresses(conn, row_id, [r.address for r in failed])
            kinds = []
            for address_id, entry in zip(address_ids, failed, strict=True):
                if address_id is None:
                    continue
                async with conn.execute(
                    "INSERT INTO bounces (inbound_id, outbox_id, address_id, kind, status, "
                    "diagnostic, received_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (inbound_id, address_id) DO NOTHING RETURNING id",
                    (
                        inbound_id,
                        row_id,
                        address_id,
                        entry.kind,
                        entry.status,
                        entry.diagnostic[:1000],
                        now,
                    ),
                ) as cur:
                    # One report counts once for its message's recipient, however
                    # many entries name them (the address and its forward, say).
                    counts = await cur.fetchone() is not None
                assert row_id is not None  # an address is found only with its message
                if counts and entry.kind == "soft":
                    # A delay warning again (a day later, say) is kept, but the
                    # message already counted its soft bounce.
                    counts = await threads.soft_bounce_is_first(conn, row_id, address_id)
                if counts and await threads.count_bounce(
                    conn, address_id, entry.kind, now, self._hard_limit
                ):
                    log.warning(
                        "inbound %d: address %d now suppressed after hard bounces",
                        inbound_id,
                        address_id,
                    )
                kinds.append(entry.kind)
            reason = "bounce." + ("hard" if "hard" in kinds else "soft" if kinds else "none")
            await inbound.set_outcome(
                conn,
                inbound_id,
                Disposition.BOUNCE,
                reason=reason,
                detail=BOUNCE_RECEIVED,
                checks={"bounce": record},
            )
            return reason

        reason = await self._store.write(work)
        log.info(
            "inbound %d: %s report (%s) about outbox %s",
            inbound_id,
            report.format,
            reason,
            outbox_id,
        )
        return BOUNCE_RECEIVED


async def _sent_as(conn: aiosqlite.Connection, message_id: str) -> int | None:
    """The outbox row of the message we sent with this Message-ID, if any."""
    async with conn.execute("SELECT id FROM outbox WHERE message_id = ?", (message_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def _addresses(
    conn: aiosqlite.Connection, outbox_id: int, reported: list[str]
) -> list[int | None]:
    """Address ids for the failed recipients: the outbox row that bounced is the
    authority (named by the VERP address, or by the returned message's Message-ID).

    On PostgreSQL the row is held (FOR KEY SHARE) until the bounce is recorded: another
    daemon's outbox retention passes it by instead of deleting it under the bounce
    (mailbridge.store.outbox_retention); one that is deleting it now makes this wait,
    and then find nothing."""
    held = " FOR KEY SHARE OF o" if dialect_of(conn) == "postgresql" else ""
    async with conn.execute(
        "SELECT a.id FROM outbox o "  # noqa: S608 - no value in the text
        f"JOIN addresses a ON a.email = {as_address(conn, 'o.rcpt_to')} WHERE o.id = ?{held}",
        (outbox_id,),
    ) as cur:
        row = await cur.fetchone()
    # One outgoing message has one recipient: every failed entry is about it.
    only = None if row is None else int(row[0])
    return [only] * len(reported)
