"""An erasure at the moment another daemon's retention deletes the same old rows, on
PostgreSQL: what /metrics' counters counted of them is added to ``deleted_counts``
once (mailbridge.store.deleted_counts).

Before, each side first counted the rows its WHERE picked (a SELECT), then deleted
them: the retention counted and deleted its rows, uncommitted; the erasure's count,
reading the rows still there, counted them too; its DELETE then waited for the
retention, found them gone and deleted nothing. The counter, which only goes up,
stayed one email (or one message) too high for good. Now each side counts what its
own DELETE returned: a row is counted by the statement that deleted it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pg import waiting_for_a_lock
from support import make_settings

from mailbridge.people.data import erase
from mailbridge.store import deleted_counts, inbound_retention, outbox_retention
from mailbridge.store.opening import open_store

READER = "reader@example.net"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=200)
BEFORE = NOW - timedelta(days=90)


async def _seed(conn: Any) -> None:
    """An address; an email sent to it and a message received from it, 200 days ago
    (past any period), each counted by /metrics."""
    made = OLD.isoformat(timespec="seconds")
    await conn.execute("INSERT INTO addresses (email, created_at) VALUES (?, ?)", (READER, made))
    await conn.execute(
        "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
        "attempts, next_attempt_at, created_at, sent_at) VALUES ('reply_notification', "
        "NULL, '<old@blog.example>', 'bounce@reply.example', ?, 'sent', 1, ?, ?, ?)",
        (READER, OLD.timestamp(), made, made),
    )
    await conn.execute(
        "INSERT INTO inbound_messages (stage, message_id, received_at, peer, helo, mail_from, "
        "rcpt_to, size, address_id, status, reason, counted_as) VALUES ('data', '<r@x>', ?, "
        "'127.0.0.1', 'mx', ?, 'r+t@reply.example', 10, "
        "(SELECT id FROM addresses WHERE email = ?), 'rejected', 'empty_reply', 'rejected')",
        (made, READER, READER),
    )


async def _outbox(conn: Any) -> int:
    return await outbox_retention.forget_old(
        conn, BEFORE.isoformat(timespec="seconds"), BEFORE.timestamp()
    )


async def _inbound(conn: Any) -> int:
    return (await inbound_retention.forget_old(conn, BEFORE.isoformat(timespec="seconds"))).messages


@pytest.mark.parametrize("retention", [_outbox, _inbound], ids=["outbox", "inbound"])
@pytest.mark.asyncio
async def test_an_erasure_beside_the_retention_counts_each_deleted_row_once(
    pg_url: str, tmp_path: Path, retention: Callable[[Any], Awaitable[int]]
) -> None:
    settings = make_settings(tmp_path, data_url=pg_url)
    first, second = await open_store(settings), await open_store(settings)
    try:
        await first.write(_seed)
        deleting, go_on = asyncio.Event(), asyncio.Event()

        async def held(conn: Any) -> int:
            gone = await retention(conn)
            deleting.set()
            await go_on.wait()  # deleted, not committed yet, while the erasure runs
            return gone

        forgetting = asyncio.create_task(second.write(held))
        await deleting.wait()
        erasing = asyncio.create_task(
            first.write(lambda conn: erase(conn, READER, remove_comments=False, now=NOW))
        )
        try:
            await waiting_for_a_lock(pg_url, erasing)
        finally:
            go_on.set()
        assert await forgetting == 1
        await erasing
        # One email sent, its one attempt, one message received: whichever deleted them.
        found = await first.read(deleted_counts.added)
        assert {k: v for k, v in found.items() if v} == {
            ("deliveries", "sent"): 1,
            ("attempts", ""): 1,
            ("received", "rejected"): 1,
        }
    finally:
        await first.close()
        await second.close()
