"""Group commit (issue 14): writes that arrive together share one transaction and one
fsync; each caller still gets its own answer only once committed, and a unit that
fails is rolled back alone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from mailbridge.store import Store


async def _store(tmp_path: Path) -> tuple[Store, list[str]]:
    store = await Store.open(tmp_path / "db" / "mb.sqlite3")
    seen: list[str] = []
    await store.trace(
        lambda sql: seen.append(sql) if sql in ("COMMIT", "BEGIN IMMEDIATE") else None
    )
    await store.write(lambda c: c.execute("CREATE TABLE t (n INTEGER UNIQUE)"))
    seen.clear()
    return store, seen


def insert(n: int):  # type: ignore[no-untyped-def]
    async def work(conn: aiosqlite.Connection) -> int:
        await conn.execute("INSERT INTO t (n) VALUES (?)", (n,))
        return n * 10

    return work


async def rows(store: Store) -> list[int]:
    async def work(conn: aiosqlite.Connection) -> list[int]:
        async with conn.execute("SELECT n FROM t ORDER BY n") as cur:
            return [int(r[0]) for r in await cur.fetchall()]

    return await store.read(work)


@pytest.mark.asyncio
async def test_writes_that_arrive_together_share_a_commit_and_get_their_own_answers(
    tmp_path: Path,
) -> None:
    store, seen = await _store(tmp_path)
    try:
        answers = await asyncio.gather(*(store.write(insert(n)) for n in range(20)))
        assert answers == [n * 10 for n in range(20)]
        assert await rows(store) == list(range(20))  # committed when each was answered
        assert 1 <= seen.count("COMMIT") < 20, seen  # fewer commits than writes
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_failing_unit_is_rolled_back_alone(tmp_path: Path) -> None:
    store, _seen = await _store(tmp_path)
    try:
        await store.write(insert(5))

        async def half_then_fail(conn: aiosqlite.Connection) -> None:
            await conn.execute("INSERT INTO t (n) VALUES (100)")
            await conn.execute("INSERT INTO t (n) VALUES (5)")  # UNIQUE: fails

        results = await asyncio.gather(
            store.write(insert(1)),
            store.write(half_then_fail),
            store.write(insert(2)),
            return_exceptions=True,
        )
        assert results[0] == 10 and results[2] == 20
        assert isinstance(results[1], sqlite3.IntegrityError)
        assert await rows(store) == [1, 2, 5]  # not 100: its unit was undone whole
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_caller_cancelled_before_its_turn_leaves_no_trace(tmp_path: Path) -> None:
    store, _seen = await _store(tmp_path)
    try:
        gate = asyncio.Event()

        async def slow(conn: aiosqlite.Connection) -> None:
            await conn.execute("INSERT INTO t (n) VALUES (1)")
            await gate.wait()

        first = asyncio.ensure_future(store.write(slow))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(store.write(insert(2)))
        await asyncio.sleep(0.05)
        waiting.cancel()
        gate.set()
        await first
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await rows(store) == [1]
    finally:
        await store.close()
