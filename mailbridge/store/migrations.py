"""Named, ordered schema migrations, each applied in one transaction with its record.

The registry is the ``sql/`` directory: ``NNNN_name.sql`` files applied in name
order. A migration and its row in ``schema_migrations`` commit together, so a
crash can never leave a half-applied step or an unrecorded one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import aiosqlite

__all__ = ["Migration", "applied", "apply_pending", "migrations", "pending", "split_statements"]


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements (sqlite's executescript would COMMIT on its own)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in current.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {current!r}")
    return statements


def migrations() -> list[Migration]:
    """Every migration shipped with this version, in order."""
    folder = resources.files("mailbridge.store").joinpath("sql")
    found = [
        Migration(entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found, key=lambda m: m.name)


async def _ensure_table(conn: aiosqlite.Connection) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )


async def applied(conn: aiosqlite.Connection) -> list[str]:
    await _ensure_table(conn)
    async with conn.execute("SELECT name FROM schema_migrations ORDER BY name") as cur:
        return [row[0] for row in await cur.fetchall()]


async def pending(conn: aiosqlite.Connection) -> list[Migration]:
    done = set(await applied(conn))
    return [m for m in migrations() if m.name not in done]


async def apply_pending(conn: aiosqlite.Connection) -> list[str]:
    """Apply what is missing, each step in its own transaction; return the names applied."""
    names: list[str] = []
    for migration in await pending(conn):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check inside the write lock: another process may have just applied it.
            async with conn.execute(
                "SELECT 1 FROM schema_migrations WHERE name = ?", (migration.name,)
            ) as cur:
                if await cur.fetchone() is not None:
                    await conn.execute("ROLLBACK")
                    continue
            for statement in split_statements(migration.sql):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        names.append(migration.name)
    return names
