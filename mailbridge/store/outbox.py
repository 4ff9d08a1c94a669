"""SQL for the outbox: every outgoing email is a row before anything is sent.

Lifecycle: ``queued`` → ``sending`` (leased by one worker until ``lease_expires_at``)
→ ``sent`` or ``failed``, or back to ``queued`` for a retry; a notification queued (or
failed) when its comment leaves the page is ``withdrawn`` (mailbridge.store.withdrawal).
A done row (sent, failed, withdrawn) is deleted after ``inbound.keep_days``
(mailbridge.store.outbox_retention), or at its recipient's erasure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiosqlite

from mailbridge.store.engine import as_address, dialect_of, json_list

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DOMAIN_SQL",
    "MODERATION_KINDS",
    "OutboxRow",
    "Outgoing",
    "Suppressed",
    "count_by_status",
    "domain_of",
    "enqueue",
    "fail_suppressed",
    "forget_sent",
    "held_by_others",
    "lease_due",
    "lease_ids",
    "mark_failed",
    "mark_sent",
    "mark_sent_many",
    "next_due",
    "provider_key",
    "release_stale",
    "renew_leases",
    "reschedule",
    "unlease",
]

DEFAULT_LEASE_SECONDS = 60.0

# The recipient's domain in SQL, the same rule as domain_of() for any address with
# one '@' (a quoted local part holding '@' is the only way they differ).
DOMAIN_SQL = "lower(substr(rcpt_to, instr(rcpt_to, '@') + 1))"
# Without the message: its bytes are a table of their own (outbox_messages, migration
# 0026), written once and read once per lease, never rewritten with the row.
_ROW_COLUMNS = (
    "id, kind, message_id, mail_from, rcpt_to, attempts, created_at, "
    "coalesce(requeued_at, created_at)"
)


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
    # Where the give-up clock starts: created_at, or when the operator re-queued it.
    since: str = ""

    @property
    def domain(self) -> str:
        return domain_of(self.rcpt_to)


@dataclass(frozen=True)
class Suppressed:
    """A due row not sent because its recipient is suppressed (marked failed)."""

    id: int
    message_id: str
    reason: str


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


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
        "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?) "
        # The previous release's conflict target too (sql/0030); a withdrawn row is out
        # of the key (its comment_id NULL): published again, a comment is sent afresh.
        "ON CONFLICT (kind, comment_id, rcpt_to) DO NOTHING RETURNING id",
        (out.kind, out.comment_id, out.message_id, out.mail_from, out.rcpt_to, now, now_iso),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    row_id = int(row[0])
    await conn.execute(
        "INSERT INTO outbox_messages (outbox_id, message) VALUES (?, ?)", (row_id, out.message)
    )
    if return_path is not None:
        await conn.execute(
            "UPDATE outbox SET mail_from = ? WHERE id = ?", (return_path(row_id), row_id)
        )
    return row_id


async def release_stale(conn: aiosqlite.Connection, now: float | None = None) -> int:
    """Put rows left in 'sending' back in the queue; return how many.

    With ``now``, only rows whose lease expired before it (their worker is gone);
    without, every such row (only safe when no worker can be running). Such a row
    may have reached the relay: it is sent again with the same Message-ID, so at
    most one duplicate per crash, recognisable as such.
    """
    if now is None:
        cur = await conn.execute(
            "UPDATE outbox SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL "
            "WHERE status = 'sending'"
        )
    else:
        cur = await conn.execute(
            "UPDATE outbox SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL "
            "WHERE status = 'sending' AND coalesce(lease_expires_at, 0) <= ?",
            (now,),
        )
    return cur.rowcount


async def lease_ids(
    conn: aiosqlite.Connection, ids: Sequence[int], owner: str, until: float
) -> list[OutboxRow]:
    """Lease the rows ``ids`` still queued to ``owner`` until ``until``."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    # status = 'queued' again here: a row taken meanwhile by someone else is skipped.
    # Its unary + keeps SQLite on the ids (rowid look-ups): on the index outbox_due it
    # would read every queued row.
    if dialect_of(conn) == "postgresql":
        # Several daemons may lease at once: a row another one's lease transaction
        # holds is skipped (SKIP LOCKED), not waited for, and not leased twice.
        where = (
            "id IN (SELECT id FROM outbox WHERE status = 'queued' "  # noqa: S608
            f"AND id IN ({marks}) FOR UPDATE SKIP LOCKED)"
        )
    else:
        where = f"+status = 'queued' AND id IN ({marks})"
    rows = await conn.execute_fetchall(
        f"UPDATE outbox SET status = 'sending', attempts = attempts + 1, "  # noqa: S608
        f"lease_owner = ?, lease_expires_at = ? WHERE {where} "
        f"RETURNING {_ROW_COLUMNS}",
        (owner, until, *ids),
    )
    if not rows:
        return []
    leased = [int(row[0]) for row in rows]
    found = await conn.execute_fetchall(
        "SELECT outbox_id, message FROM outbox_messages "  # noqa: S608 - marks only
        f"WHERE outbox_id IN ({','.join('?' * len(leased))})",
        leased,
    )
    messages = {int(key): bytes(message) for key, message in found}
    lost = [key for key in leased if key not in messages]
    if lost:
        # Every queueing writes both rows in one transaction; a row without its bytes
        # (a database restored in part, a hand-made row) becomes a dead letter that
        # says so, rather than stopping every delivery round.
        await conn.execute(
            "UPDATE outbox SET status = 'failed', last_error = 'not sent: its composed "  # noqa: S608
            f"message is missing from outbox_messages', {_RELEASE} "
            f"WHERE id IN ({','.join('?' * len(lost))})",
            lost,
        )
    return [
        OutboxRow(
            id=int(row[0]),
            kind=row[1],
            message_id=row[2],
            mail_from=row[3],
            rcpt_to=row[4],
            message=messages[int(row[0])],
            attempts=row[5],
            created_at=row[6],
            since=row[7],
        )
        for row in rows
        if int(row[0]) in messages
    ]


