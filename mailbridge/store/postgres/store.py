"""The store on PostgreSQL: the same API as mailbridge.store.Store.

One writer connection and one reader connection, as on SQLite. Writes are serialised
in this process by a lock, one transaction per unit of work. Several daemons share
the database (PostgreSQL locks rows, not the file); what must be claimed across them
is (the outbox's SKIP LOCKED leases, mailbridge.jobs). A connection the server
dropped is made again when the next transaction begins.

Not here: ``trace`` (SQLite's trace callback; PostgreSQL has log_statement) and
group commit (PostgreSQL's commit is a WAL flush shared by concurrent sessions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg

from mailbridge.errors import StoreClosedError
from mailbridge.store.postgres import migrations, redacted
from mailbridge.store.postgres.connection import PgConnection, connect
from mailbridge.store.postgres.errors import is_unwritable

__all__ = ["PgStore", "StoreUnreachable"]

log = logging.getLogger(__name__)

T = TypeVar("T")
# How long /healthz waits for a statement before it reports that writes fail.
_PROBE_TIMEOUT_MS = 250
_FAILURE_MEMORY_SECONDS = 60.0


class StoreUnreachable(Exception):
    """PostgreSQL could not be reached or used at start (the message says why)."""


class PgStore:
    """Build with :meth:`open`, finish with :meth:`close`."""

    # Several daemons may share the database: limits are counted in it (rate_hits).
    shared = True

    def __init__(self, url: str, writer: PgConnection, reader: PgConnection, busy_timeout: float):
        self.url = redacted(url)
        self._url = url  # with its password: for connecting again
        self._busy_timeout = busy_timeout
        self._writer: PgConnection | None = writer
        self._reader: PgConnection | None = reader
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._lock_timeout_ms = int(busy_timeout * 1000)
        self._write_failure: tuple[float, str] | None = None

    @classmethod
    async def open(cls, url: str, busy_timeout: float = 10.0) -> PgStore:
        """Connect, apply pending migrations (under an advisory lock), and return."""
        try:
            writer = await _writer(url, busy_timeout)
        except psycopg.Error as exc:
            raise StoreUnreachable(f"cannot connect to {redacted(url)}: {exc}") from exc
        try:
            await migrations.apply_pending(writer, where=redacted(url))
            reader = await connect(url, connect_timeout=busy_timeout)
        except BaseException as exc:
            await writer.close()
            if isinstance(exc, psycopg.Error):
                raise StoreUnreachable(f"cannot use {redacted(url)}: {exc}") from exc
            raise
        return cls(url, writer, reader, busy_timeout)

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def _begin(self, writing: bool, begin: str) -> PgConnection:
        """The connection, in a new transaction; connected again first if the server
        dropped it (a restart, a failover, an idle timeout).

        Only a transaction that has not begun is retried: a unit of work that failed
        later is never run twice, its caller answers "try again" instead.
        """
        conn = self._writer if writing else self._reader
        if conn is None:
            raise StoreClosedError("the store is closed")
        if not conn.raw.closed:
            try:
                await conn.execute(begin)
                return conn
            except psycopg.OperationalError:
                if not conn.raw.closed:
                    raise
        with contextlib.suppress(psycopg.Error):
            await conn.close()
        fresh = await (_writer(self._url, self._busy_timeout) if writing else self._connect())
        if writing:
            self._writer = fresh
        else:
            self._reader = fresh
        log.warning("store: connected to %s again", self.url)
        await fresh.execute(begin)
        return fresh

    async def _connect(self) -> PgConnection:
        return await connect(self._url, connect_timeout=self._busy_timeout)

    async def write(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``work(conn)`` in one transaction; its result once committed."""
        async with self._write_lock:
            try:
                conn = await self._begin(True, "BEGIN")
                try:
                    result = await work(conn)
                    await conn.execute("COMMIT")
                except BaseException as exc:
                    if await _rollback(conn):
                        raise asyncio.CancelledError from exc
                    raise
            except Exception as exc:
                if is_unwritable(exc):
                    self._write_failure = (time.monotonic(), str(exc))
                raise
            self._write_failure = None
            return result

    async def read(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``work(conn)`` on the reader connection inside one read snapshot."""
        async with self._read_lock:
            # REPEATABLE READ: every statement of the unit sees one snapshot, as a
            # SQLite read transaction does.
            conn = await self._begin(False, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                return await work(conn)
            finally:
                if await _rollback(conn):
                    raise asyncio.CancelledError

    async def set_write_cache(self, kib: int) -> None:
        """SQLite's page cache setting: PostgreSQL's cache is the server's, so nothing."""

    async def scrub(self) -> bool:
        """SQLite's checkpoint after an erasure: PostgreSQL's (auto)vacuum reclaims the
        deleted rows, and its write-ahead log is the server's (docs/postgresql.md)."""
        return True

    async def probe_write(self, wait: float = 1.0) -> str | None:
        """None when a write could start now, else why not (for /healthz)."""
        try:
            await asyncio.wait_for(self._write_lock.acquire(), wait)
        except TimeoutError:
            return "writes are stuck behind a write that does not finish"
        try:
            if self._writer is None:
                return "the store is closed"
            try:
                # A read-write transaction that takes a lock: fails on a standby, a
                # read-only database or a connection that cannot be made again.
                conn = await self._begin(True, "BEGIN READ WRITE")
            except psycopg.Error as exc:
                return str(exc).strip() or type(exc).__name__
            try:
                await conn.execute(f"SET LOCAL statement_timeout = {_PROBE_TIMEOUT_MS}")
                await conn.execute("LOCK TABLE schema_migrations IN ROW EXCLUSIVE MODE")
                await conn.execute("ROLLBACK")
            except psycopg.Error as exc:
                if await _rollback(conn):
                    raise asyncio.CancelledError from exc
                return str(exc).strip() or type(exc).__name__
        finally:
            self._write_lock.release()
        failure = self._write_failure
        if failure is not None and time.monotonic() - failure[0] < _FAILURE_MEMORY_SECONDS:
            return failure[1]
        return None

    async def trace(self, callback: Callable[[str], object] | None) -> None:
        raise NotImplementedError("trace is SQLite's; on PostgreSQL use log_statement")

    async def close(self) -> None:
        async with self._write_lock, self._read_lock:
            writer, reader = self._writer, self._reader
            self._writer = self._reader = None
            for conn in (reader, writer):
                if conn is not None:
                    await conn.close()


async def _writer(url: str, busy_timeout: float) -> PgConnection:
    conn = await connect(url, connect_timeout=busy_timeout)
    try:
        # lock_timeout: a write waiting for another process's row lock gives up like
        # SQLite's busy timeout, and the caller answers "try again later".
        await conn.execute(f"SET lock_timeout = {int(busy_timeout * 1000)}")
    except BaseException:
        await conn.close()
        raise
    return conn


async def _rollback(conn: PgConnection) -> bool:
    """End the transaction; True when the task was cancelled meanwhile (the shielded
    ROLLBACK still runs): the caller raises CancelledError, so that it is not lost
    (as in the SQLite store's ``_rollback``)."""
    if conn.raw.closed:
        return False
    try:
        await asyncio.shield(conn.raw.execute("ROLLBACK"))
    except psycopg.Error as exc:
        log.error("store: rollback failed: %s", exc)
    except asyncio.CancelledError:
        return True
    return False
