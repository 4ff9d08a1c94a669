"""A unit of work, and a whole group commit, in one trip to the database thread (issue
14, mailbridge.store.onetrip): the units run there over a connection whose awaitables
are complete when made; one that awaits anything else fails, named, rolled back; the
group's savepoints, its cancellation and its failed COMMIT behave as on the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from mailbridge.errors import UnitAwaitedElsewhere
from mailbridge.store import Store
from mailbridge.store.onetrip import on_event_loop

# Without the one trip, a unit awaiting on the event loop may wait for ever: fail instead.
pytestmark = pytest.mark.timeout(30)


async def _store(tmp_path: Path) -> Store:
    store = await Store.open(tmp_path / "db" / "mb.sqlite3")

    async def schema(conn: Any) -> None:
        await conn.execute("CREATE TABLE t (n INTEGER UNIQUE)")
        await conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
        await conn.execute(
            "CREATE TABLE c (p_id INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED)"
        )

    await store.write(schema)
    return store


def insert(n: int, seen: list[int] | None = None):  # type: ignore[no-untyped-def]
    async def work(conn: Any) -> int:
        if seen is not None:
            seen.append(threading.get_ident())
        await conn.execute("INSERT INTO t (n) VALUES (?)", (n,))
        return n * 10

    return work


async def _rows(conn: Any) -> list[int]:
    async with conn.execute("SELECT n FROM t ORDER BY n") as cur:
        return [int(r[0]) for r in await cur.fetchall()]


@pytest.mark.asyncio
async def test_a_group_runs_on_the_database_thread_each_unit_its_own_answer(
    tmp_path: Path,
) -> None:
    store = await _store(tmp_path)
    statements: list[str] = []
    try:
        await store.trace(statements.append)
        seen: list[int] = []
        answers = await asyncio.gather(*(store.write(insert(n, seen)) for n in range(5)))
        assert answers == [0, 10, 20, 30, 40]
        here = threading.get_ident()
        assert len(seen) == 5 and here not in seen, "the units ran on the event loop"
        # One BEGIN IMMEDIATE with no busy-timeout PRAGMAs around it: on the thread it
        # may wait for another process's lock.
        assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT", statements
        assert statements.count("SAVEPOINT unit") == 5
        assert not any(s.startswith("PRAGMA") for s in statements), statements
        assert await store.read(_rows) == [0, 1, 2, 3, 4]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_one_failing_unit_of_a_group_leaves_the_others_committed(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        await store.write(insert(5))
        where: list[int] = []

        async def half_then_fail(conn: Any) -> None:
            where.append(threading.get_ident())
            await conn.execute("INSERT INTO t (n) VALUES (100)")
            await conn.execute("INSERT INTO t (n) VALUES (5)")  # UNIQUE: fails

        results = await asyncio.gather(
            store.write(insert(1)),
            store.write(half_then_fail),
            store.write(insert(2)),
            return_exceptions=True,
        )
        assert where and where[0] != threading.get_ident()
        assert results[0] == 10 and results[2] == 20
        assert isinstance(results[1], sqlite3.IntegrityError)
        assert await store.read(_rows) == [1, 2, 5]  # not 100: its unit undone whole
    finally:
        await store.close()


async def _sleeps(conn: Any) -> None:
    await conn.execute("INSERT INTO t (n) VALUES (7)")
    await asyncio.sleep(0)


async def _waits_for_an_event(conn: Any) -> None:
    await conn.execute("INSERT INTO t (n) VALUES (7)")
    await asyncio.Event().wait()


async def _takes_a_lock(conn: Any) -> None:
    await conn.execute("INSERT INTO t (n) VALUES (7)")
    lock = asyncio.Lock()
    async with lock:  # free: taken without the event loop
        async with asyncio.timeout(0.5):
            await lock.acquire()  # held: waiting for it needs the loop


@pytest.mark.asyncio
@pytest.mark.parametrize("unit", [_sleeps, _waits_for_an_event, _takes_a_lock])
@pytest.mark.parametrize("together", [False, True])
async def test_a_unit_that_awaits_something_else_fails_named_and_rolled_back(
    tmp_path: Path, unit: Any, together: bool
) -> None:
    store = await _store(tmp_path)
    try:
        if together:  # in a group: the others commit, it alone is undone
            results = await asyncio.gather(
                store.write(insert(1)), store.write(unit), store.write(insert(2)),
                return_exceptions=True,
            )  # fmt: skip
            assert results[0] == 10 and results[2] == 20
            failure = results[1]
        else:
            with pytest.raises(UnitAwaitedElsewhere) as raised:
                await asyncio.wait_for(store.write(unit), 10)  # fails, never hangs
            failure = raised.value
        assert isinstance(failure, UnitAwaitedElsewhere), failure
        assert failure.unit == f"{__name__}.{unit.__name__}"
        assert unit.__name__ in str(failure) and "on_event_loop" in str(failure)
        assert await store.read(_rows) == ([1, 2] if together else [])  # no 7
        assert await store.write(insert(3)) == 30  # the writer is out of that transaction
        with pytest.raises(UnitAwaitedElsewhere):
            await asyncio.wait_for(store.read(unit), 10)  # a read: the same
        assert await store.read(_rows) == ([1, 2, 3] if together else [3])
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_unit_marked_on_event_loop_runs_there_and_may_await(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        where: list[int] = []

        @on_event_loop
        async def awaits(conn: Any) -> int:
            where.append(threading.get_ident())
            await conn.execute("INSERT INTO t (n) VALUES (?)", (len(where),))
            await asyncio.sleep(0)
            return len(where)

        assert await store.write(awaits) == 1
        assert await store.read(awaits) == 2  # a read's INSERT is rolled back
        assert where == [threading.get_ident()] * 2
        assert await store.read(_rows) == [1]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_caller_cancelled_before_its_unit_starts_on_the_thread_leaves_no_trace(
    tmp_path: Path,
) -> None:
    store = await _store(tmp_path)
    try:
        started, gate = threading.Event(), threading.Event()

        async def slow(conn: Any) -> None:
            await conn.execute("INSERT INTO t (n) VALUES (1)")
            started.set()
            gate.wait(5)  # on the database thread: the event loop goes on

        # Both in the same group: the second's turn comes after the first's.
        first = asyncio.ensure_future(store.write(slow))
        second = asyncio.ensure_future(store.write(insert(2)))
        assert await asyncio.to_thread(started.wait, 5)
        second.cancel()
        await asyncio.sleep(0.05)  # its unit has not started: the first holds the thread
        gate.set()
        await first
        with pytest.raises(asyncio.CancelledError):
            await second
        assert await store.read(_rows) == [1]
    finally:
        gate.set()
        await store.close()


@pytest.mark.asyncio
async def test_a_failed_commit_is_rolled_back_and_fails_every_unit_of_the_group(
    tmp_path: Path,
) -> None:
    store = await _store(tmp_path)
    try:

        async def orphan(conn: Any) -> None:
            # A deferred foreign key is checked at COMMIT, which fails and leaves the
            # transaction open: only the store's ROLLBACK ends it.
            await conn.execute("INSERT INTO c (p_id) VALUES (42)")

        results = await asyncio.gather(
            store.write(insert(1)), store.write(orphan), return_exceptions=True
        )
        assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results
        assert await store.write(insert(2)) == 20  # not "within a transaction"
        assert await store.read(_rows) == [2]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_the_connection_a_unit_gets_on_the_thread_has_what_units_use(
    tmp_path: Path,
) -> None:
    store = await _store(tmp_path)
    try:

        async def everything(conn: Any) -> dict[str, Any]:
            got: dict[str, Any] = {"dialect": conn.dialect, "in_tx": conn.in_transaction}
            cur = await conn.execute("INSERT INTO t (n) VALUES (?)", (1,))
            got["rowcount"], got["lastrowid"] = cur.rowcount, cur.lastrowid
            cur = await conn.executemany("INSERT INTO t (n) VALUES (?)", [(2,), (3,), (4,)])
            got["many"] = cur.rowcount
            got["insert"] = tuple(await conn.execute_insert("INSERT INTO t (n) VALUES (5)"))
            got["fetchall"] = [tuple(r) for r in await conn.execute_fetchall("SELECT n FROM t")]
            async with conn.execute("SELECT n FROM t WHERE n > ? ORDER BY n", (3,)) as cur:
                row = await cur.fetchone()
                got["fetchone"] = (row["n"], row[0])  # by name and by position
                got["rest"] = [r[0] for r in await cur.fetchall()]
                got["none"] = await cur.fetchone()
            cur = await conn.execute("SELECT n FROM t ORDER BY n")
            got["many_rows"] = [r[0] for r in await cur.fetchmany(2)]
            got["iterated"] = [r[0] async for r in cur]
            await cur.close()
            got["changed"] = (await conn.execute("UPDATE t SET n = n + 10")).rowcount
            return got

        got = await store.write(everything)
        assert got == {
            "dialect": "sqlite",
            "in_tx": True,
            "rowcount": 1,
            "lastrowid": 1,
            "many": 3,
            "insert": (5,),
            "fetchall": [(1,), (2,), (3,), (4,), (5,)],
            "fetchone": (4, 4),
            "rest": [5],
            "none": None,
            "many_rows": [1, 2],
            "iterated": [3, 4, 5],
            "changed": 5,
        }
    finally:
        await store.close()
