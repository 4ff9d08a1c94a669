"""SQL for the inbound log: every message received, its raw bytes, checks and outcome.

The raw bytes live in a table of their own (``inbound_raw``, migration 0025), written
once: SQLite writes a changed row whole, and the log's row changes after the message
is stored (its outcome, a redelivery's count), which rewrote a large message each time.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

__all__ = [
    "RAW_BATCH",
    "Disposition",
    "InboundRecord",
    "LogEntry",
    "Received",
    "StoredEnvelope",
    "find",
    "get_entry",
    "list_entries",
    "purge_raw",
    "raw_message",
    "record",
    "record_refusal",
    "set_outcome",
    "stored_envelope",
]


class Disposition(enum.StrEnum):
    """What happened to a message; stored as ``inbound_messages.status``."""

    RECEIVED = "received"  # stored; not (yet) processed: a crash or a 451
    ACCEPTED = "accepted"  # filed as a comment pending moderation
    HELD = "held"  # filed, flagged for the moderator (authentication failed)
    REJECTED = "rejected"  # refused after DATA; ``reason`` says why
    DROPPED = "dropped"  # accepted at SMTP and discarded (machine mail)
    BOUNCE = "bounce"  # a delivery status notification about our mail, counted
    REFUSED = "refused"  # refused at RCPT: no message was transferred
    UNSUBSCRIBED = "unsubscribed"  # a mailto: unsubscribe, applied
    POSTMASTER = "postmaster"  # mail to postmaster@: kept for the operator to read


@dataclass(frozen=True)
class Received:
    """One SMTP transaction's message as it arrived."""

    dedup_key: str
    message_id: str | None
    received_at: str
    peer: str
    helo: str
    mail_from: str
    rcpt_to: str
    raw: bytes
    headers: str = ""
    address_id: int | None = None


@dataclass(frozen=True)
class InboundRecord:
    id: int
    status: str
    reason: str | None
    detail: str | None
    comment_id: int | None
    deliveries: int


@dataclass(frozen=True)
class LogEntry:
    """One row of the inbound log, for the operator."""

    id: int
    stage: str
    received_at: str
    peer: str
    mail_from: str
    rcpt_to: str
    message_id: str | None
    size: int
    status: str
    reason: str | None
    detail: str | None
    comment_id: int | None
    deliveries: int
    has_raw: bool
    headers: str | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    # The comment it became, as it is now: "accepted" says it was filed, not that a
    # moderator was asked (the spam folder, held for personal details, blocked).
    comment_status: str | None = None
    comment_held: str | None = None


