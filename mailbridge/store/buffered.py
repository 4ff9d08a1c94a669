"""aiosqlite connections whose statements run where they are awaited, or else cost one
trip to the database thread.

With plain aiosqlite, ``async with conn.execute(sql) as cur: row = await cur.fetchone()``
is three trips to the connection's thread and back (execute, fetch, close), each a
queue hand-off and a wake-up of the event loop. A reply runs about forty statements,
most of them inside the single write transaction that every other writer waits for,
so those trips were much of the time a reply held it (issue 14).

Here ``execute`` runs the statement and fetches its first rows in the same trip, and
closes the cursor there when that was all of them: the repositories' code is
unchanged, and their fetches and closes are answered from memory. A result longer
than the first batch is fetched from the thread as before, so memory stays bounded.

And most statements make no trip at all: they run where they are awaited, on the
event loop's thread. A statement of a local SQLite file takes microseconds, the trip
to the thread and back a fraction of a millisecond under load (the event loop must come
round to the answer), and a reply's write units ran about twenty-five of them one after
the other while every other writer waited: the one writer was busy 87% of the time for
some 65 replies a second. What can wait goes to the thread still: taking the write lock
when another process holds it (BEGIN IMMEDIATE waits for it up to the busy timeout; see
:meth:`BufferedConnection.begin_immediate`), COMMIT (the fsync, and the WAL
checkpoint), PRAGMAs, VACUUM and an ``executemany`` of more than :data:`INLINE_MANY`
rows (a bulk load; a few rows, such as the outcomes of a delivery round, run here: on
the thread the unit would wait for the event loop to come round while every other
writer waited for it). In WAL mode nothing else waits for a lock: a reader reads its
snapshot, and a writer inside BEGIN IMMEDIATE already holds what it needs. While any
trip is in flight on a connection, its next statements take the trip too, so they run
in order behind it (a ROLLBACK after a cancelled COMMIT sees what the COMMIT did).
"""

from __future__ import annotations

import re
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiosqlite
from aiosqlite.context import contextmanager

__all__ = ["BufferedConnection", "connect"]

T = TypeVar("T")

# Rows fetched with the statement: more than any look-up on a message's path returns.
FIRST_ROWS = 64
# An executemany of at most this many rows runs where it is awaited, as a statement.
INLINE_MANY = 64
# Statements that may wait (for a lock, for the disk): on the connection's thread.
_WAITS = re.compile(r"\s*(?:BEGIN\s+(?:IMMEDIATE|EXCLUSIVE)|COMMIT|END|PRAGMA|VACUUM)\b", re.I)
# Setting the busy timeout (the store's only way): remembered for begin_immediate.
_SET_BUSY = re.compile(r"\s*PRAGMA\s+busy_timeout\s*=\s*(\d+)\s*;?\s*$", re.I)


def _run(
    conn: sqlite3.Connection, sql: str, parameters: Any
) -> tuple[sqlite3.Cursor, list[Any], bool]:
    """On the database thread: execute, fetch the first rows, close if that was all."""
    cursor = conn.execute(sql, parameters)
    rows = cursor.fetchmany(FIRST_ROWS)
    done = len(rows) < FIRST_ROWS
    if done:
        cursor.close()
    return cursor, rows, done


def _run_many(conn: sqlite3.Connection, sql: str, parameters: Any) -> sqlite3.Cursor:
    cursor = conn.executemany(sql, parameters)
    cursor.close()  # rowcount stays readable
    return cursor


class BufferedCursor(aiosqlite.Cursor):
    """An aiosqlite cursor holding the rows already fetched with its statement."""

    def __init__(
        self, conn: aiosqlite.Connection, cursor: sqlite3.Cursor, rows: list[Any], done: bool
    ) -> None:
        super().__init__(conn, cursor)
        self._rows: deque[Any] = deque(rows)
        self._done = done  # no rows left on the thread; the sqlite3 cursor is closed

    async def _hop(self, fn: Callable[..., T], *args: Any) -> T:
        conn: BufferedConnection = self._conn  # type: ignore[assignment]
        return await conn._call(fn, *args)

    async def fetchone(self) -> Any:
        if not self._rows and not self._done:
            await self._refill()
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Iterable[Any]:
        wanted = self.arraysize if size is None else size
        while len(self._rows) < wanted and not self._done:
            await self._refill()
        return [self._rows.popleft() for _ in range(min(wanted, len(self._rows)))]

    async def fetchall(self) -> Iterable[Any]:
        rows = list(self._rows)
        self._rows.clear()
        if not self._done:
            rows.extend(await self._hop(self._cursor.fetchall))
            self._done = True
        return rows

    async def close(self) -> None:
        self._rows.clear()
        if not self._done:
            self._done = True
            await self._hop(self._cursor.close)

    async def _refill(self) -> None:
        more = await self._hop(self._cursor.fetchmany, FIRST_ROWS)
        self._rows.extend(more)
        if len(more) < FIRST_ROWS:
            self._done = True

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> aiosqlite.Cursor:
        conn: BufferedConnection = self._conn  # type: ignore[assignment]
        cursor, rows, done = await conn._statement(sql, parameters)
        self._cursor, self._rows, self._done = cursor, deque(rows), done
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> aiosqlite.Cursor:
        conn: BufferedConnection = self._conn  # type: ignore[assignment]
        self._cursor = await conn._many(sql, parameters)
        self._rows, self._done = deque(), True
        return self


class BufferedConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements run where they are awaited, or else
    take one trip each (``execute``, ``execute_fetchall``, ``execute_insert``,
    ``executemany``)."""

    # Which SQL a repository runs when the engines differ (mailbridge.store.engine).
    dialect: Literal["sqlite"] = "sqlite"

    # Trips begun and trips finished (each counter written by one thread only).
    _started = 0
    _finished = 0
    # The busy timeout (ms) this connection was last given through ``execute``; None
    # when not known (never set so, or perhaps set another way): begin_immediate asks.
    _busy_ms: int | None = None

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Every trip to the thread (aiosqlite's own calls too), counted until its
        function has run there, even when the caller stopped waiting for it."""

        def counted() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                self._finished += 1

        self._started += 1
        result: T = await super()._execute(counted)  # type: ignore[no-untyped-call]
        return result

    def _idle(self) -> bool:
        return self._started == self._finished and self._connection is not None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` here when no trip is in flight, else on the thread behind it."""
        if self._idle():
            return fn(*args)
        return await self._execute(fn, *args)

    async def _statement(
        self, sql: str, parameters: Iterable[Any] | None
    ) -> tuple[sqlite3.Cursor, list[Any], bool]:
        args = [] if parameters is None else parameters
        if _WAITS.match(sql):
            busy = _SET_BUSY.match(sql)
            if busy is not None:
                return await self._execute(self._set_busy, int(busy[1]), sql, args)
            if "busy_timeout" in sql.lower():
                self._busy_ms = None  # set some other way: asked again
            return await self._execute(_run, self._conn, sql, args)
        return await self._call(_run, self._conn, sql, args)

    def _set_busy(self, ms: int, sql: str, args: Any) -> tuple[sqlite3.Cursor, list[Any], bool]:
        """On the thread: set the busy timeout and remember it. Remembered before the
        trip counts as finished, so begin_immediate (which runs here only when no trip
        is in flight) never sees the value before it."""
        self._busy_ms = None
        found = _run(self._conn, sql, args)
        self._busy_ms = ms
        return found

    @contextmanager
    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> aiosqlite.Cursor:
        cursor, rows, done = await self._statement(sql, parameters)
        return BufferedCursor(self, cursor, rows, done)

    async def begin_immediate(self) -> None:
        """``BEGIN IMMEDIATE`` here when the write lock is free; else on the thread, where
        it waits for the lock up to the busy timeout.

        Only another process (a second daemon, a ``mailbridge`` command) can hold it: in
        the daemon's own process the store's one writer connection has it or nobody
        does. So the first try, with no wait, nearly always succeeds, and the group
        commit does not wait for the event loop to come round to the thread's answer
        (a millisecond and more under load, every group, with every writer waiting).
        """
        if self._idle():
            conn = self._conn
            # As set through execute (the store's _connect, probe_write): not asked again
            # for every transaction (issue 14).
            wait = self._busy_ms
            if wait is None:
                wait = conn.execute("PRAGMA busy_timeout").fetchone()[0]
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # BUSY_RECOVERY too
                    raise
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(wait)}")
        await self._execute(_run, self._conn, "BEGIN IMMEDIATE", [])

    async def _helper(self, fn: Callable[[str, Any], T], sql: str, parameters: Any) -> T:
        args = [] if parameters is None else parameters
        if "busy_timeout" in sql.lower():
            self._busy_ms = None  # not remembered this way: begin_immediate asks
        if _WAITS.match(sql):
            return await self._execute(fn, sql, args)
        return await self._call(fn, sql, args)

    @contextmanager
    async def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> Iterable[sqlite3.Row]:
        return await self._helper(self._execute_fetchall, sql, parameters)

    @contextmanager
    async def execute_insert(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> sqlite3.Row | None:
        return await self._helper(self._execute_insert, sql, parameters)

    async def _many(self, sql: str, parameters: Iterable[Iterable[Any]]) -> sqlite3.Cursor:
        if isinstance(parameters, list | tuple) and len(parameters) <= INLINE_MANY:
            return await self._call(_run_many, self._conn, sql, parameters)
        return await self._execute(_run_many, self._conn, sql, parameters)

    @contextmanager
    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> aiosqlite.Cursor:
        return BufferedCursor(self, await self._many(sql, parameters), [], True)


def connect(path: Path, **kwargs: Any) -> BufferedConnection:
    """Like ``aiosqlite.connect``: await it (or use ``async with``) to open."""
    # check_same_thread=False: statements run on the event loop's thread as well as on
    # the connection's own, never both at once (BufferedConnection._call).
    connector: Callable[[], sqlite3.Connection] = lambda: sqlite3.connect(  # noqa: E731
        str(path), check_same_thread=False, **kwargs
    )
    return BufferedConnection(connector, iter_chunk_size=FIRST_ROWS)
