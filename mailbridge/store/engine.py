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

__all__ = ["Connection", "Cursor", "Dialect", "Execution", "Row"]

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
