"""How long the outbox keeps an email's row once it is done with (sent, a dead letter,
withdrawn): as long as the inbound log keeps a message's, ``inbound.keep_days``, and
never less than its reply address works (``smtp.reply_token_days`` and a day).

Before, every row stayed for good: the recipient's address, the kind and the dates of
every email mailbridge ever sent, long after anything could read them, so a privacy
policy could state no period for them and the table only grew.

What reads an old row, and why the period covers it:

- a reply to a notification: its reply address names the address and the comment, not
  the row, but a reply found by its In-Reply-To (an extra recipient) and the quote cut
  from it read the row, while the address works (the bytes go before the row);
- a bounce at the row's VERP address, a mail service's event by Message-ID or its own
  id (``provider_id``), an abuse report: they come within days. One that comes after
  the row went counts against nobody and stays in the inbound log, as one about an
  erased person's email does;
- a bounce read (``bounces``) or an event recorded (``mail_events``) names the row:
  the row stays while either does (they go after ``inbound.keep_days`` too), so that
  ``mailbridge inbound ID`` and ``mailbridge reprocess ID`` still find what it was;
- ``mailbridge outbox ID``: a row past the period says "no outbox message ID" (ids
  are never given twice);
- /metrics' counters of emails sent, dead letters and attempts: what a deleted row
  counted is added to ``deleted_counts`` in the same transaction, as an erasure does;
- never a row still ``queued`` or ``sending``: it is still to be sent.
"""

from __future__ import annotations

import json

import aiosqlite

from mailbridge.store import deleted_counts
from mailbridge.store.engine import json_list

__all__ = ["BATCH", "DONE", "OLD_ROWS", "forget_old"]

# Rows a transaction, as the inbound log's (mailbridge.store.inbound_retention).
BATCH = 1000
# The statuses an email no longer changes from (the operator's --retry aside).
DONE = ("sent", "failed", "withdrawn")


# The done rows past a cut-off (ISO time, and in Unix seconds for next_attempt_at).
OLD_ROWS = (
    "SELECT o.id FROM outbox o WHERE o.status IN (?, ?, ?) AND o.next_attempt_at < ? "
    "AND o.created_at < ? AND coalesce(o.sent_at, o.created_at) < ? "
    "AND coalesce(o.requeued_at, o.created_at) < ? "
    # What names it stays, and the row with it (above).
    "AND NOT EXISTS (SELECT 1 FROM bounces b WHERE b.outbox_id = o.id) "
    "AND NOT EXISTS (SELECT 1 FROM mail_events e WHERE e.outbox_id = o.id) "
    "LIMIT ?"
)


async def forget_old(
    conn: aiosqlite.Connection, before: str, before_s: float, batch: int = BATCH
) -> int:
    """Delete up to ``batch`` done rows last touched before ``before`` (an ISO time;
    ``before_s``: the same in Unix seconds), with their
    bytes and lists (ON DELETE CASCADE), in the caller's transaction; how many.

    ``next_attempt_at`` is never later than when the row was sent or failed (it is
    leased only once due; a dead letter's is when it failed): the range on the index
    outbox_due finds the candidates without reading the whole outbox every hour."""
    async with conn.execute(OLD_ROWS, (*DONE, before_s, before, before, before, batch)) as cur:
        found = json.dumps([int(row[0]) for row in await cur.fetchall()])
    ids = json_list(conn, "bigint")
    await deleted_counts.tally_outbox(conn, f"id IN {ids}", found)  # counters go on
    cur = await conn.execute(f"DELETE FROM outbox WHERE id IN {ids}", (found,))  # noqa: S608
    return int(cur.rowcount)
