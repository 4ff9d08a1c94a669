"""Periodic jobs' due times, and the facts every daemon on one database shares.

Several daemons may share a database (issue 16). A periodic job runs in the daemon
whose :func:`claim` moves the job's due time forward: a conditional UPDATE, so of
the daemons that find it due at once exactly one changes the row (on PostgreSQL the
others wait for its transaction and then see the new due time; SQLite has one
writer). The claim and the job's work commit together: a job that fails leaves its
due time where it was, for the next try.
"""

from __future__ import annotations

import aiosqlite

__all__ = ["agree", "claim", "due_at", "hold", "let_go", "schedule"]

# A daemon that wakes this much before the due time (timer granularity, clocks a
# little apart between hosts) still takes the run instead of sleeping again.
EARLY_SECONDS = 0.05


async def schedule(conn: aiosqlite.Connection, name: str, first_at: float) -> None:
    """Give the job a due time unless it has one (another daemon, an earlier run)."""
    await conn.execute(
        "INSERT INTO periodic_jobs (name, due_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, first_at),
    )


async def due_at(conn: aiosqlite.Connection, name: str) -> float | None:
    async with conn.execute("SELECT due_at FROM periodic_jobs WHERE name = ?", (name,)) as cur:
        row = await cur.fetchone()
    return None if row is None else float(row[0])


async def claim(
    conn: aiosqlite.Connection, name: str, owner: str, now: float, every: float
) -> bool:
    """Take this run of the job if it is due; True when this caller runs it.

    Due means its due time has come, or its last run is ``every`` ago (a shorter
    interval than the one the due time was set with, after a settings change), or its
    due time is more than two intervals ahead: only a clock set back since can have
    set it (a host booted a year ahead, then put right by NTP), and waiting for it
    would stop the job until then. A job that never ran waits for its first due time.
    """
    cur = await conn.execute(
        "UPDATE periodic_jobs SET due_at = ?, last_by = ?, last_at = ? "
        "WHERE name = ? AND (due_at <= ? OR last_at <= ? OR due_at > ?)",
        (
            now + every,
            owner,
            now,
            name,
            now + EARLY_SECONDS,
            now - every + EARLY_SECONDS,
            now + 2 * every,
        ),
    )
    return bool(cur.rowcount == 1)


async def agree(conn: aiosqlite.Connection, name: str, value: str) -> str:
    """Record ``value`` for ``name`` unless one is recorded; return the recorded one.

    The first daemon's value stands; a later one compares its own with what this
    returns (for example the instance secret's fingerprint).
    """
    await conn.execute(
        "INSERT INTO instance_facts (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, value),
    )
    async with conn.execute("SELECT value FROM instance_facts WHERE name = ?", (name,)) as cur:
        row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def hold(conn: aiosqlite.Connection, name: str, owner: str, now: float, until: float) -> bool:
    """Take or keep the lead of a long-running job until ``until``; True if held.

    The lead is free when nobody holds it, when its holder's time ran out (a daemon
    killed), or when the caller already holds it (a renewal).
    """
    cur = await conn.execute(
        "INSERT INTO periodic_jobs (name, due_at, last_by, last_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET due_at = excluded.due_at, "
        "last_by = excluded.last_by, last_at = excluded.last_at "
        "WHERE periodic_jobs.last_by = excluded.last_by OR periodic_jobs.due_at <= ?",
        (name, until, owner, now, now),
    )
    return bool(cur.rowcount == 1)


async def let_go(conn: aiosqlite.Connection, name: str, owner: str) -> None:
    """Give the lead up at a clean stop, so another daemon takes it at once."""
    await conn.execute(
        "UPDATE periodic_jobs SET due_at = 0 WHERE name = ? AND last_by = ?", (name, owner)
    )
