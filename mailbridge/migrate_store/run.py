"""The whole operation: checks, the destination's schema, the copy, the verification.

Refused before anything is written (:class:`MigrateRefused`, one line): both ends on
the same engine; the source missing, open in another process (the daemon must be
stopped), or at another schema version than this mailbridge's; the destination
holding another application's tables, or mailbridge rows that are not an unfinished
copy of this very source. Otherwise the destination is migrated to this version's
schema (by the store's own code, as a daemon starting on it would), and the copy
starts, or continues where the bookkeeping says it stopped.

From then until the verification is done the source is frozen (:meth:`Side.frozen`):
a daemon started on it by mistake cannot change a row behind the copy; its writes
wait, then fail as "try again later" (SMTP 451, web 503), and nothing is lost.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from mailbridge.migrate_store import progress
from mailbridge.migrate_store.copier import AfterBatch, Limits, copy_table
from mailbridge.migrate_store.endpoints import Endpoint, MigrateRefused, scrubbed
from mailbridge.migrate_store.schema import SEEDED, Table, check_same, read_tables
from mailbridge.migrate_store.side import Side, quoted
from mailbridge.migrate_store.sqlite_side import SqliteSide, held_by_another_process
from mailbridge.migrate_store.verify import TableCheck, verify

__all__ = ["Outcome", "migrate_store"]

Say = Callable[[str], None]


@dataclass
class Outcome:
    checks: list[TableCheck] = field(default_factory=list)
    resumed: bool = False

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def _known_migrations(engine: str) -> list[str]:
    """This version's migrations for ``engine`` (the same names on both, by design)."""
    if engine == "postgresql":
        from mailbridge.store.postgres.migrations import migrations as pg_migrations

        return [m.name for m in pg_migrations()]
    from mailbridge.store.migrations import migrations

    return [m.name for m in migrations()]


def _open(end: Endpoint) -> Side:
    if end.engine == "sqlite":
        return SqliteSide(end.path)
    # Imported here: a SQLite install need not have psycopg.
    try:
        from mailbridge.migrate_store.pg_side import PgSide
    except ImportError:
        raise MigrateRefused(
            "PostgreSQL needs psycopg: pip install 'mailbridge[postgresql]'"
        ) from None
    return PgSide(end.location)


def _check_schema(side: Side, what: str) -> None:
    known = _known_migrations(side.engine)
    applied = side.applied_migrations()
    if applied == known:
        return
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise MigrateRefused(
            f"{what} has migrations this mailbridge does not know ({', '.join(unknown)}): "
            "copy it with the version that applied them"
        )
    missing = [name for name in known if name not in applied]
    raise MigrateRefused(
        f"{what} lacks this version's migrations {missing[0]}..{missing[-1]}: run any "
        "mailbridge command on it once (e.g. mailbridge status), which applies them, "
        "then copy"
    )


def _check_source(source: Endpoint) -> Side:
    if source.engine == "sqlite":
        if not source.path.exists():
            raise MigrateRefused(f"no database at {source.path} (is --data-dir right?)")
        if held_by_another_process(source.path):
            raise MigrateRefused(
                f"{source.path} is open in another process: stop the daemon (and any "
                "other mailbridge command) before copying"
            )
    side = _open(source)
    try:
        others = side.other_users()
        if others:
            raise MigrateRefused(
                f"{source.shown} has other sessions of the same user ({others}): stop "
                "the daemon (and any other mailbridge command) before copying"
            )
        _check_schema(side, f"the source {source.shown}")
    except BaseException:
        side.close()
        raise
    return side


def _not_someone_elses(destination: Endpoint) -> None:
    """Refuse a destination holding tables but no mailbridge schema: another
    application's database is not to get mailbridge's tables mixed in."""
    if destination.engine == "sqlite" and not destination.path.exists():
        return
    side = _open(destination)
    try:
        tables = side.table_columns()
        if tables and "schema_migrations" not in tables:
            raise MigrateRefused(
                f"{destination.shown} holds tables that are not mailbridge's "
                f"({', '.join(sorted(tables)[:3])}...): copy into a new, empty database"
            )
    finally:
        side.close()


async def _migrate(destination: Endpoint) -> None:
    """The destination at this version's schema, by the store's own code."""
    if destination.engine == "sqlite":
        from mailbridge.store import Store

        store = await Store.open(destination.path)
        await store.close()
        return
    from mailbridge.store.postgres.store import PgStore, StoreUnreachable

    try:
        pg = await PgStore.open(destination.location)
    except StoreUnreachable as exc:
        raise MigrateRefused(scrubbed(str(exc), destination.location)) from None
    await pg.close()


