"""Hourly per-client limits counted in the database, shared by every daemon on it.

One row per allowed request, kept for the limit's window; a refused request leaves
no row (as the in-memory limiter, mailbridge.web.guard). On PostgreSQL one client's
hits are counted under a transaction-scoped advisory lock, so two daemons counting
the same client at once cannot both let the last request through.
"""

from __future__ import annotations

import math

import aiosqlite

from mailbridge.store.engine import dialect_of

__all__ = ["hit", "purge"]


async def hit(
    conn: aiosqlite.Connection, scope: str, client: str, now: float, limit: int, window: float
) -> int | None:
    """Record one request; None if allowed, else seconds until the next one is."""
    if dialect_of(conn) == "postgresql":
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (scope + client,)
        )
    await conn.execute(
        "DELETE FROM rate_hits WHERE scope = ? AND client = ? AND at <= ?",
        (scope, client, now - window),
    )
    async with conn.execute(
        "SELECT count(*), min(at) FROM rate_hits WHERE scope = ? AND client = ?",
        (scope, client),
    ) as cur:
        row = await cur.fetchone()
    count, first = (0, None) if row is None else (int(row[0]), row[1])
    if count >= limit:
        return max(1, math.ceil((now if first is None else float(first)) + window - now))
    await conn.execute(
        "INSERT INTO rate_hits (scope, client, at) VALUES (?, ?, ?)", (scope, client, now)
    )
    return None


async def purge(conn: aiosqlite.Connection, before: float) -> int:
    """Forget hits older than every window (housekeeping)."""
    cur = await conn.execute("DELETE FROM rate_hits WHERE at <= ?", (before,))
    return int(cur.rowcount)
