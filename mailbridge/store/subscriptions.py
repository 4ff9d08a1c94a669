"""SQL for what people want to hear about, confirmations, and notifications waiting
to be batched."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import aiosqlite

__all__ = [
    "Level",
    "Pending",
    "add_pending",
    "below",
    "choose",
    "confirm_address",
    "due_addresses",
    "effective_level",
    "explicit_level",
    "is_confirmed",
    "mark_confirmation_sent",
    "next_due",
    "pop_pending",
    "request",
    "restore_pending",
    "set_level",
    "take_requests",
    "thread_subscribers",
    "withdraw_pending",
]


class Level(enum.StrEnum):
    """What an address hears about in a thread."""

    NONE = "none"
    REPLIES = "replies"  # answers to its own comments (the default for those who ask)
    THREAD = "thread"  # every new published comment


async def set_level(
    conn: aiosqlite.Connection,
    address_id: int,
    thread_id: int | None,
    level: Level,
    source: str,
    now: str,
) -> None:
    """Set the level for one thread, or site-wide with ``thread_id=None``."""
    await conn.execute(
        "INSERT INTO subscriptions (address_id, thread_id, level, source, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (address_id, coalesce(thread_id, 0)) "
        "DO UPDATE SET level = excluded.level, source = excluded.source, "
        "updated_at = excluded.updated_at",
        (address_id, thread_id, level.value, source, now),
    )
    if level is Level.NONE:
        # Stopping wins over anything asked for and not yet confirmed.
        await conn.execute(
            # CAST: PostgreSQL must know a parameter's type even when it is NULL.
            "DELETE FROM subscription_requests WHERE address_id = ? "
            "AND (CAST(? AS INTEGER) IS NULL OR thread_id = ?)",
            (address_id, thread_id, thread_id),
        )


async def choose(
    conn: aiosqlite.Connection,
    address_id: int,
    thread_id: int | None,
    level: Level,
    source: str,
    now: str,
) -> None:
    """A person's own choice, for one thread or (``thread_id=None``) the whole site."""
    await set_level(conn, address_id, thread_id, level, source, now)
    if thread_id is None and level is Level.NONE:
        # "Nothing from this site" must also silence every thread they chose before.
        await conn.execute(
            "UPDATE subscriptions SET level = 'none', source = ?, updated_at = ? "
            "WHERE address_id = ? AND thread_id IS NOT NULL",
            (source, now, address_id),
        )


