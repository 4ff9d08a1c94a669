"""store/buffered.py: one trip per statement, the same answers as aiosqlite's cursors."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from mailbridge.store import buffered


@pytest.mark.asyncio
@pytest.mark.parametrize("rows", [0, 1, buffered.FIRST_ROWS - 1, buffered.FIRST_ROWS, 200])
async def test_results_of_any_length_come_back_whole_and_in_order(
    tmp_path: Path, rows: int
) -> None:
    async with buffered.connect(tmp_path / "t.db", isolation_level=None) as conn:
        await conn.execute("CREATE TABLE t (n INTEGER)")
        many = await conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(rows)])
        assert many.rowcount == rows
        async with conn.execute("SELECT n FROM t ORDER BY n") as cur:
            assert await cur.fetchall() == [(n,) for n in range(rows)]
        async with conn.execute("SELECT n FROM t ORDER BY n") as cur:
            got = [await cur.fetchone() for _ in range(rows + 2)]
            assert got == [(n,) for n in range(rows)] + [None, None]
        async with conn.execute("SELECT n FROM t ORDER BY n") as cur:
            first = list(await cur.fetchmany(3))
            rest = list(await cur.fetchall())
            assert first + rest == [(n,) for n in range(rows)]


@pytest.mark.asyncio
async def test_writes_report_their_rowcount_and_lastrowid(tmp_path: Path) -> None:
    async with buffered.connect(tmp_path / "t.db", isolation_level=None) as conn:
        await conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
        cur = await conn.execute("INSERT INTO t (n) VALUES (7)")
        assert cur.lastrowid == 1
        cur = await conn.execute("UPDATE t SET n = 8 WHERE n = 7")
        assert cur.rowcount == 1
        async with conn.execute("INSERT INTO t (n) VALUES (9) RETURNING id") as cur:
            assert await cur.fetchone() == (2,)
        cursor = await conn.execute("SELECT count(*) FROM t")
        assert await cursor.fetchone() == (2,)
        await cursor.execute("SELECT max(n) FROM t")  # the cursor used again
        assert await cursor.fetchone() == (9,)
        await cursor.close()


@pytest.mark.asyncio
async def test_statements_run_here_unless_they_may_wait(tmp_path: Path) -> None:
    """Where each statement ran, as SQLite's trace callback sees it (called where the
    statement runs)."""
    here = threading.get_ident()
    seen: list[tuple[str, bool]] = []
    async with buffered.connect(tmp_path / "t.db", isolation_level=None) as conn:
        await conn.set_trace_callback(lambda sql: seen.append((sql, threading.get_ident() == here)))
        await conn.execute("CREATE TABLE t (n INTEGER)")
        await conn.execute("BEGIN IMMEDIATE")  # may wait for another process's lock
        await conn.execute("INSERT INTO t VALUES (1)")
        async with conn.execute("SELECT n FROM t") as cur:
            assert await cur.fetchall() == [(1,)]
        assert list(await conn.execute_fetchall("SELECT n + 1 FROM t")) == [(2,)]
        assert tuple(await conn.execute_insert("INSERT INTO t VALUES (5)") or ()) == (2,)
        await conn.execute("COMMIT")  # the fsync
        await conn.execute("PRAGMA user_version")
        await conn.executemany("INSERT INTO t VALUES (?)", [(2,), (3,)])  # a few rows
        bulk = [(n,) for n in range(10, 11 + buffered.INLINE_MANY)]
        await conn.executemany("INSERT INTO t VALUES (?)", bulk)  # a bulk load
        await conn.executemany("INSERT INTO t VALUES (?)", iter([(4,)]))  # length unknown
        await conn.execute("BEGIN")  # a reader's snapshot: takes no lock
        await conn.execute("ROLLBACK")
    assert seen == [
        ("CREATE TABLE t (n INTEGER)", True),
        ("BEGIN IMMEDIATE", False),
        ("INSERT INTO t VALUES (1)", True),
        ("SELECT n FROM t", True),
        ("SELECT n + 1 FROM t", True),
        ("INSERT INTO t VALUES (5)", True),
        ("SELECT last_insert_rowid()", True),
        ("COMMIT", False),
        ("PRAGMA user_version", False),
        ("INSERT INTO t VALUES (2)", True),
        ("INSERT INTO t VALUES (3)", True),
        *((f"INSERT INTO t VALUES ({n})", False) for (n,) in bulk),
        ("INSERT INTO t VALUES (4)", False),
        ("BEGIN", True),
        ("ROLLBACK", True),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("cancelled", [False, True])
async def test_a_statement_waits_its_turn_behind_a_trip_in_flight(
    tmp_path: Path, cancelled: bool
) -> None:
    """A COMMIT whose caller was cancelled still runs on the thread: what comes after it
    (the ROLLBACK that _rollback sends) must run after it, not beside it here."""
    async with buffered.connect(tmp_path / "t.db", isolation_level=None) as conn:
        await conn.execute("CREATE TABLE t (n INTEGER)")
        await conn.execute("INSERT INTO t VALUES (1)")
        gate = threading.Event()
        trip = asyncio.ensure_future(conn._execute(gate.wait, 5))  # holds the thread
        await asyncio.sleep(0.05)
        if cancelled:
            trip.cancel()
        after = asyncio.ensure_future(conn.execute("SELECT count(*) FROM t"))
        await asyncio.sleep(0.05)
        assert not after.done()  # behind the trip, not run here
        gate.set()
        async with await after as cur:
            assert await cur.fetchone() == (1,)
        # the trip done, statements run here again
        assert conn._idle()


@pytest.mark.asyncio
async def test_the_write_lock_is_taken_here_when_free_and_waited_for_on_the_thread(
    tmp_path: Path,
) -> None:
    here = threading.get_ident()
    seen: list[tuple[str, bool]] = []
    path = tmp_path / "t.db"
    async with buffered.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.execute("CREATE TABLE t (n INTEGER)")
        await conn.set_trace_callback(lambda sql: seen.append((sql, threading.get_ident() == here)))
        await conn.begin_immediate()  # nobody holds the lock: taken here
        await conn.execute("COMMIT")
        assert ("BEGIN IMMEDIATE", True) in seen

        # Another process's writer (here another connection) holds it for a moment.
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        seen.clear()
        release = threading.Timer(0.3, other.execute, ("COMMIT",))
        release.start()
        try:
            began = time.monotonic()
            await conn.begin_immediate()  # waits on the thread, the event loop free
            assert time.monotonic() - began >= 0.25
        finally:
            release.join()
            other.close()
        assert [s for s in seen if s[0] == "BEGIN IMMEDIATE"] == [
            ("BEGIN IMMEDIATE", True),  # the try without waiting, refused
            ("BEGIN IMMEDIATE", False),  # then on the thread, until the lock was free
        ]
        await conn.execute("INSERT INTO t VALUES (1)")
        await conn.execute("COMMIT")
        async with conn.execute("PRAGMA busy_timeout") as cur:
            assert await cur.fetchone() == (5000,)  # put back after the try


@pytest.mark.asyncio
async def test_the_write_lock_is_taken_without_asking_for_the_busy_timeout_it_was_given(
    tmp_path: Path,
) -> None:
    """The busy timeout set through ``execute`` is remembered: taking the write lock costs
    two PRAGMAs (none, then back), not three (issue 14). Set another way, it is asked."""
    seen: list[str] = []
    async with buffered.connect(tmp_path / "t.db", isolation_level=None) as conn:
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.set_trace_callback(seen.append)
        await conn.begin_immediate()
        await conn.execute("COMMIT")
        assert seen == [
            "PRAGMA busy_timeout = 0",
            "BEGIN IMMEDIATE",
            "PRAGMA busy_timeout = 5000",
            "COMMIT",
        ]
        await conn.execute_fetchall("PRAGMA busy_timeout = 700")
        seen.clear()
        await conn.begin_immediate()
        await conn.execute("COMMIT")
        assert seen == [
            "PRAGMA busy_timeout",
            "PRAGMA busy_timeout = 0",
            "BEGIN IMMEDIATE",
            "PRAGMA busy_timeout = 700",
            "COMMIT",
        ]
