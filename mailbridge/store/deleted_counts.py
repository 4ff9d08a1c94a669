"""What the metrics' counters counted of the rows deleted since (migration 0032).

An erasure (mailbridge.people.data), the spam folder's purge
(mailbridge.people.unreferenced) and the retention of the inbound log and the outbox
delete messages received and emails sent; the counters of ``/metrics`` are read from
those tables (mailbridge.metrics.families), so each deletion adds what the rows counted
here, in the same transaction.

What is added is what the DELETE itself returned. Before, the rows were counted first
(a SELECT), then deleted: on PostgreSQL an erasure beside another daemon's retention
counted rows the retention had deleted and not yet committed, then its own DELETE
waited for it and found them gone; the counter, which only goes up, stayed too high
for good. A row is deleted by one statement only, and counted by that one.
"""

from __future__ import annotations

from collections import Counter

import aiosqlite

from mailbridge.store.withdrawal import WITHDRAWN_DEAD_LETTER

__all__ = ["DEAD_LETTER", "added", "delete_inbound", "delete_outbox"]

# A dead letter as mailbridge_deliveries_total{result="failed"} counts it: failed now,
# queued again after failing, or withdrawn as one.
DEAD_LETTER = f"(status = 'failed' OR requeued_at IS NOT NULL OR {WITHDRAWN_DEAD_LETTER})"

_ADD = (
    "INSERT INTO deleted_counts (counter, label, count) VALUES (?, ?, ?) "
    "ON CONFLICT (counter, label) DO UPDATE SET count = deleted_counts.count + excluded.count"
)


async def _add(conn: aiosqlite.Connection, counts: Counter[tuple[str, str]]) -> None:
    await conn.executemany(_ADD, [(c, label, n) for (c, label), n in counts.items() if n])


async def delete_inbound(conn: aiosqlite.Connection, where: str, *args: object) -> int:
    """Delete the inbound_messages rows ``where`` picks, adding each one the counter
    counted (by the outcome it counted it under; none yet: not counted); how many."""
    async with conn.execute(
        f"DELETE FROM inbound_messages WHERE {where} RETURNING counted_as",  # noqa: S608 - constant
        args,
    ) as cur:
        rows = list(await cur.fetchall())
    await _add(conn, Counter(("received", str(r[0])) for r in rows if r[0] is not None))
    return len(rows)


async def delete_outbox(conn: aiosqlite.Connection, where: str, *args: object) -> int:
    """Delete the outbox rows ``where`` picks, adding what they counted (sent, dead
    letters, attempts); how many."""
    async with conn.execute(
        f"DELETE FROM outbox WHERE {where} RETURNING "  # noqa: S608 - constant
        f"CASE WHEN status = 'sent' THEN 1 ELSE 0 END, CASE WHEN {DEAD_LETTER} THEN 1 ELSE 0 "
        "END, attempts",
        args,
    ) as cur:
        rows = list(await cur.fetchall())
    counts: Counter[tuple[str, str]] = Counter()
    for sent, failed, attempts in rows:
        counts["deliveries", "sent"] += int(sent)
        counts["deliveries", "failed"] += int(failed)
        counts["attempts", ""] += int(attempts)
    await _add(conn, counts)
    return len(rows)


async def added(conn: aiosqlite.Connection) -> dict[tuple[str, str], int]:
    """Every tally, by (counter, label)."""
    async with conn.execute("SELECT counter, label, count FROM deleted_counts") as cur:
        return {(str(r[0]), str(r[1])): int(r[2]) for r in await cur.fetchall()}