async def effective_level(
    conn: aiosqlite.Connection, address_id: int, thread_id: int
) -> Level | None:
    """The thread's own level, else the site-wide one, else None (never asked)."""
    async with conn.execute(
        # Two look-ups in subscriptions_one (address_id, coalesce(thread_id, 0)), not a
        # read of every subscription of a regular who follows hundreds of threads.
        "SELECT level FROM subscriptions WHERE address_id = ? AND "
        "coalesce(thread_id, 0) IN (?, 0) ORDER BY thread_id IS NULL LIMIT 1",
        (address_id, thread_id),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else Level(row[0])


async def explicit_level(
    conn: aiosqlite.Connection, address_id: int, thread_id: int | None
) -> Level | None:
    async with conn.execute(
        "SELECT level FROM subscriptions WHERE address_id = ? AND coalesce(thread_id, 0) = ?",
        (address_id, thread_id or 0),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else Level(row[0])


async def thread_subscribers(conn: aiosqlite.Connection, thread_id: int) -> list[int]:
    """Confirmed addresses whose effective level for the thread is 'thread'."""
    async with conn.execute(
        "SELECT s.address_id FROM subscriptions s JOIN addresses a ON a.id = s.address_id "
        "WHERE a.confirmed_at IS NOT NULL AND s.level = 'thread' AND ("
        " s.thread_id = ? OR (s.thread_id IS NULL AND NOT EXISTS ("
        "  SELECT 1 FROM subscriptions t WHERE t.address_id = s.address_id AND t.thread_id = ?)))",
        (thread_id, thread_id),
    ) as cur:
        return [int(row[0]) for row in await cur.fetchall()]


async def is_confirmed(conn: aiosqlite.Connection, address_id: int) -> bool:
    async with conn.execute(
        "SELECT confirmed_at IS NOT NULL FROM addresses WHERE id = ?", (address_id,)
    ) as cur:
        row = await cur.fetchone()
    return bool(row and row[0])


async def request(
    conn: aiosqlite.Connection, address_id: int, thread_id: int | None, level: Level, now: str
) -> None:
    """Remember a subscription asked for on the web, until the address is confirmed."""
    await conn.execute(
        "INSERT INTO subscription_requests (address_id, thread_id, level, created_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (address_id, thread_id) DO UPDATE SET "
        "level = excluded.level",
        (address_id, thread_id, level.value, now),
    )


async def requested_level(
    conn: aiosqlite.Connection, address_id: int, thread_id: int
) -> Level | None:
    """The level asked for on this thread and still waiting for confirmation."""
    async with conn.execute(
        "SELECT level FROM subscription_requests WHERE address_id = ? AND thread_id = ?",
        (address_id, thread_id),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else Level(row[0])


async def take_requests(
    conn: aiosqlite.Connection, address_id: int
) -> list[tuple[int | None, Level]]:
    """The subscriptions waiting for this address's confirmation; they are removed."""
    async with conn.execute(
        "DELETE FROM subscription_requests WHERE address_id = ? RETURNING thread_id, level",
        (address_id,),
    ) as cur:
        return [(row[0], Level(row[1])) for row in await cur.fetchall()]


async def confirm_address(conn: aiosqlite.Connection, address_id: int, now: str) -> bool:
    """Mark the address confirmed; True if it was not before."""
    cur = await conn.execute(
        "UPDATE addresses SET confirmed_at = ? WHERE id = ? AND confirmed_at IS NULL",
        (now, address_id),
    )
    return cur.rowcount > 0


async def mark_confirmation_sent(
    conn: aiosqlite.Connection, address_id: int, now: str, not_since: str
) -> bool:
    """Record that a confirmation email goes out now, unless one went out after ``not_since``.

    So nobody can flood an address with confirmation requests.
    """
    cur = await conn.execute(
        "UPDATE addresses SET confirmation_sent_at = ? WHERE id = ? AND "
        "(confirmation_sent_at IS NULL OR confirmation_sent_at < ?)",
        (now, address_id, not_since),
    )
    return cur.rowcount > 0


@dataclass(frozen=True)
class Pending:
    address_id: int
    comment_id: int
    why: str  # "reply" | "thread"


async def add_pending(
    conn: aiosqlite.Connection,
    pending: Pending,
    now: str,
    due_at: float,
    *,
    held: bool = False,
) -> bool:
    """Queue a notification for batching; the person's earliest due time is kept.
    ``held``: withdrawn from the start (:func:`restore_pending` sends it)."""
    async with conn.execute(
        "INSERT INTO pending_notifications (address_id, comment_id, why, created_at, due_at, "
        "withdrawn_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (address_id, comment_id) DO NOTHING RETURNING id",
        (pending.address_id, pending.comment_id, pending.why, now, due_at, now if held else None),
    ) as cur:
        return await cur.fetchone() is not None


async def due_addresses(conn: aiosqlite.Connection, now: float, limit: int = 100) -> list[int]:
    """Addresses whose oldest waiting notification is due.

    An address has one due exactly when its oldest is, so only the due rows are read
    (through the index on due_at), not every waiting one.
    """
    async with conn.execute(
        "SELECT address_id FROM pending_notifications INDEXED BY pending_by_due "
        "WHERE due_at <= ? AND withdrawn_at IS NULL "
        "GROUP BY address_id ORDER BY min(due_at) LIMIT ?",
        (now, limit),
    ) as cur:
        return [int(row[0]) for row in await cur.fetchall()]


async def next_due(conn: aiosqlite.Connection) -> float | None:
    async with conn.execute(
        "SELECT min(due_at) FROM pending_notifications WHERE withdrawn_at IS NULL"
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def pop_pending(conn: aiosqlite.Connection, address_id: int) -> list[Pending]:
    """Take every waiting notification of one address, oldest comment first."""
    async with conn.execute(
        "DELETE FROM pending_notifications WHERE address_id = ? AND withdrawn_at IS NULL "
        "RETURNING address_id, comment_id, why",
        (address_id,),
    ) as cur:
        rows = await cur.fetchall()
    return sorted(
        (Pending(int(r[0]), int(r[1]), str(r[2])) for r in rows), key=lambda p: p.comment_id
    )


# A comment and the replies under it, at any depth; with "approved", only those a reader
# sees under it (a rejected reply hides its own replies too). Bounded against a cycle.
_BELOW = (
    "WITH RECURSIVE below(id, depth) AS (SELECT id, 0 FROM comments WHERE id = ?"
    " UNION ALL SELECT c.id, b.depth + 1 FROM comments c JOIN below b ON c.parent_id = b.id"
    " WHERE b.depth < 10000{only}) SELECT id FROM below"
)


def below(*, approved: bool = False) -> str:
    """SQL for the ids of a comment (its one ``?``) and the replies under it, at any
    depth; ``approved``: only those a reader sees under it."""
    return _BELOW.format(only=" AND c.status = 'approved'" if approved else "")


async def withdraw_pending(conn: aiosqlite.Connection, comment_id: int, now: str) -> int:
    """Hold back the waiting notifications of a comment that was unpublished, and of the
    replies under it: they are off the page with it, and theirs quote it (an undo of
    an approval let the answer's notification quote the unpublished comment)."""
    cur = await conn.execute(
        "UPDATE pending_notifications SET withdrawn_at = ? "  # noqa: S608 - constant
        f"WHERE comment_id IN ({_BELOW.format(only='')}) AND withdrawn_at IS NULL",
        (now, comment_id),
    )
    return cur.rowcount


async def restore_pending(conn: aiosqlite.Connection, comment_id: int, due_at: float) -> int:
    """Send the withdrawn notifications of a comment published again, and of the
    published replies shown under it again, at ``due_at``."""
    only = " AND c.status = 'approved'"
    cur = await conn.execute(
        "UPDATE pending_notifications SET withdrawn_at = NULL, due_at = ? "  # noqa: S608
        f"WHERE comment_id IN ({_BELOW.format(only=only)}) AND withdrawn_at IS NOT NULL",
        (due_at, comment_id),
    )
    return cur.rowcount
