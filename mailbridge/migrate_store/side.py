"""What the copy needs of one end, whichever engine it is (SQLite or PostgreSQL).

Synchronous on purpose: a copy is one connection reading and one writing, batch after
batch, with nothing else to do meanwhile; the daemon's asyncio store would add a
thread hop per statement and nothing else. Statements are written with ``?``
placeholders; the PostgreSQL end rewrites them.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

from mailbridge.migrate_store.schema import Table

__all__ = ["Key", "Side", "page_query", "quoted"]

# A row's primary key values, in key order (JSON in the bookkeeping).
Key = list[Any]


def quoted(name: str) -> str:
    """An identifier, quoted for both engines."""
    return '"' + name.replace('"', '""') + '"'


def page_query(
    table: Table, order: Sequence[str], after: Key | None, limit: int | None, mark: str
) -> tuple[str, list[Any]]:
    """The rows of ``table`` after the key ``after``, in key order (keyset paging):
    the same statement on both engines, with each engine's placeholder ``mark``."""
    sql = f"SELECT {', '.join(map(quoted, table.columns))} FROM {quoted(table.name)}"  # noqa: S608 (quoted names from the schema)
    parameters: list[Any] = []
    if after is not None:
        marks = ", ".join(mark for _ in after)
        sql += f" WHERE ({', '.join(order)}) > ({marks})"
        parameters.extend(after)
    sql += f" ORDER BY {', '.join(order)}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, parameters


class Side(Protocol):
    @property
    def engine(self) -> Literal["sqlite", "postgresql"]: ...

    def applied_migrations(self) -> list[str]: ...

    def table_columns(self) -> dict[str, tuple[str, ...]]:
        """Every table of the database and its columns."""
        ...

    def rows(
        self, table: Table, after: Key | None, limit: int | None
    ) -> Generator[Sequence[Any], None, None]:
        """``table``'s rows (its columns in ``table.columns`` order) in key order, after
        ``after`` if given, read lazily: memory holds a few rows, never the table."""
        ...

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Sequence[Any]]: ...

    def frozen(self, tables: list[Table]) -> AbstractContextManager[None]:
        """As the source: no other session writes to ``tables`` inside the block, and
        this one reads them as of one moment. :class:`MigrateRefused` if another
        session is writing and does not stop within a few seconds."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction: committed when the block ends, rolled back on error."""
        ...

    def insert(self, table: Table, rows: Iterable[Sequence[Any]]) -> None:
        """Insert ``rows`` (consumed as they come) inside the open transaction."""
        ...

    def update_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def triggers_off(self, table: Table) -> None:
        """Inside a transaction: ``table``'s triggers do not fire until
        :meth:`triggers_on`, which must come before the commit."""
        ...

    def triggers_on(self, table: Table) -> None: ...

    def ids_given(self, tables: list[Table]) -> dict[str, int]:
        """Table -> the highest id its sequence ever gave (SQLite's sqlite_sequence,
        PostgreSQL's sequences), which may be above every id left: a deleted row's."""
        ...

    def after_copy(self, tables: list[Table], given: dict[str, int]) -> None:
        """Once every row is in: what makes the database usable by the daemon (the
        sequences past the copied ids and past ``given``, the source's
        :meth:`ids_given`: signed links carry ids, and a deleted row's must never
        name a new row)."""
        ...

    def other_users(self) -> str | None:
        """Who else has the database open, if that can be told (else None)."""
        ...

    def close(self) -> None: ...