async def find(conn: aiosqlite.Connection, dedup_key: str) -> InboundRecord | None:
    async with conn.execute(
        "SELECT id, status, reason, detail, comment_id, deliveries FROM inbound_messages "
        "WHERE dedup_key = ?",
        (dedup_key,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else InboundRecord(*row)


async def record(conn: aiosqlite.Connection, msg: Received) -> tuple[InboundRecord, bool]:
    """Store ``msg`` unless the same message was stored before; return (record, is_new).

    A repeat delivery only increments ``deliveries`` on the existing row. Two
    daemons sharing a database may receive the same message at once (two MX hosts):
    the second insert waits for the first's transaction and, once it commits, finds
    the row and counts a repeat, so one message is one comment.
    """
    existing = await find(conn, msg.dedup_key)
    if existing is not None:
        return await _repeat(conn, existing), False
    async with conn.execute(
        "INSERT INTO inbound_messages (dedup_key, stage, message_id, received_at, peer, helo, "
        "mail_from, rcpt_to, size, headers, address_id, status) "
        "VALUES (?, 'data', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received') "
        "ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        (
            msg.dedup_key,
            msg.message_id,
            msg.received_at,
            msg.peer,
            msg.helo,
            msg.mail_from,
            msg.rcpt_to,
            len(msg.raw),
            msg.headers,
            msg.address_id,
        ),
    ) as cur:
        row = await cur.fetchone()
    if row is None:  # stored by another daemon since find() looked
        existing = await find(conn, msg.dedup_key)
        assert existing is not None
        return await _repeat(conn, existing), False
    inbound_id = int(row[0])
    await conn.execute(
        "INSERT INTO inbound_raw (inbound_id, raw) VALUES (?, ?)", (inbound_id, msg.raw)
    )
    return InboundRecord(inbound_id, Disposition.RECEIVED, None, None, None, 1), True


async def _repeat(conn: aiosqlite.Connection, existing: InboundRecord) -> InboundRecord:
    await conn.execute(
        "UPDATE inbound_messages SET deliveries = deliveries + 1 WHERE id = ?", (existing.id,)
    )
    return existing


async def record_refusal(
    conn: aiosqlite.Connection,
    *,
    received_at: str,
    peer: str,
    helo: str,
    mail_from: str,
    rcpt_to: str,
    reason: str,
    detail: str,
) -> int:
    """Log a recipient refused at RCPT time (no message was transferred)."""
    async with conn.execute(
        "INSERT INTO inbound_messages (stage, received_at, peer, helo, mail_from, rcpt_to, size, "
        "status, reason, detail, counted_as) "
        "VALUES ('rcpt', ?, ?, ?, ?, ?, 0, 'refused', ?, ?, 'refused') RETURNING id",
        (received_at, peer, helo, mail_from, rcpt_to, reason, detail),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def set_outcome(
    conn: aiosqlite.Connection,
    inbound_id: int,
    status: Disposition,
    *,
    reason: str | None = None,
    detail: str | None = None,
    checks: dict[str, Any] | None = None,
    comment_id: int | None = None,
    address_id: int | None = None,
) -> None:
    # counted_as keeps the first outcome: mailbridge_messages_received_total counts it
    # once, and a reprocessed message's new outcome must not take it off the old one.
    await conn.execute(
        "UPDATE inbound_messages SET status = ?, reason = ?, detail = ?, "
        "checks = coalesce(?, checks), comment_id = coalesce(?, comment_id), "
        "address_id = coalesce(?, address_id), "
        "counted_as = coalesce(counted_as, nullif(?, 'received')) WHERE id = ?",
        (
            status.value,
            reason,
            detail,
            None if checks is None else json.dumps(checks, sort_keys=True),
            comment_id,
            address_id,
            status.value,
            inbound_id,
        ),
    )


# Raw messages a transaction. Before, one statement deleted every raw message past
# the retention: on a big log (the first run after an upgrade, a month of a busy site,
# messages of megabytes, whose every page is freed) it held the one writer long, and
# every reply waited for it. Now housekeeping deletes a batch, commits, and goes on
# (mailbridge.housekeeping); fewer than the log's rows, as each can be megabytes.
RAW_BATCH = 200


async def purge_raw(conn: aiosqlite.Connection, before: str, batch: int = RAW_BATCH) -> int:
    """Forget up to ``batch`` raw bodies received before ``before`` (oldest first), in
    the caller's transaction; headers and outcomes stay.

    Driven by the raw bytes still kept (the retention's days), not by the whole log."""
    cur = await conn.execute(
        "DELETE FROM inbound_raw WHERE inbound_id IN (SELECT r.inbound_id FROM inbound_raw r "
        "JOIN inbound_messages m ON m.id = r.inbound_id WHERE m.received_at < ? "
        "ORDER BY r.inbound_id LIMIT ?)",
        (before, batch),
    )
    return cur.rowcount


async def raw_message(conn: aiosqlite.Connection, inbound_id: int) -> bytes | None:
    async with conn.execute(
        "SELECT raw FROM inbound_raw WHERE inbound_id = ?", (inbound_id,)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else bytes(row[0])


# The log's row and the comment it became (its status and why it is held, now).
_COLUMNS = (
    "m.id AS id, m.stage AS stage, m.received_at AS received_at, m.peer AS peer, "
    "m.mail_from AS mail_from, m.rcpt_to AS rcpt_to, m.message_id AS message_id, "
    "m.size AS size, m.status AS status, m.reason AS reason, m.detail AS detail, "
    "m.comment_id AS comment_id, m.deliveries AS deliveries, m.headers AS headers, "
    "m.checks AS checks, "
    "EXISTS (SELECT 1 FROM inbound_raw r WHERE r.inbound_id = m.id) AS has_raw, "
    "c.status AS comment_status, c.held_reason AS comment_held"
)
_FROM = "inbound_messages m LEFT JOIN comments c ON c.id = m.comment_id"


def _entry(row: sqlite3.Row, full: bool) -> LogEntry:
    return LogEntry(
        id=row["id"],
        stage=row["stage"],
        received_at=row["received_at"],
        peer=row["peer"],
        mail_from=row["mail_from"],
        rcpt_to=row["rcpt_to"],
        message_id=row["message_id"],
        size=row["size"],
        status=row["status"],
        reason=row["reason"],
        detail=row["detail"],
        comment_id=row["comment_id"],
        deliveries=row["deliveries"],
        has_raw=bool(row["has_raw"]),
        headers=row["headers"] if full else None,
        checks=json.loads(row["checks"]) if full else {},
        comment_status=row["comment_status"],
        comment_held=row["comment_held"],
    )


async def get_entry(conn: aiosqlite.Connection, inbound_id: int) -> LogEntry | None:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE m.id = ?",  # noqa: S608 - constant
        (inbound_id,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else _entry(row, full=True)


async def list_entries(
    conn: aiosqlite.Connection,
    *,
    status: str | None = None,
    reason: str | None = None,
    since: str | None = None,
    until: str | None = None,
    search: str | None = None,
    limit: int = 50,
) -> list[LogEntry]:
    """Newest first, filtered by status, reason, time and a substring of sender/recipient.

    ``since`` and ``until`` are in the storage form (mailbridge.clock.iso), compared as
    text with ``received_at``."""
    where, args = [], []
    if status:
        where.append("m.status = ?")
        args.append(status)
    if reason:
        where.append("m.reason = ?")
        args.append(reason)
    if since:
        where.append("m.received_at >= ?")
        args.append(since)
    if until:
        where.append("m.received_at < ?")
        args.append(until)
    if search:
        # "> 0": PostgreSQL takes no integer as a truth value.
        where.append(
            "(instr(lower(m.mail_from), ?) > 0 OR instr(lower(m.rcpt_to), ?) > 0 "
            "OR instr(lower(coalesce(m.message_id, '')), ?) > 0)"
        )
        args += [search.lower()] * 3
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM {_FROM} {clause} "  # noqa: S608
        "ORDER BY m.id DESC LIMIT ?",
        (*args, limit),
    ) as cur:
        return [_entry(row, full=False) for row in await cur.fetchall()]


@dataclass(frozen=True)
class StoredEnvelope:
    peer: str
    helo: str
    mail_from: str
    rcpt_to: str
    message_id: str | None
    raw: bytes | None


async def stored_envelope(conn: aiosqlite.Connection, inbound_id: int) -> StoredEnvelope | None:
    """A stored message as it arrived, for reprocessing (None for RCPT refusals)."""
    async with conn.execute(
        "SELECT m.peer, m.helo, m.mail_from, m.rcpt_to, m.message_id, r.raw "
        "FROM inbound_messages m LEFT JOIN inbound_raw r ON r.inbound_id = m.id "
        "WHERE m.id = ? AND m.stage = 'data'",
        (inbound_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    raw = None if row[5] is None else bytes(row[5])
    return StoredEnvelope(row[0], row[1], row[2], row[3], row[4], raw)
