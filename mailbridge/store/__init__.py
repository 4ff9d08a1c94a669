"""The SQLite store: one writer connection, one reader connection, explicit close.

Every write is a unit of work run inside ``BEGIN IMMEDIATE`` on the single writer
connection, serialised by an asyncio lock, so a caller either sees its whole
change committed or none of it. The repository modules next to this one
(``threads``, ``comments``, ``inbound``, ``outbox``) hold SQL only and take a
connection as their first argument.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from mailbridge.errors import DataDirUnusable, StoreClosedError
from mailbridge.store import buffered, migrations

__all__ = ["Store", "UnitOfWork", "is_unwritable"]

log = logging.getLogger(__name__)

T = TypeVar("T")
UnitOfWork = Callable[[aiosqlite.Connection], Awaitable[T]]
# A unit of work waiting for its group commit, and where its result goes.
_Unit = tuple[Callable[[aiosqlite.Connection], Awaitable[Any]], "asyncio.Future[Any]"]
# Units that share one transaction at most: enough to spare most BEGIN, COMMIT and
# fsync under load, few enough that a unit never waits long for the others in its group.
_GROUP_MAX = 8


def _fail(units: list[_Unit], exc: BaseException) -> None:
    for _work, future in units:
        if not future.done():
            future.set_exception(exc)


# Durability first: a 250 to DATA promises the message is on disk, so commits fsync
# (synchronous=FULL) even in WAL mode.
_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    # A deleted row's bytes are overwritten with zeros, not left in a free page of the
    # file (and in each `mailbridge backup` of it): what an erasure deletes is gone,
    # whatever the default of the SQLite library Python was built with.
    "PRAGMA secure_delete = ON",
)
DEFAULT_BUSY_TIMEOUT = 10.0
# Read connections, each with its own thread. One was a queue: a read unit holds its
# connection across its statements' trips to the thread and back, so with several
# SMTP sessions, the web and the workers reading, each read mostly waited for the others
# (11 ms a read under inbound load, the database thread idle). WAL lets readers run
# side by side; four cover two cores' worth of event loop and workers.
READERS = 4
# How long /healthz waits for the write lock before it reports that writes fail.
_PROBE_BUSY_MS = 250
# A failed write keeps /healthz unhealthy this long unless a write succeeds.
_FAILURE_MEMORY_SECONDS = 60.0
# SQLite's messages for "cannot write now": locked by another process, disk full,
# read-only or failing storage. Callers answer these with "try again later".
_UNWRITABLE = (
    "database is locked",
    "database table is locked",
    "database or disk is full",
    "disk i/o error",
    "readonly database",
    "unable to open database",
)


def is_unwritable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot take writes right now."""
    if isinstance(exc, sqlite3.OperationalError):
        return any(text in str(exc).lower() for text in _UNWRITABLE)
    if type(exc).__module__.startswith("psycopg"):
        # Imported only here: a SQLite install need not have psycopg.
        from mailbridge.store.postgres.errors import is_unwritable as pg_unwritable

        return pg_unwritable(exc)
    return False


