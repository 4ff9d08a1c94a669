"""SQL behind ``mailbridge outbox``: what an operator sees of the outbox, and a dead
letter queued again by hand (``--retry``). The queue itself is :mod:`.outbox`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

__all__ = [
    "OutboxDetail",
    "OutboxSummary",
    "get_detail",
    "list_summaries",
    "retry",
    "retry_all_failed",
]


@dataclass(frozen=True)
class OutboxSummary:
    id: int
    kind: str
    status: str
    rcpt_to: str
    message_id: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: str
    sent_at: str | None


@dataclass(frozen=True)
class OutboxDetail:
    summary: OutboxSummary
    comment_id: int | None
    mail_from: str
    lease_owner: str | None
    lease_expires_at: float | None
    requeued_at: str | None
    size: int
    message: bytes
    # False once housekeeping forgot a sent email's bytes (or they were lost).
    kept: bool = True
    provider_id: str | None = None  # a mail service's id for it (outbox.provider_key)


_SUMMARY_COLUMNS = (
    "id, kind, status, rcpt_to, message_id, attempts, next_attempt_at, last_error, "
    "created_at, sent_at"
)


async def list_summaries(
    conn: aiosqlite.Connection, statuses: Sequence[str], limit: int
) -> list[OutboxSummary]:
    """Rows in ``statuses``: dead letters (failed) first, then the rest by due time."""
    marks = ",".join("?" * len(statuses))
    async with conn.execute(
        f"SELECT {_SUMMARY_COLUMNS} FROM outbox WHERE status IN ({marks}) "  # noqa: S608
        "ORDER BY status != 'failed', CASE WHEN status = 'sent' THEN -id ELSE 0 END, "
        "next_attempt_at, id LIMIT ?",
        (*statuses, limit),
    ) as cur:
        return [OutboxSummary(*row) for row in await cur.fetchall()]


async def get_detail(conn: aiosqlite.Connection, row_id: int) -> OutboxDetail | None:
    async with conn.execute(
        f"SELECT {_SUMMARY_COLUMNS}, comment_id, mail_from, lease_owner, "  # noqa: S608
        "lease_expires_at, "
        "requeued_at, coalesce(length(m.message), 0), m.message, provider_id FROM outbox "
        "LEFT JOIN outbox_messages m ON m.outbox_id = outbox.id WHERE outbox.id = ?",
        (row_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    values = tuple(row)
    return OutboxDetail(
        summary=OutboxSummary(*values[:10]),
        comment_id=values[10],
        mail_from=values[11],
        lease_owner=values[12],
        lease_expires_at=values[13],
        requeued_at=values[14],
        size=int(values[15]),
        message=b"" if values[16] is None else bytes(values[16]),
        kept=values[16] is not None,
        provider_id=values[17],
    )


async def retry(conn: aiosqlite.Connection, row_id: int, now: float, now_iso: str) -> str | None:
    """Queue a failed row again (or make a queued one due now).

    Returns the row's status before, or None if there is no such row; rows that
    are sent or being sent are left alone.
    """
    async with conn.execute("SELECT status FROM outbox WHERE id = ?", (row_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    status = str(row[0])
    if status == "failed":
        await conn.execute(
            "UPDATE outbox SET status = 'queued', next_attempt_at = ?, requeued_at = ? "
            "WHERE id = ?",
            (now, now_iso, row_id),
        )
    elif status == "queued":
        await conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE id = ?", (now, row_id))
    return status


async def retry_all_failed(conn: aiosqlite.Connection, now: float, now_iso: str) -> int:
    cur = await conn.execute(
        "UPDATE outbox SET status = 'queued', next_attempt_at = ?, requeued_at = ? "
        "WHERE status = 'failed'",
        (now, now_iso),
    )
    return cur.rowcount
