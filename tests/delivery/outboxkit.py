"""Queueing and reading outbox rows on a real SQLite file, as the daemon would."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from mailbridge.outbound.transport import Transport
from mailbridge.outbound.worker import DeliveryWorker
from mailbridge.settings import OutboundSettings
from mailbridge.store import Store, outbox, threads


def message(message_id: str, rcpt: str, size: int = 0) -> bytes:
    body = "x" * size
    return (
        f"Message-ID: {message_id}\r\nFrom: b@example.org\r\nTo: {rcpt}\r\n"
        f"Subject: test {message_id}\r\n\r\nbody of {message_id}\r\n{body}\r\n"
    ).encode()


async def queue(
    store: Store, rcpts: Sequence[str], *, at: datetime | None = None, prefix: str = "m"
) -> list[int]:
    """One row per recipient, Message-ID ``<{prefix}{i}@test>``; return the row ids."""
    moment = at or datetime.now(UTC)

    async def work(conn: aiosqlite.Connection) -> list[int]:
        ids = []
        for i, rcpt in enumerate(rcpts):
            mid = f"<{prefix}{i}@test>"
            out = outbox.Outgoing("test", None, mid, "b@example.org", rcpt, message(mid, rcpt))
            row_id = await outbox.enqueue(conn, out, moment.timestamp(), moment.isoformat())
            assert row_id is not None
            ids.append(row_id)
        return ids

    return await store.write(work)


async def rows(store: Store) -> list[tuple[Any, ...]]:
    async def work(conn: aiosqlite.Connection) -> list[tuple[Any, ...]]:
        async with conn.execute(
            "SELECT message_id, status, attempts, last_error FROM outbox ORDER BY id"
        ) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    return await store.read(work)


async def sql(store: Store, query: str, *args: Any) -> list[tuple[Any, ...]]:
    async def work(conn: aiosqlite.Connection) -> list[tuple[Any, ...]]:
        await conn.execute(query, args)
        return []

    return await store.write(work)


def worker(store: Store, transport: Transport, clock: Any, **options: Any) -> DeliveryWorker:
    settings = options.pop("settings", OutboundSettings())
    return DeliveryWorker(store, transport, settings, clock, random.Random(1), **options)


async def stored(store: Store, *emails: str) -> None:
    """The addresses, as a commenter's would be stored, before mail is queued to them."""

    async def work(conn: aiosqlite.Connection) -> None:
        for email in emails:
            await threads.upsert_address(conn, email, "2026-01-01T00:00:00+00:00")

    await store.write(work)


async def hard_bounces(store: Store, email: str) -> int:
    """The hard bounces counted against ``email``."""
    state = await store.read(lambda conn: threads.address_state(conn, email=email))
    return int(state.hard_bounces)
