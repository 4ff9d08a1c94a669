"""A psycopg connection with the interface the repositories use on SQLite.

Why psycopg 3 rather than asyncpg: the repositories are written against a DB-API
cursor (``execute`` then ``fetchone``/``fetchall``, ``rowcount``, ``executemany``),
which psycopg keeps and asyncpg does not (it returns records or a status string); and
asyncpg binds every parameter to the exact type the server infers, so statements that
SQLite accepts with a Python int where text is compared would fail at run time, while
psycopg adapts them. psycopg is the PostgreSQL project's reference Python driver, and
psycopg_pool gives the multi-process part of issue 16 its connection pool.

The SQL stays in SQLite's ``?`` style; it is rewritten to psycopg's ``%s`` once per
distinct statement (cached), never on the SQLite path.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal

import psycopg
from psycopg import pq

__all__ = ["PgConnection", "PgCursor", "PgRow", "connect", "translate"]


_HINTS = re.compile(r"\s+INDEXED BY \w+")
# "+column" right after a keyword or operator that cannot be followed by binary plus.
_UNARY_PLUS = re.compile(r"((?:\bAND|\bWHERE|\bOR|=|\()\s*)\+(?=[A-Za-z_])")


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> tuple[str, bool]:
    """``?`` placeholders to ``%s`` and a literal ``%`` to ``%%``, outside quotes; and
    whether the statement numbers them (SQLite's ``?1``, used twice in one statement),
    which become ``%(p1)s`` and take their parameters by name (see :func:`_params`).

    SQLite-only spellings that have a direct equivalent are mapped here too
    (``BEGIN IMMEDIATE``: PostgreSQL's writers lock rows, not the database), and
    SQLite's planner hints are dropped (``INDEXED BY name``; ``+column``, which keeps
    SQLite off an index): PostgreSQL's planner takes no hints and uses statistics.
    """
    if sql == "BEGIN IMMEDIATE":
        return "BEGIN", False
    sql = _HINTS.sub("", sql)
    # The NOCASE columns are citext on PostgreSQL (sql_postgresql/0001): already
    # compared without case, and PostgreSQL has no collation of that name.
    sql = sql.replace(" COLLATE NOCASE", "")
    sql = _UNARY_PLUS.sub(r"\1", sql)
    out: list[str] = []
    quote: str | None = None
    numbered = False
    i = 0
    while i < len(sql):
        ch = sql[i]
        i += 1
        if quote is not None:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            digits = ""
            while i < len(sql) and sql[i].isdigit():
                digits += sql[i]
                i += 1
            if digits:
                numbered = True
                out.append(f"%(p{digits})s")
            else:
                out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out), numbered


class PgRow(Sequence[Any]):
    """A row read by position or by column name, like sqlite3.Row."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]):
        self._index = index
        self._values = values

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=True))!r})"


def _row_factory(cursor: Any) -> Any:
    description = cursor.description or ()
    index = {column.name: i for i, column in enumerate(description)}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(index, values)

    return make


def _value(value: Any) -> Any:
    # SQLite stores a Python bool as 0/1 and the schema's flags are integers.
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and "\x00" in value:
        # PostgreSQL's text cannot hold NUL, SQLite's can, and a header of a hostile
        # message may carry one (=?utf-8?Q?=00?=): refused, the whole message would be
        # a 451 forever. Stored as U+FFFD, the mark of what could not be decoded, so the
        # same value looked up again finds the same row.
        return value.replace("\x00", "\ufffd")
    return value


def _params(parameters: Sequence[Any] | None, numbered: bool = False) -> Any:
    if parameters is None:
        return None
    if numbered:  # ?1 is the first parameter, and may appear more than once
        return {f"p{i}": _value(v) for i, v in enumerate(parameters, 1)}
    return [_value(v) for v in parameters]


class PgCursor:
    """The result of one statement; ``lastrowid`` is always None (use RETURNING)."""

    lastrowid = None

    def __init__(self, cursor: psycopg.AsyncCursor[Any]):
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    async def fetchone(self) -> Any:
        if self._cursor.description is None:
            return None
        return await self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        if self._cursor.description is None:
            return []
        return await self._cursor.fetchall()

    async def __aiter__(self) -> AsyncIterator[Any]:
        for row in await self.fetchall():
            yield row

    async def close(self) -> None:
        await self._cursor.close()

    async def __aenter__(self) -> PgCursor:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class _Execution:
    """Awaitable and usable as ``async with``, like aiosqlite's ``execute``."""

    def __init__(self, conn: PgConnection, sql: str, parameters: Sequence[Any] | None):
        self._conn, self._sql, self._parameters = conn, sql, parameters
        self._cursor: PgCursor | None = None

    async def _run(self) -> PgCursor:
        cursor = self._conn.raw.cursor(row_factory=_row_factory)
        sql, numbered = translate(self._sql)
        await cursor.execute(sql, _params(self._parameters, numbered), prepare=False)
        self._cursor = PgCursor(cursor)
        return self._cursor

    def __await__(self) -> Any:
        return self._run().__await__()

    async def __aenter__(self) -> PgCursor:
        return await self._run()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class PgConnection:
    """One psycopg connection in autocommit mode: BEGIN and COMMIT are issued by the
    store, as on SQLite, so a unit of work runs the same statements on both."""

    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, raw: psycopg.AsyncConnection[Any]):
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> _Execution:
        return _Execution(self, sql, parameters)

    async def execute_fetchall(
        self, sql: str, parameters: Sequence[Any] | None = None
    ) -> list[Any]:
        async with self.execute(sql, parameters) as cur:
            return await cur.fetchall()

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> PgCursor:
        cursor = self.raw.cursor(row_factory=_row_factory)
        query, numbered = translate(sql)
        rows = [_params(p, numbered) or () for p in parameters]
        await cursor.executemany(query, rows)
        return PgCursor(cursor)

    async def close(self) -> None:
        await self.raw.close()


async def connect(url: str, *, connect_timeout: float = 10.0) -> PgConnection:
    raw = await psycopg.AsyncConnection.connect(
        url, autocommit=True, connect_timeout=max(1, int(connect_timeout))
    )
    return PgConnection(raw)
