"""What the metrics' counters counted of the rows deleted since (migration 0032).

An erasure (mailbridge.people.data) and the spam folder's purge
(mailbridge.people.unreferenced) delete messages received and emails sent; the
counters of ``/metrics`` are read from those tables (mailbridge.metrics.families), so
each deletion first adds what the rows counted here, in the same transaction.
"""

from __future__ import annotations

import aiosqlite

from mailbridge.store.withdrawal import WITHDRAWN_DEAD_LETTER

__all__ = ["DEAD_LETTER", "added", "tally_inbound", "tally_outbox"]

# A dead letter as mailbridge_deliveries_total{result="failed"} counts it: failed now,
# queued again after failing, or withdrawn as one.
DEAD_LETTER = f"(status = 'failed' OR requeued_at IS NOT NULL OR {WITHDRAWN_DEAD_LETTER})"

_ADD = (
    "INSERT INTO deleted_counts (counter, label, count) {select} "
    "ON CONFLICT (counter, label) DO UPDATE SET count = deleted_counts.count + excluded.count"
)


async def tally_inbound(conn: aiosqlite.Connection, where: str, *args: object) -> None:
    """Count the inbound_messages rows ``where`` picks, by the outcome the counter
    counted them under (none yet: not counted), before they go."""
    select = (
        "SELECT 'received', counted_as, count(*) FROM inbound_messages "  # noqa: S608 - constant
        f"WHERE ({where}) AND counted_as IS NOT NULL GROUP BY counted_as"
    )
    await conn.execute(_ADD.format(select=select), args)


async def tally_outbox(conn: aiosqlite.Connection, where: str, *args: object) -> None:
    """Count the outbox rows ``where`` picks (sent, dead letters, attempts) before they go."""
    for label, cond, value in (
        ("sent", "status = 'sent'", "count(*)"),
        ("failed", DEAD_LETTER, "count(*)"),
        ("", "true", "coalesce(sum(attempts), 0)"),
    ):
        counter = "attempts" if not label else "deliveries"
        select = (
            f"SELECT '{counter}', '{label}', {value} FROM outbox "  # noqa: S608 - constant
            f"WHERE ({where}) AND {cond}"
        )
        await conn.execute(_ADD.format(select=select), args)


async def added(conn: aiosqlite.Connection) -> dict[tuple[str, str], int]:
    """Every tally, by (counter, label)."""
    async with conn.execute("SELECT counter, label, count FROM deleted_counts") as cur:
        return {(str(r[0]), str(r[1])): int(r[2]) for r in await cur.fetchall()}
