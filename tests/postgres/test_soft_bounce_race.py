"""Two daemons on one PostgreSQL recording deferrals of one message at the same moment
(mailbridge.store.threads.soft_bounce_is_first): one soft bounce, not two.

A message counts at most one soft bounce of its recipient. Each daemon checks, in its
own transaction, whether the message already counted one; without a lock both checks
ran before either committed, both saw only their own event, and both counted. The check
now locks the address row first (as the count's UPDATE locks it): the second daemon
waits for the first to commit, and its check, a statement of its own, sees the first
one's event."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pg import waiting_for_a_lock
from support import FakeClock, make_settings

from mailbridge.mail_events import MailEvent, MailEventAccounting
from mailbridge.store import threads
from mailbridge.store.opening import open_store

READER = "reader@example.net"
SENT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


async def _seed(conn: Any) -> None:
    """An address, and an email sent to it."""
    made = SENT.isoformat(timespec="seconds")
    await conn.execute("INSERT INTO addresses (email, created_at) VALUES (?, ?)", (READER, made))
    await conn.execute(
        "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
        "attempts, next_attempt_at, created_at, sent_at) VALUES ('reply_notification', "
        "NULL, '<greylisted@blog.example>', 'bounce@reply.example', ?, 'sent', 1, ?, ?, ?)",
        (READER, SENT.timestamp(), made, made),
    )


def _deferred(event_id: str) -> MailEvent:
    return MailEvent(
        "sendgrid", event_id, "soft", "<greylisted@blog.example>", READER, "",
        "451 4.7.1 Greylisted, please try again later",
    )  # fmt: skip


@pytest.mark.asyncio
async def test_two_daemons_counting_one_messages_deferrals_at_once_count_one(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, data_url=pg_url)
    first, second = await open_store(settings), await open_store(settings)
    try:
        await first.write(_seed)
        checked, go_on = asyncio.Event(), asyncio.Event()
        count_bounce = threads.count_bounce

        async def held(conn: Any, *args: Any) -> bool:
            if not checked.is_set():  # the first daemon: checked, not committed yet
                checked.set()
                await go_on.wait()
            return await count_bounce(conn, *args)

        monkeypatch.setattr(threads, "count_bounce", held)
        one = MailEventAccounting(first, FakeClock(), hard_limit=2)
        other = MailEventAccounting(second, FakeClock(), hard_limit=2)
        earlier = asyncio.create_task(one.record([_deferred("attempt-1")], "sendgrid:a"))
        await checked.wait()
        later = asyncio.create_task(other.record([_deferred("attempt-2")], "sendgrid:b"))
        try:
            await waiting_for_a_lock(pg_url, later)
        finally:
            go_on.set()
        [done] = await earlier
        [again] = await later
        assert (done.outcome, again.outcome) == ("counted", "counted_before")

        async def state(conn: Any) -> list[tuple[Any, ...]]:
            async with conn.execute("SELECT hard_bounces, soft_bounces FROM addresses") as cur:
                return [tuple(row) for row in await cur.fetchall()]

        assert await first.read(state) == [(0, 1)]
    finally:
        await first.close()
        await second.close()