async def lease_due(
    conn: aiosqlite.Connection,
    now: float,
    limit: int,
    *,
    owner: str = "",
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> list[OutboxRow]:
    """Mark up to ``limit`` due rows as 'sending' (oldest first) and return them."""
    async with conn.execute(
        "SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at, id LIMIT ?",
        (now, limit),
    ) as cur:
        ids = [int(r[0]) for r in await cur.fetchall()]
    rows = await lease_ids(conn, ids, owner, now + lease_seconds)
    return sorted(rows, key=lambda r: r.id)


async def fail_suppressed(
    conn: aiosqlite.Connection, now: float, ids: Sequence[int] | None = None
) -> list[Suppressed]:
    """Mark due rows to suppressed addresses failed (not sent) and return them.

    With ``ids``, only among those rows (the ones about to be leased): checking
    every due row on each lease would cost as much as the backlog.
    """
    among: str = ""
    args: tuple[int, ...] = ()
    if ids is not None:
        if not ids:
            return []
        # The unary + (below) keeps SQLite on these ids instead of reading every due
        # row through the index outbox_due.
        among, args = f" AND id IN ({','.join('?' * len(ids))})", tuple(ids)
    rcpt = as_address(conn, "outbox.rcpt_to")
    rows = await conn.execute_fetchall(
        "UPDATE outbox SET status = 'failed', last_error = ("  # noqa: S608 - marks only
        " SELECT 'not sent: the address is suppressed since ' || a.suppressed_at"
        "  || coalesce(' (' || a.suppressed_reason || ')', '')"
        "  || '; mailbridge bounces --resume ' || a.email || ' lifts it'"
        f" FROM addresses a WHERE a.email = {rcpt}) "
        f"WHERE {'+' if among else ''}status = 'queued' AND {'+' if among else ''}"
        f"next_attempt_at <= ?{among} AND EXISTS ("
        f" SELECT 1 FROM addresses a WHERE a.email = {rcpt}"
        " AND a.suppressed_at IS NOT NULL"
        # A confirmation asked for after a spam complaint is the one email it lets by
        # (times are to the second: one asked for in the complaint's second passes).
        " AND NOT (a.suppressed_reason = 'complaint' AND outbox.kind = 'confirmation'"
        "  AND outbox.created_at >= a.suppressed_at)"
        # A moderator's complaint (about a notification, as a commenter) does not stop
        # the mail their role needs: without it comments wait unseen, and nobody is
        # told. Only the operator (moderation.moderators) stops it; a bounce does too.
        " AND NOT (a.suppressed_reason = 'complaint' AND outbox.kind IN "
        "  ('moderation_request', 'moderation_digest', 'spam_report'))) "
        "RETURNING id, message_id, last_error",
        (now, *args),
    )
    return [Suppressed(int(r[0]), str(r[1]), str(r[2])) for r in rows]


async def renew_leases(
    conn: aiosqlite.Connection, ids: Sequence[int], owner: str, until: float
) -> int:
    """Extend the caller's leases on ``ids``; return how many it still held."""
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    cur = await conn.execute(
        f"UPDATE outbox SET lease_expires_at = ? WHERE status = 'sending' "  # noqa: S608
        f"AND lease_owner = ? AND id IN ({marks})",
        (until, owner, *ids),
    )
    return cur.rowcount


async def unlease(conn: aiosqlite.Connection, ids: Sequence[int], owner: str) -> int:
    """Give back leased rows that were not attempted: queued again, the attempt undone."""
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    cur = await conn.execute(
        f"UPDATE outbox SET status = 'queued', attempts = attempts - 1, {_RELEASE} "  # noqa: S608
        f"WHERE status = 'sending' AND lease_owner = ? AND id IN ({marks})",
        (owner, *ids),
    )
    return cur.rowcount


async def held_by_others(conn: aiosqlite.Connection, ids: Sequence[int], owner: str) -> int:
    """How many of ``ids`` another worker is sending now (it took them over)."""
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    async with conn.execute(
        f"SELECT count(*) FROM outbox WHERE status = 'sending' "  # noqa: S608
        f"AND lease_owner IS NOT ? AND id IN ({marks})",
        (owner, *ids),
    ) as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def next_due(conn: aiosqlite.Connection) -> float | None:
    """When something next needs a worker: a queued row due, or a lease expiring."""
    async with conn.execute(
        "SELECT min(t) FROM ("
        " SELECT min(next_attempt_at) AS t FROM outbox WHERE status = 'queued'"
        " UNION ALL"
        " SELECT min(coalesce(lease_expires_at, 0)) FROM outbox WHERE status = 'sending') AS due"
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


_RELEASE = "lease_owner = NULL, lease_expires_at = NULL"


def _owned(owner: str | None) -> tuple[str, tuple[str, ...]]:
    # An outcome is only recorded by the worker that still holds the row.
    if owner is None:
        return "", ()
    return " AND status = 'sending' AND lease_owner = ?", (owner,)


def provider_key(provider: str, value: str) -> str:
    """How ``outbox.provider_id`` keeps a mail service's id for a message (migration
    0036): ``service:id``, so one service's id never matches another's message."""
    return f"{provider}:{value.strip()[:200]}"


_MARK_SENT = (
    "UPDATE outbox SET status = 'sent', sent_at = ?, last_error = NULL, "  # noqa: S608
    f"provider_id = coalesce(?, provider_id), {_RELEASE} WHERE id = ?"
)


async def mark_sent(
    conn: aiosqlite.Connection, row_id: int, now_iso: str, provider_id: str | None = None
) -> None:
    """Sent; ``provider_id`` (:func:`provider_key`) when a mail service's API named it."""
    # Unconditional: the relay accepted it, whoever holds the row now.
    await conn.execute(_MARK_SENT, (now_iso, provider_id, row_id))


async def mark_sent_many(
    conn: aiosqlite.Connection, sent: Sequence[tuple[int, str, str | None]]
) -> None:
    """:func:`mark_sent` for each (id, sent_at, provider_id) of ``sent``, in one statement."""
    await conn.executemany(
        _MARK_SENT, [(now_iso, provider_id, row_id) for row_id, now_iso, provider_id in sent]
    )


async def reschedule(
    conn: aiosqlite.Connection, row_id: int, at: float, error: str, owner: str | None = None
) -> bool:
    cond, args = _owned(owner)
    cur = await conn.execute(
        f"UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = ?, "  # noqa: S608
        f"{_RELEASE} "
        f"WHERE id = ?{cond}",
        (at, error, row_id, *args),
    )
    return cur.rowcount == 1


async def mark_failed(
    conn: aiosqlite.Connection,
    row_id: int,
    error: str,
    owner: str | None = None,
    at: float | None = None,
) -> bool:
    """A dead letter; ``at`` (when it failed) becomes its next_attempt_at, for status."""
    cond, args = _owned(owner)
    cur = await conn.execute(
        "UPDATE outbox SET status = 'failed', last_error = ?, "  # noqa: S608
        f"next_attempt_at = coalesce(?, next_attempt_at), {_RELEASE} WHERE id = ?{cond}",
        (error, at, row_id, *args),
    )
    return cur.rowcount == 1


async def count_by_status(conn: aiosqlite.Connection) -> dict[str, int]:
    async with conn.execute("SELECT status, count(*) FROM outbox GROUP BY status") as cur:
        return {str(r[0]): int(r[1]) for r in await cur.fetchall()}


# The emails to moderators: read again only to cut them from a moderator's reply
# (moderation_request), until their reply address expires (moderation.link_days).
MODERATION_KINDS = ("moderation_request", "moderation_digest", "spam_report")


async def forget_sent(
    conn: aiosqlite.Connection, before: str, kinds: tuple[str, ...] | None = None
) -> int:
    """Delete the bytes of emails sent before ``before`` (ISO time), of ``kinds`` only
    when given; their rows stay.

    Driven by the bytes still kept, not by the whole outbox's history."""
    of_kinds = "" if kinds is None else f" AND o.kind IN {json_list(conn, 'text')}"
    cur = await conn.execute(
        "DELETE FROM outbox_messages WHERE outbox_id IN (SELECT m.outbox_id "  # noqa: S608
        "FROM outbox_messages m JOIN outbox o ON o.id = m.outbox_id "
        f"WHERE o.status = 'sent' AND o.sent_at < ?{of_kinds})",
        (before,) if kinds is None else (before, json.dumps(kinds)),
    )
    return cur.rowcount
