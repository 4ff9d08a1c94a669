"""What the repositories need of a database connection, whichever engine runs it.

The repository modules take a connection and run SQL on it: ``execute`` (awaited, or
used as ``async with``) giving a cursor with ``fetchone``/``fetchall``/``rowcount``,
``executemany``, and ``in_transaction``; rows are read by column name and by position.
aiosqlite's connection (mailbridge.store.buffered) has this shape already, and
mailbridge.store.postgres.connection gives a psycopg connection the same one, so the
repositories can be annotated with :class:`Connection` instead of one engine's class.

``dialect`` ("sqlite" or "postgresql") is how a repository picks the variant of a
statement that cannot be written once for both engines; the variants stay next to
each other in the repository.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Generator, Iterable, Sequence
from typing import Any, Literal, Protocol

__all__ = [
    "Connection",
    "Cursor",
    "Dialect",
    "Execution",
    "Row",
    "as_address",
    "dialect_of",
    "json_list",
]

Dialect = Literal["sqlite", "postgresql"]


class Row(Protocol):
    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> Iterable[Any]: ...

    def __aiter__(self) -> AsyncIterator[Any]: ...


class Execution(Protocol):
    """What ``execute`` returns: awaited for the cursor, or entered as a context."""

    def __await__(self) -> Generator[Any, None, Cursor]: ...

    async def __aenter__(self) -> Cursor: ...

    async def __aexit__(self, *exc: object) -> Any: ...


class Connection(Protocol):
    dialect: Dialect

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Awaitable[Any]: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Awaitable[Any]: ...


def dialect_of(conn: object) -> Dialect:
    """The dialect of ``conn``, for code still annotated with aiosqlite's class."""
    found: Dialect = getattr(conn, "dialect", "sqlite")
    return found


# A JSON array bound as one parameter, as the rows of a subquery: ``x IN json_list``
# takes any number of values in one statement. SQLite reads it with json_each;
# PostgreSQL reads text and casts each element to the compared column's type.
_JSON_LISTS: dict[tuple[Dialect, str], str] = {
    ("sqlite", "text"): "(SELECT value FROM json_each(?))",
    ("sqlite", "bigint"): "(SELECT value FROM json_each(?))",
    ("postgresql", "text"): "(SELECT value FROM jsonb_array_elements_text(?::jsonb) AS value)",
    ("postgresql", "bigint"): (
        "(SELECT value::bigint FROM jsonb_array_elements_text(?::jsonb) AS value)"
    ),
}


def json_list(conn: object, of: Literal["text", "bigint"]) -> str:
    """The subquery over a JSON array parameter of ``of`` values, in ``conn``'s dialect."""
    return _JSON_LISTS[dialect_of(conn), of]


def as_address(conn: object, column: str) -> str:
    """``column`` (text holding an email address, as outbox.rcpt_to) to compare with
    addresses.email as that column compares: without case, through its unique index.

    SQLite takes NOCASE from addresses.email, the left operand (``a.email = column``).
    PostgreSQL compares citext with text as text: case matters, and the citext index
    on addresses.email cannot serve the join (a whole-table read per statement).
    """
    return f"{column}::citext" if dialect_of(conn) == "postgresql" else column
