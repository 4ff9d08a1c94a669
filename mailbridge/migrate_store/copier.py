"""Copying one table, batch after batch, each batch committed with its progress row.

A batch is at most ``batch_rows`` rows and about ``batch_bytes`` bytes (a table of
raw messages fills a batch by size long before its row count), read in key order
after the last key copied and written as they are read: memory holds a row or a few
hundred, never a batch. The destination's triggers on the table are off while a
batch goes in (the rows are copied as they are; a trigger would change other tables,
e.g. bump a thread's version for each comment copied, or queue WordPress pushes).

A row that refers to a row of its own table not copied yet (a reply whose parent has
a higher id, which an import can make) goes in with that column empty, and the column
is filled in once the whole table is in: the destination's foreign keys hold after
every commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mailbridge.migrate_store.endpoints import MigrateRefused
from mailbridge.migrate_store.progress import TableProgress, save
from mailbridge.migrate_store.schema import Table
from mailbridge.migrate_store.side import Key, Side, quoted

__all__ = ["AfterBatch", "Limits", "copy_table"]

# Called after each committed batch with the table's name and the rows now in: where
# a test interrupts a copy, and where the command reports progress.
AfterBatch = Callable[[str, int], None]


@dataclass(frozen=True)
class Limits:
    batch_rows: int = 5000
    batch_bytes: int = 32 * 1024 * 1024


def _size(value: object) -> int:
    if isinstance(value, (bytes, str)):
        return len(value)
    return 8


class _Batch:
    """Passes rows through to the destination, noting the last key, how many, and
    stopping at the batch's size."""

    def __init__(self, table: Table, limits: Limits):
        self.table = table
        self.limits = limits
        self.rows = 0
        self.last_key: Key | None = None
        self._key = [table.index(c) for c in table.key]
        self._self_refs = [table.index(c) for c in table.self_refs]

    def take(self, rows: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        size = 0
        for row in rows:
            self.rows += 1
            self.last_key = [row[i] for i in self._key]
            size += sum(_size(v) for v in row)
            if self._self_refs:
                row = self._without_forward_refs(row)
            yield row
            if self.rows >= self.limits.batch_rows or size >= self.limits.batch_bytes:
                return

    def _without_forward_refs(self, row: Sequence[Any]) -> Sequence[Any]:
        own = row[self._key[0]]
        if not any(row[i] is not None and row[i] >= own for i in self._self_refs):
            return row
        out = list(row)
        for i in self._self_refs:
            if out[i] is not None and out[i] >= own:
                out[i] = None  # filled in by _fix_forward_refs
        return out


def copy_table(
    source: Side,
    destination: Side,
    table: Table,
    start: TableProgress | None,
    limits: Limits,
    after_batch: AfterBatch | None = None,
) -> TableProgress:
    """Copy what is left of ``table`` after ``start``; the final progress (done)."""
    progress = start or TableProgress(None, 0, False)
    if progress.done:
        return progress
    while True:
        batch = _Batch(table, limits)
        rows = source.rows(table, progress.last_key, limits.batch_rows)
        try:
            with destination.transaction():
                destination.triggers_off(table)
                destination.insert(table, batch.take(rows))
                destination.triggers_on(table)
                if batch.rows:
                    progress = TableProgress(batch.last_key, progress.rows + batch.rows, False)
                    save(destination, table.name, progress)
        except MigrateRefused:
            raise
        except Exception as exc:
            where = f" after key {progress.last_key}" if progress.last_key else ""
            raise MigrateRefused(
                f"copying {table.name}{where} failed: {type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            ) from exc
        finally:
            rows.close()
        if not batch.rows:
            break
        if after_batch is not None:
            after_batch(table.name, progress.rows)
    for column in table.self_refs:
        _fix_forward_refs(source, destination, table, column, limits)
    done = TableProgress(progress.last_key, progress.rows, True)
    with destination.transaction():
        save(destination, table.name, done)
    return done


def _fix_forward_refs(
    source: Side, destination: Side, table: Table, column: str, limits: Limits
) -> None:
    """Set ``column`` where the copy left it empty (see the module doc); idempotent."""
    key = quoted(table.key[0])
    col = quoted(column)
    after = None
    while True:
        sql = f"SELECT {key}, {col} FROM {quoted(table.name)} WHERE {col} >= {key}"  # noqa: S608 (quoted names from the schema)
        parameters: list[Any] = []
        if after is not None:
            sql += f" AND {key} > ?"
            parameters.append(after)
        sql += f" ORDER BY {key} LIMIT {limits.batch_rows}"
        found = source.query(sql, parameters)
        if not found:
            return
        with destination.transaction():
            destination.triggers_off(table)
            destination.update_many(
                f"UPDATE {quoted(table.name)} SET {col} = ? WHERE {key} = ?",  # noqa: S608 (quoted names from the schema)
                [(value, own) for own, value in found],
            )
            destination.triggers_on(table)
        after = found[-1][0]
