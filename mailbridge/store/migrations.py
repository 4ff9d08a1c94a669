"""Named, ordered schema migrations, each applied in one transaction with its record.

The registry is the ``sql/`` directory: ``NNNN_name.sql`` files applied in name
order. A migration and its row in ``schema_migrations`` commit together, so a
crash can never leave a half-applied step or an unrecorded one.

A migration whose first line is ``-- mailbridge: foreign_keys off`` rebuilds tables
that others reference (SQLite's 12-step procedure for schema changes ALTER TABLE
cannot make, https://www.sqlite.org/lang_altertable.html#otheralter): dropping such a
table with foreign keys on would delete or refuse the rows that reference it. The
runner turns ``PRAGMA foreign_keys`` off before its transaction (the pragma does
nothing inside one), runs ``PRAGMA foreign_key_check`` before the commit (a violation
rolls the whole step back), and turns foreign keys on again after it, whatever came.
The step is still one transaction: a crash mid-way leaves the old schema.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import aiosqlite

from mailbridge.errors import MigrationFailed

__all__ = [
    "FOREIGN_KEYS_OFF",
    "Migration",
    "applied",
    "apply_pending",
    "migrations",
    "pending",
    "split_statements",
]


FOREIGN_KEYS_OFF = "-- mailbridge: foreign_keys off"


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def foreign_keys_off(self) -> bool:
        """Whether the step must run with foreign keys off (see the module doc)."""
        return self.sql.split("\n", 1)[0].strip() == FOREIGN_KEYS_OFF


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


async def apply_pending(conn: aiosqlite.Connection, where: object = "the database") -> list[str]:
    """Apply what is missing, each step in its own transaction; return the names applied.

    :class:`MigrationFailed` names the step that failed and why (``where``: the database)."""
    names: list[str] = []
    async with conn.execute("PRAGMA foreign_keys") as cur:
        row = await cur.fetchone()
    enforced = "ON" if row is not None and row[0] else "OFF"
    for migration in await pending(conn):
        if migration.foreign_keys_off:
            await conn.execute("PRAGMA foreign_keys = OFF")
        try:
            if await _apply(conn, migration):
                names.append(migration.name)
        except sqlite3.Error as exc:
            raise MigrationFailed(where, migration.name, str(exc)) from exc
        finally:
            if migration.foreign_keys_off:
                await conn.execute(f"PRAGMA foreign_keys = {enforced}")
    return names


async def _apply(conn: aiosqlite.Connection, migration: Migration) -> bool:
    """Apply one migration with its record in one transaction; False if another
    process applied it first."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-check inside the write lock: another process may have just applied it.
        async with conn.execute(
            "SELECT 1 FROM schema_migrations WHERE name = ?", (migration.name,)
        ) as cur:
            if await cur.fetchone() is not None:
                await conn.execute("ROLLBACK")
                return False
        for statement in split_statements(migration.sql):
            await conn.execute(statement)
        if migration.foreign_keys_off:
            # Nothing checked the references while the tables were rebuilt.
            async with conn.execute("PRAGMA foreign_key_check") as cur:
                broken = list(await cur.fetchall())
            if broken:
                raise sqlite3.IntegrityError(
                    f"{migration.name}: foreign keys broken: {[tuple(r) for r in broken[:5]]}"
                )
        await conn.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
            (migration.name, datetime.now(UTC).isoformat(timespec="seconds")),
        )
        await conn.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (a full disk, an I/O error): then this
        # ROLLBACK fails, and its "no transaction is active" must not hide the cause.
        with contextlib.suppress(sqlite3.Error):
            await conn.execute("ROLLBACK")
        raise
    return True
