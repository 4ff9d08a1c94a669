"""A task cancelled while the store ends its transaction is cancelled: the store must
not swallow it (a stopping daemon once waited 30 s for a periodic job whose
cancellation arrived during its read's ROLLBACK, after which it went back to sleep)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest
from support import make_settings

from mailbridge.store import Store
from mailbridge.store.opening import open_store


async def _one(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT 1") as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _cancelled_while_ending(store: Store) -> list[str]:
    """Cancel the task right after its unit returns: the cancellation lands while the
    store ends the read snapshot (the unit's return is not a suspension point, the
    store's ROLLBACK is)."""
    went_on: list[str] = []

    async def work(conn: aiosqlite.Connection) -> int:
        value = await _one(conn)
        loop.call_soon(task.cancel)  # runs at the store's next await: its ROLLBACK
        return value

    async def caller() -> None:
        await store.read(work)
        went_on.append("went on")  # what a job does next: go back to sleep for a day

    loop = asyncio.get_running_loop()
    task = asyncio.create_task(caller())
    with pytest.raises(asyncio.CancelledError):
        await task
    return went_on


@pytest.mark.asyncio
async def test_a_read_cancelled_as_its_snapshot_ends_is_cancelled(tmp_path: Path) -> None:
    store = await open_store(make_settings(tmp_path))  # SQLite, or --store=postgresql
    try:
        assert await _cancelled_while_ending(store) == []
        assert await store.read(_one) == 1  # the connection is usable again
        assert await store.write(_one) == 1
    finally:
        await store.close()
