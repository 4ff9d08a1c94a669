"""The hourly limits count from indexes alone (migration 0022): no comment or message
row is read, however long the comments of the last hour are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiosqlite
import pytest

from mailbridge.clock import iso
from mailbridge.inbound import limits
from mailbridge.rejections import SenderRateLimited, ThreadRateLimited
from mailbridge.settings import LimitSettings
from mailbridge.store import Store

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LONG = "a long comment, its body spilling to overflow pages " * 100


async def fill(
    store: Store, minutes_ago: list[int], source: str, stage: str = "data", tag: str = ""
) -> None:
    """Comments from person 1 on thread 1, and their inbound messages, ``minutes_ago``."""

    async def work(conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "INSERT OR IGNORE INTO threads (id, key, url, title, created_at) "
            "VALUES (1, 'k', 'https://blog.example/1', 't', '2026-01-01')"
        )
        await conn.execute(
            "INSERT OR IGNORE INTO addresses (id, email, created_at) "
            "VALUES (1, 'ann@example.org', '2026-01-01')"
        )
        for n, ago in enumerate(minutes_ago):
            at = iso(NOW - timedelta(minutes=ago))
            await conn.execute(
                "INSERT INTO comments (thread_id, address_id, author, body, status, source, "
                "created_at) VALUES (1, 1, 'Ann', ?, 'pending', ?, ?)",
                (f"{LONG} {source}{tag} {n}", source, at),
            )
            await conn.execute(
                "INSERT INTO inbound_messages (dedup_key, stage, message_id, received_at, peer, "
                "helo, mail_from, rcpt_to, size, address_id, status) "
                "VALUES (?, ?, ?, ?, '127.0.0.1', 'h', 'ann@example.org', 'r@blog.example', 1, "
                "1, 'received')",
                (f"{source}{tag}{n}", stage, f"<{source}{tag}{n}@x>", at),
            )

    await store.write(work)


@pytest.mark.sqlite_only(
    "asks SQLite's planner; the limits run on both engines in test_inbound_trust.py"
)
@pytest.mark.asyncio
async def test_the_counts_read_only_indexes(store: Store) -> None:
    await fill(store, [1, 2, 3], "email")
    since = iso(NOW - timedelta(hours=1))
    plans: list[str] = []

    async def explain(conn: aiosqlite.Connection) -> None:
        for sql, args in (limits._by_address(1, since), limits._in_thread(1, since)):
            async with conn.execute("EXPLAIN QUERY PLAN " + sql, args) as cur:
                plans.extend(str(row[3]) for row in await cur.fetchall())

    await store.read(explain)
    searches = sorted(p for p in plans if p.startswith(("SEARCH", "SCAN")))
    assert len(searches) == 3, plans
    for plan, (table, index) in zip(
        searches,
        [
            ("comments", "comments_live_by_thread"),
            ("comments", "comments_web_by_address"),
            ("inbound_messages", "inbound_data_by_address"),
        ],
        strict=True,
    ):
        assert plan.startswith(f"SEARCH {table} USING COVERING INDEX {index} "), plans


@pytest.mark.asyncio
async def test_the_counts_are_what_they_were(store: Store) -> None:
    # Counted: email and web comments in the thread, the person's messages that reached
    # DATA and web comments, in the last hour. Not: imports, older ones, RCPT-only rows.
    await fill(store, [5, 10, 70], "email")
    await fill(store, [20, 90], "web")
    await fill(store, [1, 2, 3, 4], "import")
    await fill(store, [1, 2], "email", stage="rcpt", tag="rcpt")

    async def check(conn: aiosqlite.Connection, per_sender: int, per_thread: int) -> None:
        settings = LimitSettings(
            messages_per_sender_per_hour=per_sender, comments_per_thread_per_hour=per_thread
        )
        await limits.check_rates(conn, settings, NOW, address_id=1, thread_id=1)

    async def counts(conn: aiosqlite.Connection) -> tuple[int, int]:
        since = iso(NOW - timedelta(hours=1))
        found = []
        for sql, args in (limits._by_address(1, since), limits._in_thread(1, since)):
            count, _oldest = await limits._count_and_oldest(conn, sql, args)
            found.append(count)
        return found[0], found[1]

    sender, thread = await store.read(counts)
    # Messages at DATA in the hour: email 5, 10; web 20; import 1, 2, 3, 4 (their rows
    # stand for messages); plus web comments in the hour: 20.
    assert sender == 2 + 1 + 4 + 1
    # Comments in the thread in the hour, imports aside: email 5, 10; web 20; rcpt 1, 2.
    assert thread == 2 + 1 + 2
    await store.read(lambda c: check(c, sender + 1, thread + 1))
    with pytest.raises(SenderRateLimited) as sent:
        await store.read(lambda c: check(c, sender, thread + 1))
    # The oldest counted event is 20 minutes old (the web comment's message and the
    # comment itself): it ages out in 40 minutes.
    assert sent.value.retry_after == 40 * 60
    with pytest.raises(ThreadRateLimited) as threaded:
        await store.read(lambda c: check(c, sender + 1, thread))
    assert threaded.value.retry_after == 40 * 60
