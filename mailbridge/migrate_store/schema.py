"""Which tables are copied, their columns and keys, and in which order.

Read from the SQLite end's own catalogue (``PRAGMA table_info`` and
``foreign_key_list``): one end of every copy is SQLite, and both ends are at the same
schema version (checked first), so its foreign keys give the order, parents first,
that PostgreSQL's immediate constraints need. The PostgreSQL end must have the same
tables and columns (:func:`check_same`), else nothing is copied.

Not copied: ``schema_migrations`` (each end records its own migrations, compared
instead), this command's bookkeeping (``migrate_store_*``), and SQLite's internal
tables (``sqlite_*``: statistics). The schema has no derived or cache tables and no
virtual (FTS) tables; a virtual table found in a database is refused rather than
copied as rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from mailbridge.migrate_store.endpoints import MigrateRefused

__all__ = ["BOOKKEEPING_PREFIX", "NOT_COPIED", "SEEDED", "Table", "check_same", "read_tables"]

NOT_COPIED = frozenset({"schema_migrations"})
BOOKKEEPING_PREFIX = "migrate_store_"
# Tables that a fresh migration fills (sql/0014: the spam filter's two counters):
# they count as empty, and a new copy replaces their rows with the source's.
SEEDED = frozenset({"spam_training_docs"})


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    # Per key column: text (ordered by bytes on both engines) or not (integers).
    text_key: tuple[bool, ...]
    # Columns that refer to this table's own (single, integer) key: comments.parent_id.
    self_refs: tuple[str, ...]
    depends_on: tuple[str, ...]

    def index(self, column: str) -> int:
        return self.columns.index(column)


def is_copied(name: str) -> bool:
    return not (
        name in NOT_COPIED or name.startswith(BOOKKEEPING_PREFIX) or name.startswith("sqlite_")
    )


def read_tables(conn: sqlite3.Connection) -> list[Table]:
    """The copied tables of the SQLite database ``conn``, parents before children."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ).fetchall()
    tables: dict[str, Table] = {}
    for name, sql in rows:
        if not is_copied(name):
            continue
        if (sql or "").upper().startswith("CREATE VIRTUAL TABLE"):
            raise MigrateRefused(
                f"the SQLite database has a virtual table {name}, which this version's "
                "schema does not: it cannot be copied as rows"
            )
        tables[name] = _table(conn, name)
    return _ordered(tables)


def _table(conn: sqlite3.Connection, name: str) -> Table:
    info = conn.execute(f"PRAGMA table_info({_quoted(name)})").fetchall()
    columns = tuple(row[1] for row in info)
    keyed = sorted((row[5], row[1], (row[2] or "").upper()) for row in info if row[5] > 0)
    if not keyed:
        raise MigrateRefused(f"table {name} has no primary key: it cannot be copied in key order")
    key = tuple(column for _, column, _ in keyed)
    text_key = tuple("INT" not in declared for _, _, declared in keyed)
    depends: set[str] = set()
    self_refs: list[str] = []
    for fk in conn.execute(f"PRAGMA foreign_key_list({_quoted(name)})").fetchall():
        parent, column = fk[2], fk[3]
        if parent == name:
            self_refs.append(column)
        else:
            depends.add(parent)
    if self_refs and (len(key) != 1 or text_key[0]):
        raise MigrateRefused(f"table {name} refers to itself but has no integer key")
    return Table(name, columns, key, text_key, tuple(self_refs), tuple(sorted(depends)))


def _ordered(tables: dict[str, Table]) -> list[Table]:
    """Parents first (a topological order), by name among equals: always the same."""
    done: list[Table] = []
    placed: set[str] = set()
    left = dict(tables)
    while left:
        ready = sorted(
            name
            for name, table in left.items()
            if all(d in placed or d not in tables for d in table.depends_on)
        )
        if not ready:
            raise MigrateRefused(f"the foreign keys between {sorted(left)} form a cycle")
        for name in ready:
            done.append(left.pop(name))
            placed.add(name)
    return done


def check_same(tables: list[Table], other: dict[str, tuple[str, ...]], where: str) -> None:
    """Refuse unless ``other`` (table → columns, of the other end) has the same tables
    and columns as ``tables``."""
    mine = {t.name: set(t.columns) for t in tables}
    theirs = {name: set(columns) for name, columns in other.items() if is_copied(name)}
    if mine.keys() != theirs.keys():
        extra = sorted(theirs.keys() - mine.keys())
        missing = sorted(mine.keys() - theirs.keys())
        raise MigrateRefused(
            f"the two databases' tables differ (only in {where}: {extra or 'none'}; "
            f"missing there: {missing or 'none'})"
        )
    for name, columns in mine.items():
        if columns != theirs[name]:
            raise MigrateRefused(
                f"table {name} has other columns in {where}: "
                f"{sorted(theirs[name] ^ columns)} differ"
            )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
