"""The copy's bookkeeping, in the destination itself: where each table stands.

``migrate_store_source`` (one row): which database this is a copy of, when the copy
started and when it was last verified. ``migrate_store_progress`` (one row per
table): the key of the last row copied, how many rows are in, and whether the table
is done. A batch of rows and its progress row commit in one transaction, so after an
interruption the destination holds exactly the rows the bookkeeping says, and the
next run continues after ``last_key``.

Both tables stay after the copy (the daemon ignores them): running the command again
verifies again instead of copying twice. The same SQL runs on both engines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from mailbridge.migrate_store.side import Key, Side

__all__ = ["Copied", "Origin", "TableProgress", "create", "load", "mark_verified", "origin", "save"]

Copied = dict[str, "TableProgress"]

_CREATE = (
    "CREATE TABLE IF NOT EXISTS migrate_store_source ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " source TEXT NOT NULL,"
    " started_at TEXT NOT NULL,"
    " verified_at TEXT)",
    "CREATE TABLE IF NOT EXISTS migrate_store_progress ("
    " table_name TEXT PRIMARY KEY,"
    " last_key TEXT,"
    " rows_copied BIGINT NOT NULL DEFAULT 0,"
    " done BIGINT NOT NULL DEFAULT 0)",
)


@dataclass(frozen=True)
class Origin:
    source: str
    started_at: str
    verified_at: str | None


@dataclass(frozen=True)
class TableProgress:
    last_key: Key | None
    rows: int
    done: bool


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def origin(side: Side) -> Origin | None:
    """Whose copy the destination is, or None when no copy was ever started in it."""
    if "migrate_store_source" not in side.table_columns():
        return None
    rows = side.query("SELECT source, started_at, verified_at FROM migrate_store_source")
    if not rows:
        return None
    source, started_at, verified_at = rows[0]
    return Origin(source, started_at, verified_at)


def create(side: Side, source: str) -> None:
    """Inside the transaction that starts a copy: the bookkeeping, naming ``source``."""
    for statement in _CREATE:
        side.query(statement)
    side.query(
        "INSERT INTO migrate_store_source (id, source, started_at) VALUES (1, ?, ?)",
        (source, _now()),
    )


def load(side: Side) -> Copied:
    rows = side.query("SELECT table_name, last_key, rows_copied, done FROM migrate_store_progress")
    return {
        name: TableProgress(json.loads(key) if key is not None else None, int(count), bool(done))
        for name, key, count, done in rows
    }


def save(side: Side, table: str, progress: TableProgress) -> None:
    """Inside the batch's transaction."""
    key = json.dumps(progress.last_key) if progress.last_key is not None else None
    side.query(
        "INSERT INTO migrate_store_progress (table_name, last_key, rows_copied, done) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (table_name) DO UPDATE SET "
        "last_key = excluded.last_key, rows_copied = excluded.rows_copied, done = excluded.done",
        (table, key, progress.rows, int(progress.done)),
    )


def mark_verified(side: Side) -> None:
    with side.transaction():
        side.query("UPDATE migrate_store_source SET verified_at = ?", (_now(),))
