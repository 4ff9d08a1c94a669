"""The same message received by two daemons at the same moment (two MX hosts), on
PostgreSQL: the second's insert waits for the first's transaction, then counts a
repeat delivery on its row instead of failing (which would answer 451)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support import make_settings

from mailbridge.store import inbound
from mailbridge.store.opening import open_store


def received() -> inbound.Received:
    return inbound.Received(
        dedup_key="same-message",
        message_id="<same@client.example>",
        received_at="2026-12-04T10:00:00Z",
        peer="127.0.0.1",
        helo="mx.client.example",
        mail_from="ann@client.example",
        rcpt_to="reply+x@blog.example",
        raw=b"Subject: hi\r\n\r\nhello\r\n",
    )


@pytest.mark.asyncio
async def test_second_insert_waits_and_counts_a_repeat(pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, data_url=pg_url)
    first, second = await open_store(settings), await open_store(settings)
    try:
        inserted = asyncio.Event()

        async def slow(conn: Any) -> tuple[inbound.InboundRecord, bool]:
            found = await inbound.record(conn, received())
            inserted.set()
            await asyncio.sleep(0.5)  # still uncommitted while the other daemon tries
            return found

        async def fast(conn: Any) -> tuple[inbound.InboundRecord, bool]:
            return await inbound.record(conn, received())

        slow_task = asyncio.create_task(first.write(slow))
        await inserted.wait()
        (a, a_new), (b, b_new) = await asyncio.gather(slow_task, second.write(fast))
        assert a_new and not b_new
        assert a.id == b.id
        found = await first.read(lambda c: inbound.find(c, "same-message"))
        assert found is not None and found.deliveries == 2
    finally:
        await first.close()
        await second.close()
