"""SQL for the inbound log: every message received, its raw bytes and its outcome."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

__all__ = ["InboundRecord", "Received", "find", "mark_accepted", "mark_rejected", "record"]


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


@dataclass(frozen=True)
class InboundRecord:
    id: int
    status: str
    reason: str | None
    detail: str | None
    comment_id: int | None
    deliveries: int


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

    A repeat delivery only increments ``deliveries`` on the existing row.
    """
    existing = await find(conn, msg.dedup_key)
    if existing is not None:
        await conn.execute(
            "UPDATE inbound_messages SET deliveries = deliveries + 1 WHERE id = ?", (existing.id,)
        )
        return existing, False
    async with conn.execute(
        "INSERT INTO inbound_messages (dedup_key, message_id, received_at, peer, helo, mail_from, "
        "rcpt_to, size, raw, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'received') RETURNING id",
        (
            msg.dedup_key,
            msg.message_id,
            msg.received_at,
            msg.peer,
            msg.helo,
            msg.mail_from,
            msg.rcpt_to,
            len(msg.raw),
            msg.raw,
        ),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return InboundRecord(int(row[0]), "received", None, None, None, 1), True


async def mark_accepted(conn: aiosqlite.Connection, inbound_id: int, comment_id: int) -> None:
    await conn.execute(
        "UPDATE inbound_messages SET status = 'accepted', comment_id = ? WHERE id = ?",
        (comment_id, inbound_id),
    )


async def mark_rejected(
    conn: aiosqlite.Connection, inbound_id: int, reason: str, detail: str
) -> None:
    await conn.execute(
        "UPDATE inbound_messages SET status = 'rejected', reason = ?, detail = ? WHERE id = ?",
        (reason, detail, inbound_id),
    )
