"""Tasks failing at each try (the mailbox, the periodic jobs), for `mailbridge status`
(sql/0034): the daemon's own gauges of /metrics are gone with it, and `status` reads
the database alone, with the daemon stopped too."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

__all__ = ["Failing", "cleared", "failed", "failing", "keep_only"]


@dataclass(frozen=True)
class Failing:
    name: str
    failures: int
    since: str
    last_at: str
    last_error: str


async def failed(conn: aiosqlite.Connection, name: str, error: str, at: str) -> None:
    """One more try of ``name`` failed at ``at``, saying ``error``."""
    await conn.execute(
        "INSERT INTO failing_tasks (name, failures, since, last_at, last_error) "
        "VALUES (?, 1, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "failures = failing_tasks.failures + 1, last_at = excluded.last_at, "
        "last_error = excluded.last_error",
        (name, at, at, error),
    )


async def cleared(conn: aiosqlite.Connection, name: str) -> None:
    """A try of ``name`` succeeded: it fails no more."""
    await conn.execute("DELETE FROM failing_tasks WHERE name = ?", (name,))


async def keep_only(conn: aiosqlite.Connection, names: set[str]) -> None:
    """Forget the tasks not in ``names``: a daemon that does not run one (IMAP or the
    spam report turned off since it failed) never tries it again to clear its row."""
    marks = ", ".join("?" for _ in names) or "''"
    await conn.execute(f"DELETE FROM failing_tasks WHERE name NOT IN ({marks})", tuple(names))  # noqa: S608 - placeholders


async def failing(conn: aiosqlite.Connection) -> list[Failing]:
    async with conn.execute(
        "SELECT name, failures, since, last_at, last_error FROM failing_tasks ORDER BY name"
    ) as cur:
        return [
            Failing(str(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]))
            for r in await cur.fetchall()
        ]
