"""A unit of work, or a whole group commit, run on the connection's database thread in
one trip (issue 14).

The repositories are ``async def f(conn)`` functions that await nothing but their
connection. On the database thread they get :class:`ThreadConnection`: the same
protocol (mailbridge.store.engine) over the thread's own ``sqlite3.Connection``, whose
awaitables are complete when made, so :func:`drive` runs a unit's coroutine to its end
with ``send(None)``, without an event loop. A unit that awaits anything else (a lock, a
sleep, another store) would need the event loop: it fails at once with
:class:`UnitAwaitedElsewhere`, naming it, and is rolled back like any failing unit.
A unit that must await something else says so with :func:`on_event_loop` and runs
statement by statement on the event loop as before.

The thread-side functions here return what happened (results, exceptions) instead of
touching the callers' futures: only the event loop's thread may do that.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from mailbridge.errors import UnitAwaitedElsewhere

__all__ = [
    "GroupOutcome",
    "ThreadConnection",
    "UnitAwaitedElsewhere",
    "drive",
    "needs_event_loop",
    "on_event_loop",
    "read_unit",
    "run_group",
    "unit_name",
]

T = TypeVar("T")
_ON_LOOP = "_mailbridge_on_event_loop"


def on_event_loop(work: T) -> T:
    """Mark a unit that awaits more than its connection: it runs on the event loop."""
    setattr(work, _ON_LOOP, True)
    return work


def needs_event_loop(work: object) -> bool:
    if getattr(work, _ON_LOOP, False):
        return True
    inner = getattr(work, "func", None)  # a functools.partial of a marked function
    return inner is not None and bool(getattr(inner, _ON_LOOP, False))


def unit_name(work: object) -> str:
    inner = getattr(work, "func", work)
    module = getattr(inner, "__module__", None) or "?"
    return f"{module}.{getattr(inner, '__qualname__', repr(inner))}"


class _Done:
    """An awaitable (and ``async with`` context) that is complete when made."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self._value
        yield  # a generator that returns at once  # pragma: no cover

    async def __aenter__(self) -> Any:
        return self._value

    async def __aexit__(self, *exc: object) -> None:
        close = getattr(self._value, "close", None)
        if close is not None:
            await close()


class ThreadCursor:
    """aiosqlite's cursor, answered at once from the thread's ``sqlite3.Cursor``."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    def fetchone(self) -> _Done:
        return _Done(self._cursor.fetchone())

    def fetchall(self) -> _Done:
        return _Done(self._cursor.fetchall())

    def fetchmany(self, size: int | None = None) -> _Done:
        wanted = self._cursor.arraysize if size is None else size
        return _Done(self._cursor.fetchmany(wanted))

    def close(self) -> _Done:
        self._cursor.close()
        return _Done(None)

    def __aiter__(self) -> ThreadCursor:
        return self

    def __anext__(self) -> _Done:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return _Done(row)


class ThreadConnection:
    """What a unit awaits on the database thread: aiosqlite's connection's methods the
    repositories use, each complete when called."""

    __slots__ = ("_conn",)
    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    @property
    def total_changes(self) -> int:
        return self._conn.total_changes

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> _Done:
        cursor = self._conn.execute(sql, () if parameters is None else parameters)
        return _Done(ThreadCursor(cursor))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> _Done:
        return _Done(ThreadCursor(self._conn.executemany(sql, parameters)))

    def execute_fetchall(self, sql: str, parameters: Sequence[Any] | None = None) -> _Done:
        cursor = self._conn.execute(sql, () if parameters is None else parameters)
        rows = cursor.fetchall()
        cursor.close()
        return _Done(rows)

    def execute_insert(self, sql: str, parameters: Sequence[Any] | None = None) -> _Done:
        # As aiosqlite's: the statement, then its row id as a row.
        cursor = self._conn.execute(sql, () if parameters is None else parameters)
        cursor.execute("SELECT last_insert_rowid()")
        row = cursor.fetchone()
        cursor.close()
        return _Done(row)


_ASYNCIO = os.path.dirname(asyncio.__file__) + os.sep


def _raised_in_asyncio(exc: BaseException) -> bool:
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename.startswith(_ASYNCIO)


def drive(work: Callable[[Any], Awaitable[T]], conn: ThreadConnection) -> T:
    """``await work(conn)`` to its end, here, without an event loop.

    Raises :class:`UnitAwaitedElsewhere` (the unit closed, its ``finally`` run) when it
    awaits anything that is not complete when made, or needs a running event loop."""
    steps: Generator[Any, None, T] = work(conn).__await__()
    try:
        awaited = steps.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    except Exception as exc:
        # asyncio's locks, events, futures and sleeps fail here in their own ways
        # (there is no running loop on this thread): say what it was.
        if _raised_in_asyncio(exc):
            raise UnitAwaitedElsewhere(unit_name(work), exc) from exc
        raise
    close = getattr(steps, "close", None)
    if close is not None:
        try:
            close()
        except RuntimeError:  # it awaited again in a finally: nothing more to run
            pass
    raise UnitAwaitedElsewhere(unit_name(work), awaited)


@dataclass
class GroupOutcome:
    """What a group commit did, for the event loop to hand to each caller.

    ``failure`` set: nothing was committed, every unit fails with it (``None`` in
    ``results``). Else each unit's ``(True, result)``, ``(False, exception)`` or
    ``None`` (skipped: its caller had stopped waiting before it started)."""

    results: list[tuple[bool, Any] | None] = field(default_factory=list)
    failure: BaseException | None = None


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the error that got us here is the one to report


def run_group(
    conn: sqlite3.Connection,
    works: Sequence[Callable[[Any], Awaitable[Any]]],
    wanted: Callable[[int], bool],
) -> GroupOutcome:
    """On the database thread: BEGIN IMMEDIATE, each unit (in a savepoint of its own
    when there are several), COMMIT, as ``Store._commit_group`` does on the event loop.

    ``wanted(i)`` is asked just before unit ``i`` starts: False (its caller was
    cancelled) skips it, leaving no trace."""
    outcome = GroupOutcome()
    try:
        # Here BEGIN IMMEDIATE waits for another process's lock up to the busy timeout.
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        outcome.failure = exc
        return outcome
    adapter = ThreadConnection(conn)
    alone = len(works) == 1
    try:
        for i, work in enumerate(works):
            if not wanted(i):
                outcome.results.append(None)
                continue
            if not alone:
                conn.execute("SAVEPOINT unit")
            try:
                result = drive(work, adapter)
                if not alone:
                    conn.execute("RELEASE unit")
            except Exception as exc:
                if alone or not conn.in_transaction:
                    raise  # the whole transaction is gone (or it was the only unit)
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcome.results.append((False, exc))
            else:
                outcome.results.append((True, result))
        conn.execute("COMMIT")
    except BaseException as exc:
        # Also after a failed COMMIT (disk full, I/O error): never leave the one writer
        # connection inside a transaction.
        _rollback(conn)
        outcome.failure = exc
    return outcome


def read_unit(conn: sqlite3.Connection, work: Callable[[Any], Awaitable[T]]) -> T:
    """On a reader's thread: BEGIN, the unit in that one snapshot, ROLLBACK."""
    conn.execute("BEGIN")
    try:
        return drive(work, ThreadConnection(conn))
    finally:
        # A read-only transaction: ending it is all a rollback does.
        _rollback(conn)
