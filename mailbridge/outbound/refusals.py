"""The relay's 5xx to RCPT TO, counted as the bounce it is.

A relay that checks recipients (Postfix with ``reject_unverified_recipient``, a
provider's own mailboxes, the recipient's MX) answers "550 5.1.1 User unknown"
during the dialogue instead of sending a delivery report later. It says the same
thing as the report, so it is counted the same way (``inbound.hard_bounce_limit``,
:mod:`mailbridge.inbound.bounces`); otherwise the address would be mailed, and
refused, forever. Only a hard failure is counted: a policy refusal (5.7.x: relay
access denied, a blocked IP) is about us, never held against the recipient.
"""

from __future__ import annotations

import logging

import aiosqlite

from mailbridge.classify.status import failure_kind, status_from_text
from mailbridge.inbound.recipients import masked
from mailbridge.store import outbox, threads

__all__ = ["fail_refused_recipient"]

log = logging.getLogger(__name__)


async def fail_refused_recipient(
    conn: aiosqlite.Connection,
    row: outbox.OutboxRow,
    error: str,
    owner: str,
    hard_limit: int,
    now: str,
) -> bool:
    """Mark ``row`` failed with the relay's answer ``error`` and count a hard one as a
    bounce of its recipient; False when the row was taken by another worker."""
    if not await outbox.mark_failed(conn, row.id, error, owner):
        return False
    if failure_kind("failed", status_from_text(error), error) != "hard":
        return True
    address_id = await threads.address_id_of(conn, row.rcpt_to)
    if address_id is None:  # an address never stored: no count to keep
        return True
    if await threads.count_bounce(conn, address_id, "hard", now, hard_limit):
        log.warning(
            "outbox %d %s: address %d now suppressed after hard bounces (the relay: %s)",
            row.id,
            row.message_id,
            address_id,
            masked(error, row.rcpt_to, row.mail_from),
        )
    return True
