"""SQL for delivery events a mail service reports and spam complaints
(mailbridge.mail_events; migration 0035)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from mailbridge.store import subscriptions
from mailbridge.store.engine import as_address, dialect_of

__all__ = [
    "COMPLAINT",
    "Sent",
    "complain",
    "insert",
    "lift_complaint",
    "sent_as",
]

# The suppression reason of a complaint: `mailbridge bounces` shows it; a confirmation
# email the person asks for afterwards passes it, and pressing its link lifts it.
COMPLAINT = "complaint"


@dataclass(frozen=True)
class Sent:
    outbox_id: int
    rcpt_to: str
    address_id: int | None  # None: an address never stored (a moderator's, from config)
    kind: str = ""  # the outbox kind: a moderation email, a notification...
    by_provider_id: bool = False  # found by the service's own id, not the Message-ID


async def sent_as(
    conn: aiosqlite.Connection, message_id: str, provider_id: str = ""
) -> Sent | None:
    """The message a mail service's API accepted as ``provider_id`` (outbox.provider_key;
    the latest if sent again: the service's own record, first), or else the one we sent
    with this Message-ID, and its recipient's address id.

    On PostgreSQL the row is held (FOR KEY SHARE) until the event is recorded, so that
    another daemon's outbox retention does not delete it under the event, which names
    it (mailbridge.store.outbox_retention)."""
    held = " FOR KEY SHARE OF o" if dialect_of(conn) == "postgresql" else ""
    for column, value in (("provider_id", provider_id), ("message_id", message_id)):
        if not value:
            continue
        async with conn.execute(
            "SELECT o.id, o.rcpt_to, a.id, o.kind FROM outbox o "  # noqa: S608 - no value in the text
            f"LEFT JOIN addresses a ON a.email = {as_address(conn, 'o.rcpt_to')} "
            f"WHERE o.{column} = ? ORDER BY o.id DESC LIMIT 1{held}",
            (value,),
        ) as cur:
            row = await cur.fetchone()
        if row is not None:
            address_id = None if row[2] is None else int(row[2])
            found = column == "provider_id"
            return Sent(int(row[0]), str(row[1]), address_id, str(row[3]), found)
    return None


async def insert(
    conn: aiosqlite.Connection,
    *,
    provider: str,
    event_id: str,
    kind: str,
    outbox_id: int | None,
    address_id: int | None,
    status: str,
    diagnostic: str,
    now: str,
) -> bool:
    """Record one event; False when it was recorded before (a retry of it)."""
    async with conn.execute(
        "INSERT INTO mail_events (provider, event_id, kind, outbox_id, address_id, status, "
        "diagnostic, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (provider, event_id) DO NOTHING RETURNING id",
        (provider, event_id, kind, outbox_id, address_id, status, diagnostic[:1000], now),
    ) as cur:
        return await cur.fetchone() is not None


async def complain(conn: aiosqlite.Connection, address_id: int, now: str) -> bool:
    """The person reported our mail as spam: nothing more from the site (as "stop
    everything" on the unsubscribe page, which only they can undo), and no mail at all
    until they ask (the suppression). True when it stopped mail that was going out."""
    await subscriptions.choose(conn, address_id, None, subscriptions.Level.NONE, COMPLAINT, now)
    cur = await conn.execute(
        # last_bounce_at: `mailbridge bounces` lists the latest first.
        "UPDATE addresses SET suppressed_at = ?, suppressed_reason = ?, last_bounce_at = ? "
        "WHERE id = ? AND (suppressed_at IS NULL OR coalesce(suppressed_reason, '') != ?)",
        (now, COMPLAINT, now, address_id, COMPLAINT),
    )
    return cur.rowcount > 0


async def lift_complaint(conn: aiosqlite.Connection, address_id: int) -> bool:
    """The person confirmed they want mail again (a link only their mailbox has)."""
    cur = await conn.execute(
        "UPDATE addresses SET suppressed_at = NULL, suppressed_reason = NULL "
        "WHERE id = ? AND suppressed_reason = ?",
        (address_id, COMPLAINT),
    )
    return cur.rowcount > 0