def _tables(source: Side, destination: Side) -> list[Table]:
    lite, other = (source, destination) if source.engine == "sqlite" else (destination, source)
    assert isinstance(lite, SqliteSide)
    tables = read_tables(lite.conn)
    check_same(tables, other.table_columns(), "PostgreSQL")
    return tables


def _start_or_resume(
    source: Endpoint, destination: Side, shown: str, tables: list[Table], say: Say
) -> bool:
    """True when continuing a copy of ``source`` into ``destination``."""
    origin = progress.origin(destination)
    if origin is not None:
        if origin.source != source.shown:
            raise MigrateRefused(
                f"{shown} holds a copy of {origin.source} (started {origin.started_at}), "
                f"not of {source.shown}: copy into a new, empty database"
            )
        if origin.verified_at:
            say(f"Copied before (verified {origin.verified_at}); checking again.")
        else:
            say(f"Continuing the copy started {origin.started_at}.")
        return True
    for table in tables:
        if table.name in SEEDED:
            continue
        if destination.query(f"SELECT 1 FROM {quoted(table.name)} LIMIT 1"):  # noqa: S608 (quoted names from the schema)
            raise MigrateRefused(
                f"{shown} is not empty (table {table.name} has rows) and holds no unfinished "
                "copy of this source: copy into a new, empty database"
            )
    with destination.transaction():
        progress.create(destination, source.shown)
        for name in sorted(SEEDED):
            destination.query(f"DELETE FROM {quoted(name)}")  # the source's rows replace them  # noqa: S608 (quoted names from the schema)
    return False


def _copy_and_verify(
    source: Endpoint,
    src: Side,
    destination: Endpoint,
    dst: Side,
    tables: list[Table],
    limits: Limits,
    after_batch: AfterBatch | None,
    say: Say,
) -> Outcome:
    outcome = Outcome()
    outcome.resumed = _start_or_resume(source, dst, destination.shown, tables, say)
    done = progress.load(dst)
    say(f"Copying {source.shown} to {destination.shown}:")
    for table in tables:
        before = done.get(table.name)
        result = copy_table(src, dst, table, before, limits, after_batch)
        resumed = ""
        if before is not None and before.rows and not before.done:
            resumed = f" (continued after {before.rows})"
        say(f"  {table.name:<26} {result.rows:>10} rows{resumed}")
    dst.after_copy(tables, src.ids_given(tables))
    outcome.checks = verify(src, dst, tables)
    if outcome.ok:
        progress.mark_verified(dst)
    return outcome


def migrate_store(
    source: Endpoint,
    destination: Endpoint,
    *,
    limits: Limits | None = None,
    after_batch: AfterBatch | None = None,
    say: Say = print,
) -> Outcome:
    """Copy ``source`` into ``destination`` and verify (see the module doc).

    ``after_batch`` is called after each committed batch (tests interrupt the copy
    there); ``say`` gets each line of progress. The result holds the verification.
    """
    limits = limits or Limits()
    if source.engine == destination.engine:
        hint = "mailbridge backup" if source.engine == "sqlite" else "pg_dump and pg_restore"
        raise MigrateRefused(
            f"the source and --to are both {source.engine}: migrate-store copies between "
            f"SQLite and PostgreSQL; for a copy on the same engine use {hint}"
        )
    try:
        return _migrate_store(source, destination, limits, after_batch, say)
    except sqlite3.Error as exc:
        # A file that is not a database, a disk that filled up, an I/O error.
        lite = source if source.engine == "sqlite" else destination
        raise MigrateRefused(f"SQLite ({lite.path}): {exc}") from exc
    except Exception as exc:
        if not type(exc).__module__.startswith("psycopg"):
            raise
        # The server went away, a statement failed: one line, never the password.
        pg = source if source.engine == "postgresql" else destination
        raise MigrateRefused(f"PostgreSQL ({pg.shown}): {scrubbed(str(exc), pg.location)}") from exc


def _migrate_store(
    source: Endpoint,
    destination: Endpoint,
    limits: Limits,
    after_batch: AfterBatch | None,
    say: Say,
) -> Outcome:
    src = _check_source(source)
    try:
        _not_someone_elses(destination)
        asyncio.run(_migrate(destination))
        dst = _open(destination)
        try:
            _check_schema(dst, f"the destination {destination.shown}")
            tables = _tables(src, dst)
            with src.frozen(tables):
                return _copy_and_verify(
                    source, src, destination, dst, tables, limits, after_batch, say
                )
        finally:
            dst.close()
    finally:
        src.close()