async def _connect(path: Path, busy_timeout: float) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, sqlite3 adds nothing.
    # One trip to the database thread per statement (mailbridge.store.buffered).
    conn: aiosqlite.Connection = await buffered.connect(path, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    except BaseException:
        # aiosqlite's thread is not a daemon: left open, it keeps the process alive
        # after the error (a read-only or corrupt database hung every command).
        await conn.close()
        raise
    return conn


def _probe(path: Path) -> None:
    sqlite3.connect(path).close()


def _why(exc: BaseException) -> str:
    """What failed, in the OS's or SQLite's words, without the path said twice."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


async def _rollback(conn: aiosqlite.Connection) -> bool:
    """Roll back if a transaction is open, without hiding the error that got us here.

    The statement whose await was cancelled still runs on aiosqlite's thread; this
    ROLLBACK is queued after it, so it sees the final state. "No transaction is
    active" then just means the cancelled COMMIT went through.

    True when the task was cancelled meanwhile (the shielded ROLLBACK still runs): the
    caller finishes what it must and raises CancelledError, so that a cancellation
    arriving just then is not lost (a stopping daemon once waited 30 s for a job
    that had gone back to sleep).
    """
    try:
        await asyncio.shield(conn.execute("ROLLBACK"))
    except sqlite3.OperationalError as exc:
        if "no transaction is active" not in str(exc):
            log.error("store: rollback failed: %s", exc)
    except asyncio.CancelledError:
        return True
    return False


class Store:
    """Owns the database connections. Build with :meth:`open`, finish with :meth:`close`."""

    # One daemon per SQLite database: what only it counts may stay in its memory.
    shared = False

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        readers: Sequence[aiosqlite.Connection],
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ):
        self.path = path
        self._writer: aiosqlite.Connection | None = writer
        self._readers = list(readers)
        # The readers not in use; a read takes one for its whole unit.
        self._free_readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in self._readers:
            self._free_readers.put_nowait(reader)
        self._write_lock = asyncio.Lock()
        # Units waiting for the next group commit, and the task that runs them.
        self._pending: list[_Unit] = []
        self._draining: asyncio.Future[None] | None = None
        self._busy_ms = int(busy_timeout * 1000)
        # (monotonic time, message) of the last write that failed for lack of a
        # writable database; cleared by the next write that commits.
        self._write_failure: tuple[float, str] | None = None

    @classmethod
    async def open(cls, path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Store:
        """Open (creating if needed) the database at ``path`` and apply pending migrations.

        ``busy_timeout`` is how long a statement waits for another process's lock
        before failing with "database is locked". Raises :class:`DataDirUnusable`
        when the directory or the file cannot be created, opened or written.
        """
        try:
            # The database holds commenters' addresses: keep the directory private.
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Tried without aiosqlite first: its worker thread reports a failed open
            # after our loop has closed, a traceback on top of this error.
            await asyncio.to_thread(_probe, path)
            writer = await _connect(path, busy_timeout)
        except (OSError, sqlite3.Error) as exc:
            raise DataDirUnusable(path, f"cannot open the database ({_why(exc)})") from exc
        readers: list[aiosqlite.Connection] = []
        try:
            await migrations.apply_pending(writer, path)
            for _ in range(READERS):
                readers.append(await _connect(path, busy_timeout))
        except BaseException as exc:
            for conn in (writer, *readers):  # a thread left open keeps the process alive
                await conn.close()
            if isinstance(exc, (OSError, sqlite3.Error)):
                raise DataDirUnusable(path, f"cannot use the database ({_why(exc)})") from exc
            raise
        return cls(path, writer, readers, busy_timeout)

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def write(self, work: UnitOfWork[T]) -> T:
        """Run ``work(conn)`` in an IMMEDIATE transaction; its result once committed.

        Group commit: the units that arrive while a transaction is open wait, then
        share the next one (each in a savepoint of its own, so one that fails is
        rolled back alone), and one COMMIT and one fsync. Each caller still gets its
        answer only after that commit. A caller cancelled before its unit starts
        leaves no trace; once started, the unit runs to its commit or rollback.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            async with self._write_lock:
                while self._pending:
                    batch = [u for u in self._pending[:_GROUP_MAX] if not u[1].done()]
                    del self._pending[:_GROUP_MAX]
                    if batch:
                        await self._commit_group(batch)
        except BaseException as exc:
            # Cancelled (the loop is ending) or a bug: nobody may wait for ever.
            waiting, self._pending = self._pending, []
            _fail(waiting, StoreClosedError(f"the write was not run ({exc!r})"))
            raise

    async def _commit_group(self, batch: list[_Unit]) -> None:
        conn = self._writer
        if conn is None:
            _fail(batch, StoreClosedError("the store is closed"))
            return
        try:
            if isinstance(conn, buffered.BufferedConnection):
                await conn.begin_immediate()  # here when the lock is free: no trip
            else:
                await conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._remember(exc)
            _fail(batch, exc)
            return
        alone = len(batch) == 1
        done: list[tuple[asyncio.Future[Any], Any]] = []
        failed: list[tuple[asyncio.Future[Any], BaseException]] = []
        try:
            for work, future in batch:
                if not alone:
                    await conn.execute("SAVEPOINT unit")
                try:
                    result = await work(conn)
                    if not alone:
                        await conn.execute("RELEASE unit")
                except Exception as exc:
                    if alone or not conn.in_transaction:
                        raise  # the whole transaction is gone (or it was the only unit)
                    await conn.execute("ROLLBACK TO unit")
                    await conn.execute("RELEASE unit")
                    self._remember(exc)
                    failed.append((future, exc))
                else:
                    done.append((future, result))
            await conn.execute("COMMIT")
        except BaseException as exc:
            # Also after a failed COMMIT (disk full, I/O error) or a cancellation:
            # never leave the one writer connection inside a transaction.
            cancelled = await _rollback(conn)
            self._remember(exc)
            # Nothing of the group was committed: every unit in it fails with this.
            if isinstance(exc, Exception):
                _fail(batch, exc)
                if cancelled:
                    raise asyncio.CancelledError from exc
                return
            for _work, future in batch:  # cancelled (the loop is ending), or exiting
                future.cancel()
            raise
        self._write_failure = None
        for future, result in done:
            if not future.done():
                future.set_result(result)
        for future, error in failed:
            if not future.done():
                future.set_exception(error)

    def _remember(self, exc: BaseException) -> None:
        if is_unwritable(exc):
            self._write_failure = (time.monotonic(), str(exc))

    async def set_write_cache(self, kib: int) -> None:
        """Give the writer a page cache of ``kib`` KiB (SQLite's default is 2 MiB).

        For a bulk load (``mailbridge import``): with 300,000 comments, each insert
        updates eight indexes whose pages no longer fit the default cache; 16 MiB
        made such an import 17% faster (docs/performance.md)."""
        async with self._write_lock:
            if self._writer is None:
                raise StoreClosedError("the store is closed")
            await self._writer.execute(f"PRAGMA cache_size = -{int(kib)}")

    async def scrub(self) -> bool:
        """After an erasure: leave no copy of what it deleted in the database's files.

        The write-ahead log keeps the pages as they were before (the erased address
        among them) until a checkpoint copies the new ones into the database, and its
        file keeps old frames past the end of the new ones for as long as it is not
        truncated. A TRUNCATE checkpoint empties it. False when a reader of an older
        moment kept it from finishing: the next checkpoint does it."""
        async with self._write_lock:
            if self._writer is None:
                raise StoreClosedError("the store is closed")
            rows = await self._writer.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        return all(int(row[0]) == 0 for row in rows)

    async def probe_write(self, wait: float = 1.0) -> str | None:
        """None when a write could start now, else why not (for /healthz).

        Takes the write lock (waiting at most ``wait`` seconds), then asks SQLite
        for the database's write lock with a short busy timeout and gives it back
        at once. A write that failed for lack of space or storage in the last
        minute also counts, since taking the lock alone does not touch the disk.
        """
        try:
            await asyncio.wait_for(self._write_lock.acquire(), wait)
        except TimeoutError:
            return "writes are stuck behind a write that does not finish"
        try:
            conn = self._writer
            if conn is None:
                return "the store is closed"
            await conn.execute(f"PRAGMA busy_timeout = {_PROBE_BUSY_MS}")
            try:
                await conn.execute("BEGIN IMMEDIATE")
                await conn.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                return str(exc)
            finally:
                await conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        finally:
            self._write_lock.release()
        failure = self._write_failure
        if failure is not None and time.monotonic() - failure[0] < _FAILURE_MEMORY_SECONDS:
            return failure[1]
        return None

    async def read(self, work: UnitOfWork[T]) -> T:
        """Run ``work(conn)`` on a reader connection inside one read snapshot."""
        if self._writer is None:
            raise StoreClosedError("the store is closed")
        conn = await self._free_readers.get()
        try:
            if self._writer is None:  # closed while this read waited for a reader
                raise StoreClosedError("the store is closed")
            await conn.execute("BEGIN")
            try:
                return await work(conn)
            finally:
                # A read-only transaction: ending it is all a rollback does.
                if await _rollback(conn):
                    raise asyncio.CancelledError
        finally:
            self._free_readers.put_nowait(conn)

    async def trace(self, callback: Callable[[str], object] | None) -> None:
        """Have ``callback`` see each statement both connections run (None: stop).

        For diagnosis and tests (which queries a path runs); it runs where each
        statement runs (the event loop's thread or a database thread), so it must be
        quick and thread-safe.
        """
        for conn in (self._writer, *self._readers):
            if conn is not None:
                # sqlite3 takes None to stop; aiosqlite's annotation forgets it.
                await conn.set_trace_callback(callback)  # type: ignore[arg-type]

    async def close(self) -> None:
        """Close every connection once pending work finishes; later use raises."""
        async with self._write_lock:
            writer, self._writer = self._writer, None  # later reads raise
            if writer is None:
                return
            # Each reader once its read is done (they all come back to the queue).
            for _ in self._readers:
                await (await self._free_readers.get()).close()
            self._readers = []
            await writer.close()
