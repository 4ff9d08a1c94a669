"""How one delivery attempt ended, and how the worker writes those outcomes
(mailbridge.outbound.worker): each is recorded in the worker's next transaction, the
sent ones together in one statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosqlite

from mailbridge.store import outbox

__all__ = ["Outcome", "mark_sent", "record_outcomes"]


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: ``record(conn)`` writes it (False: the row was taken)."""

    row: outbox.OutboxRow
    record: Callable[[aiosqlite.Connection], Awaitable[bool]]
    sent_at: str | None = None  # sent: when
    provider_id: str | None = None  # a mail service's id for it, its events name it


async def mark_sent(
    conn: aiosqlite.Connection, row_id: int, now_iso: str, provider_id: str | None = None
) -> bool:
    # Unconditional: the relay accepted it, whoever holds the row now.
    await outbox.mark_sent(conn, row_id, now_iso, provider_id)
    return True


async def record_outcomes(conn: aiosqlite.Connection, outcomes: list[Outcome]) -> list[bool]:
    """Write ``outcomes``; the sent ones in one statement. True: recorded."""
    sent = [(o.row.id, o.sent_at, o.provider_id) for o in outcomes if o.sent_at is not None]
    if sent:
        await outbox.mark_sent_many(conn, sent)
    return [True if o.sent_at is not None else await o.record(conn) for o in outcomes]
