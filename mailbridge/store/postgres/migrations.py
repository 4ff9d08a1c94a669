"""PostgreSQL's migrations: the SQLite ones' names, PostgreSQL's SQL, one lock for all.

The files live in ``mailbridge/store/sql_postgresql/``, one per file of ``sql/`` with the
same name, so ``schema_migrations`` reads the same on both engines (and a copy between
them knows where it stands). Each is applied with its record in one transaction, like
on SQLite; all of them under a session advisory lock, so that two daemons starting
together against one database apply each step once (the second waits, then finds
nothing pending) instead of failing half-way on a table the first just created.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from importlib import resources
from importlib.abc import Traversable

import psycopg

from mailbridge.errors import MigrationFailed
from mailbridge.store.migrations import Migration
from mailbridge.store.postgres.connection import PgConnection

__all__ = ["LOCK_KEY", "apply_pending", "migrations"]

log = logging.getLogger(__name__)

# pg_advisory_lock's key for "migrating mailbridge's schema": any constant that no
# other application on the same database uses; this is b"mbridge0" as a bigint.
LOCK_KEY = int.from_bytes(b"mbridge0", "big") - 2**63


def _folder() -> Traversable:
    return resources.files("mailbridge.store").joinpath("sql_postgresql")


def migrations(folder: Traversable | None = None) -> list[Migration]:
    """Every PostgreSQL migration in ``folder`` (default: the shipped ones), in order."""
    folder = folder or _folder()
    if not folder.is_dir():
        return []
    found = [
        Migration(entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found, key=lambda m: m.name)


async def _lock(conn: PgConnection) -> None:
    """Take the migrations' lock, waiting as long as another process holds it."""
    [(got,)] = await conn.execute_fetchall("SELECT pg_try_advisory_lock(?)", (LOCK_KEY,))
    if got:
        return
    log.info("another mailbridge is migrating the database: waiting for it to finish")
    # The writer's lock_timeout (database_busy_timeout_seconds) would end the wait
    # while the other one still migrates, and this start with "lock timeout"; it
    # ends when the other commits or its session ends (killed: the lock goes with it).
    [(timeout,)] = await conn.execute_fetchall("SELECT current_setting('lock_timeout')")
    await conn.execute("SET lock_timeout = 0")
    try:
        await conn.execute("SELECT pg_advisory_lock(?)", (LOCK_KEY,))
    finally:
        await conn.execute("SELECT set_config('lock_timeout', ?, false)", (timeout,))


async def apply_pending(
    conn: PgConnection, folder: Traversable | None = None, where: object = "the database"
) -> list[str]:
    """Apply what is missing, each step in its own transaction; return the names applied.

    :class:`MigrationFailed` names the step that failed and why (``where``: the
    database, its URL without the password)."""
    await _lock(conn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        async with conn.execute("SELECT name FROM schema_migrations") as cur:
            done = {row[0] for row in await cur.fetchall()}
        names: list[str] = []
        for migration in migrations(folder):
            if migration.name in done:
                continue
            await conn.execute("BEGIN")
            try:
                # A whole file in one call: PostgreSQL runs a multi-statement script
                # (function bodies with ; inside $$ included) when it has no parameters.
                await conn.raw.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (migration.name, datetime.now(UTC).isoformat(timespec="seconds")),
                )
                await conn.execute("COMMIT")
            except BaseException as exc:
                await conn.execute("ROLLBACK")
                if isinstance(exc, psycopg.Error):
                    raise MigrationFailed(where, migration.name, str(exc)) from exc
                raise
            names.append(migration.name)
        return names
    finally:
        await conn.execute("SELECT pg_advisory_unlock(?)", (LOCK_KEY,))
