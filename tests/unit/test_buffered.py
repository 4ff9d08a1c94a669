"""store/buffered.py: one trip per statement, the same answers as aiosqlite's cursors."""

from __future__ import annotations

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
