"""A SQLite end of a copy: a database file, read and written with sqlite3.

Keys are ordered by their bytes (``COLLATE BINARY``, also for the ``NOCASE``
columns), which is PostgreSQL's ``COLLATE "C"`` on the other end: both read a table
in the same order, so the batches and the checksums line up.

Another process with the database open (the daemon, or any command) is seen from
the shared-memory file beside a WAL database: each connection holds a read lock on
its byte 128 (SQLite's "DMS" lock) while open, so a write lock there cannot be had.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from mailbridge.migrate_store.endpoints import MigrateRefused
from mailbridge.migrate_store.schema import Table
from mailbridge.migrate_store.side import Key, page_query, quoted

__all__ = ["SqliteSide", "held_by_another_process"]

_BUSY_SECONDS = 5.0  # how long to wait for another process's write to end
_DMS_BYTE = 128  # SQLite's os_unix.c: UNIX_SHM_BASE (120) + SQLITE_SHM_NLOCK (8)


def held_by_another_process(database: Path) -> bool:
    """Whether another process has the WAL database ``database`` open.

    Call before this process opens it: POSIX locks belong to the process, and closing
    this probe's descriptor would drop the locks of a connection of our own.
    """
    shm = database.with_name(database.name + "-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except OSError:
        return False  # no connection open (SQLite removes it on the last close)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _DMS_BYTE)
        except OSError as exc:
            return exc.errno in (errno.EACCES, errno.EAGAIN)
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _DMS_BYTE)
        return False
    finally:
        os.close(fd)


def _order(table: Table) -> list[str]:
    return [
        quoted(c) + (" COLLATE BINARY" if text else "")
        for c, text in zip(table.key, table.text_key, strict=True)
    ]


class SqliteSide:
    engine: Literal["sqlite"] = "sqlite"

    def __init__(self, path: Path):
        self.path = path
        # isolation_level=None: BEGIN and COMMIT are ours (transaction()).
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_SECONDS)
        self.conn.execute("PRAGMA foreign_keys = ON")
        # WAL (set by the store) with NORMAL: a batch and its bookkeeping row commit
        # together, so a crash loses whole batches at most, which the resume redoes.
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self._triggers: dict[str, list[tuple[str, str]]] = {}

    def applied_migrations(self) -> list[str]:
        if not self._has("schema_migrations"):
            return []
        rows = self.conn.execute("SELECT name FROM schema_migrations ORDER BY name")
        return [row[0] for row in rows]

    def _has(self, table: str) -> bool:
        found = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        return found is not None

    def table_columns(self) -> dict[str, tuple[str, ...]]:
        names = [
            row[0]
            for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        return {
            name: tuple(r[1] for r in self.conn.execute(f"PRAGMA table_info({quoted(name)})"))
            for name in names
        }

    def rows(
        self, table: Table, after: Key | None, limit: int | None
    ) -> Generator[Sequence[Any], None, None]:
        sql, parameters = page_query(table, _order(table), after, limit, "?")
        cursor = self.conn.execute(sql, parameters)
        try:
            yield from cursor
        finally:
            cursor.close()

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return self.conn.execute(sql, parameters).fetchall()

    @contextmanager
    def frozen(self, tables: list[Table]) -> Iterator[None]:
        # The database's write lock, held while reading: one snapshot, no writer.
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise MigrateRefused(
                f"{self.path} is being written by another process ({exc}): stop the daemon"
            ) from None
        try:
            yield
        finally:
            self.conn.execute("ROLLBACK")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def insert(self, table: Table, rows: Iterable[Sequence[Any]]) -> None:
        names = ", ".join(map(quoted, table.columns))
        marks = ", ".join("?" for _ in table.columns)
        self.conn.executemany(f"INSERT INTO {quoted(table.name)} ({names}) VALUES ({marks})", rows)  # noqa: S608 (quoted names from the schema)

    def update_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def triggers_off(self, table: Table) -> None:
        # SQLite cannot switch a trigger off: dropped and created again in the same
        # transaction, so no commit ever sees the database without it.
        found = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
            (table.name,),
        ).fetchall()
        self._triggers[table.name] = [(name, sql) for name, sql in found]
        for name, _sql in found:
            self.conn.execute(f"DROP TRIGGER {quoted(name)}")

    def triggers_on(self, table: Table) -> None:
        for _name, sql in self._triggers.pop(table.name, []):
            self.conn.execute(sql)

    def ids_given(self, tables: list[Table]) -> dict[str, int]:
        names = {t.name for t in tables}
        return {str(name): int(seq) for name, seq in self._sequence() if name in names}

    def _sequence(self) -> list[Sequence[Any]]:
        found = self.query("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
        return self.query("SELECT name, seq FROM sqlite_sequence") if found else []

    def after_copy(self, tables: list[Table], given: dict[str, int]) -> None:
        # Copying rows with their ids moved sqlite_sequence to each AUTOINCREMENT
        # table's max(id) (sql/0027); the source may have given higher ids to rows
        # since deleted. Other tables take max(id) + 1 by themselves.
        autoincrement = {
            str(name)
            for name, sql in self.query("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            if "AUTOINCREMENT" in str(sql).upper()
        }
        with self.transaction():
            for table in tables:
                top = given.get(table.name, 0)
                if table.name not in autoincrement or top <= 0:
                    continue
                self.conn.execute("DELETE FROM sqlite_sequence WHERE name = ? AND seq < ?",
                                  (table.name, top))  # fmt: skip
                self.conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? "
                    "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                    (table.name, top, table.name),
                )
        self.conn.execute("PRAGMA optimize")

    def other_users(self) -> str | None:
        return None  # seen before opening: held_by_another_process

    def close(self) -> None:
        self.conn.close()
