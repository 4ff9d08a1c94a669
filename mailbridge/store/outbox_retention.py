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

With several daemons on PostgreSQL, a bounce or an event may come for a row at the
moment one daemon's housekeeping deletes it. What reads the row to count against its
recipient holds it (``FOR KEY SHARE``: mailbridge.inbound.bounces,
mailbridge.store.mail_events.sent_as), and the retention passes a held row by (``FOR
UPDATE SKIP LOCKED``), then checks again, once it holds its rows, that nothing names
them: the bounce counts and the row stays with it. Before, the bounce's insert failed
on the foreign key once the row was gone (a traceback, SMTP 451, and at the retry a
bounce counted for nobody: a hard-bouncing address still mailed), or the retention's
delete failed on it (the hour's housekeeping rolled back). A bounce that comes once
the retention holds the row waits for it and finds it gone: it counts for nobody, as
one after the period does.
"""

from __future__ import annotations

import json

import aiosqlite

from mailbridge.store import deleted_counts
from mailbridge.store.engine import dialect_of, json_list

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
# PostgreSQL: a row a bounce or an event holds (FOR KEY SHARE) is passed by, and those
# taken are held until the transaction ends (above).
_LOCKED = " FOR UPDATE OF o SKIP LOCKED"
# Those of the rows taken that nothing names now: on PostgreSQL a new statement sees
# what was committed while the first one ran (a bounce that let go of its row).
_UNNAMED = (
    "SELECT o.id FROM outbox o WHERE o.id IN {ids} "
    "AND NOT EXISTS (SELECT 1 FROM bounces b WHERE b.outbox_id = o.id) "
    "AND NOT EXISTS (SELECT 1 FROM mail_events e WHERE e.outbox_id = o.id)"
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
    postgresql = dialect_of(conn) == "postgresql"
    query = OLD_ROWS + (_LOCKED if postgresql else "")
    async with conn.execute(query, (*DONE, before_s, before, before, before, batch)) as cur:
        found = json.dumps([int(row[0]) for row in await cur.fetchall()])
    ids = json_list(conn, "bigint")
    if postgresql and found != "[]":
        async with conn.execute(_UNNAMED.format(ids=ids), (found,)) as cur:
            found = json.dumps([int(row[0]) for row in await cur.fetchall()])
    return await deleted_counts.delete_outbox(conn, f"id IN {ids}", found)  # counters go on
