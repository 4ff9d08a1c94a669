"""SQL for the outbox: every outgoing email is a row before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

__all__ = [
    "OutboxRow",
    "Outgoing",
    "enqueue",
    "lease_due",
    "mark_failed",
    "mark_sent",
    "next_due",
    "release_stale",
    "reschedule",
]


@dataclass(frozen=True)
class Outgoing:
    """A composed message waiting to be queued."""

    kind: str
    comment_id: int | None
    message_id: str
    mail_from: str
    rcpt_to: str
    message: bytes


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    message_id: str
    mail_from: str
    rcpt_to: str
    message: bytes
    attempts: int
    created_at: str


async def enqueue(
    conn: aiosqlite.Connection,
    out: Outgoing,
    now: float,
    now_iso: str,
    return_path: Callable[[int], str] | None = None,
) -> int | None:
    """Queue ``out`` unless the same (kind, comment, recipient) is queued already.

    ``return_path(id)`` gives the row its own envelope sender (VERP), which needs
    the id, so it is set right after the insert, in the same transaction.
    """
    async with conn.execute(
        "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, message, status, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?) "
        "ON CONFLICT (kind, comment_id, rcpt_to) DO NOTHING RETURNING id",
        (
            out.kind,
            out.comment_id,
            out.message_id,
            out.mail_from,
            out.rcpt_to,
            out.message,
            now,
            now_iso,
        ),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    row_id = int(row[0])
    if return_path is not None:
        await conn.execute(
            "UPDATE outbox SET mail_from = ? WHERE id = ?", (return_path(row_id), row_id)
        )
    return row_id


async def release_stale(conn: aiosqlite.Connection) -> int:
    """Put rows left in 'sending' by a crash back in the queue; return how many.

    Such a row may have reached the relay before the crash: it is sent again with
    the same Message-ID, so at most one duplicate, recognisable as such.
    """
    cur = await conn.execute("UPDATE outbox SET status = 'queued' WHERE status = 'sending'")
    return cur.rowcount


async def lease_due(conn: aiosqlite.Connection, now: float, limit: int) -> list[OutboxRow]:
    """Mark up to ``limit`` due rows as 'sending' and return them."""
    async with conn.execute(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE id IN ("
        " SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?"
        " ORDER BY next_attempt_at, id LIMIT ?) "
        "RETURNING id, kind, message_id, mail_from, rcpt_to, message, attempts, created_at",
        (now, limit),
    ) as cur:
        rows = await cur.fetchall()
    return sorted((OutboxRow(*row) for row in rows), key=lambda r: r.id)


async def next_due(conn: aiosqlite.Connection) -> float | None:
    async with conn.execute(
        "SELECT min(next_attempt_at) FROM outbox WHERE status = 'queued'"
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def mark_sent(conn: aiosqlite.Connection, row_id: int, now_iso: str) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, last_error = NULL WHERE id = ?",
        (now_iso, row_id),
    )


async def reschedule(conn: aiosqlite.Connection, row_id: int, at: float, error: str) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = ? WHERE id = ?",
        (at, error, row_id),
    )


async def mark_failed(conn: aiosqlite.Connection, row_id: int, error: str) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ?", (error, row_id)
    )
