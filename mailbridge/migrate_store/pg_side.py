"""A PostgreSQL end of a copy, with psycopg's synchronous connection.

Rows are written with ``COPY ... FROM STDIN`` (fed row by row as the source yields
them) and read through a server-side cursor, so neither end holds a table in memory.
Text keys are ordered with ``COLLATE "C"`` (bytes, as SQLite's BINARY), citext ones as
text first. A table's triggers are switched off for a batch with ``ALTER TABLE ...
DISABLE TRIGGER USER`` and on again before its commit (PostgreSQL's DDL is
transactional), which needs the destination's user to own the tables, as it does
when mailbridge created them.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import psycopg
import psycopg.errors

from mailbridge.migrate_store.endpoints import MigrateRefused, redacted, scrubbed
from mailbridge.migrate_store.schema import Table
from mailbridge.migrate_store.side import Key, page_query, quoted

__all__ = ["PgSide"]

_ITERSIZE = 200  # rows per round trip of the server-side cursor
# ... of a table with a bytea column (raw messages, outgoing mail): a few MB each.
_ITERSIZE_BYTES = 8


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PgSide:
    engine: Literal["postgresql"] = "postgresql"

    def __init__(self, url: str, connect_timeout: float = 10.0):
        self.url = url
        try:
            self.conn = psycopg.connect(
                url, autocommit=True, connect_timeout=max(1, int(connect_timeout))
            )
        except psycopg.Error as exc:
            raise MigrateRefused(
                f"cannot connect to {redacted(url)}: {scrubbed(str(exc), url)}"
            ) from None
        self._types: dict[str, dict[str, str]] = {}

    def applied_migrations(self) -> list[str]:
        if "schema_migrations" not in self._tables():
            return []
        return [row[0] for row in self.query("SELECT name FROM schema_migrations ORDER BY name")]

    def _tables(self) -> list[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        return [row[0] for row in rows]

    def table_columns(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {name: [] for name in self._tables()}
        for table, column, kind in self.query(
            "SELECT table_name, column_name, udt_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        ):
            if table in found:
                found[table].append(column)
                self._types.setdefault(table, {})[column] = kind
        return {name: tuple(columns) for name, columns in found.items()}

    def _order(self, table: Table) -> list[str]:
        if table.name not in self._types:
            self.table_columns()
        types = self._types.get(table.name, {})
        out = []
        for column, text in zip(table.key, table.text_key, strict=True):
            if text or types.get(column) in ("text", "citext", "varchar"):
                out.append(f'{quoted(column)}::text COLLATE "C"')
            else:
                out.append(quoted(column))
        return out

    def rows(
        self, table: Table, after: Key | None, limit: int | None
    ) -> Generator[Sequence[Any], None, None]:
        sql, parameters = page_query(table, self._order(table), after, limit, "%s")
        # A server-side cursor lives in a transaction; leaving early rolls it back.
        with self.conn.transaction(), self.conn.cursor(name="migrate_store_rows") as cursor:
            types = self._types.get(table.name, {})
            cursor.itersize = _ITERSIZE_BYTES if "bytea" in types.values() else _ITERSIZE
            cursor.execute(sql.encode(), parameters)
            yield from cursor

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Sequence[Any]]:
        with self.conn.cursor() as cursor:
            cursor.execute(_pg(sql).encode(), list(parameters))
            if cursor.description is None:
                return []
            return list(cursor.fetchall())

    @contextmanager
    def frozen(self, tables: list[Table]) -> Iterator[None]:
        # SHARE mode: others read on, no one writes (their writes wait for the end,
        # then the daemon's lock_timeout fails them as "try again later").
        names = ", ".join(quoted(t.name) for t in tables)
        with self.conn.transaction():
            self.conn.execute(b"SET LOCAL lock_timeout = '5s'")
            try:
                self.conn.execute(f"LOCK TABLE {names} IN SHARE MODE".encode())
            except psycopg.errors.LockNotAvailable:
                raise MigrateRefused(
                    f"{redacted(self.url)} is being written by another session: stop the daemon"
                ) from None
            yield

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def insert(self, table: Table, rows: Iterable[Sequence[Any]]) -> None:
        names = ", ".join(map(quoted, table.columns))
        statement = f"COPY {quoted(table.name)} ({names}) FROM STDIN"
        with self.conn.cursor() as cursor, cursor.copy(statement.encode()) as copy:
            for row in rows:
                copy.write_row(row)

    def update_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_pg(sql).encode(), list(rows))

    def _has_triggers(self, table: Table) -> bool:
        found = self.query(
            "SELECT 1 FROM pg_trigger WHERE tgrelid = ?::regclass AND NOT tgisinternal",
            (quoted(table.name),),
        )
        return bool(found)

    def triggers_off(self, table: Table) -> None:
        if self._has_triggers(table):
            self.conn.execute(f"ALTER TABLE {quoted(table.name)} DISABLE TRIGGER USER".encode())

    def triggers_on(self, table: Table) -> None:
        if self._has_triggers(table):
            self.conn.execute(f"ALTER TABLE {quoted(table.name)} ENABLE TRIGGER USER".encode())

    def _sequences(self, tables: list[Table]) -> dict[str, tuple[str, str]]:
        """Table -> (its identity column, that column's sequence)."""
        found: dict[str, tuple[str, str]] = {}
        for table in tables:
            if len(table.key) != 1 or table.text_key[0]:
                continue
            column = table.key[0]
            rows = self.query("SELECT pg_get_serial_sequence(?, ?)", (quoted(table.name), column))
            if rows and rows[0][0] is not None:  # else not an identity (WordPress's ids)
                found[table.name] = (column, str(rows[0][0]))
        return found

    def ids_given(self, tables: list[Table]) -> dict[str, int]:
        given: dict[str, int] = {}
        for name, (_column, sequence) in self._sequences(tables).items():
            rows = self.query("SELECT pg_sequence_last_value(CAST(? AS regclass))", (sequence,))
            if rows and rows[0][0] is not None:  # None: never used
                given[name] = int(rows[0][0])
        return given

    def after_copy(self, tables: list[Table], given: dict[str, int]) -> None:
        """Each identity column's sequence set past the copied ids and past every id
        the source ever gave, so that the daemon's next INSERT takes neither a copied
        row's id nor a deleted one's."""
        for table in tables:
            found = self._sequences([table]).get(table.name)
            if found is None:
                continue
            column, sequence = found
            top = given.get(table.name, 0)
            self.query(
                f"SELECT setval(?, greatest(coalesce(max({quoted(column)}), 0), ?, 1), "  # noqa: S608 (quoted names from the schema)
                f"greatest(coalesce(max({quoted(column)}), 0), ?) > 0) FROM {quoted(table.name)}",
                (sequence, top, top),
            )

    def other_users(self) -> str | None:
        rows = self.query(
            "SELECT coalesce(nullif(application_name, ''), 'unnamed'), count(*) "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND usename = current_user AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' GROUP BY 1 ORDER BY 1"
        )
        if not rows:
            return None
        return ", ".join(f"{count} {name}" for name, count in rows)

    def close(self) -> None:
        self.conn.close()
