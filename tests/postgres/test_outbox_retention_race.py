"""A bounce that comes for an outbox row at the moment another daemon's housekeeping
deletes it for age (mailbridge.store.outbox_retention), on PostgreSQL.

Before, the bounce read the row, the retention deleted it and committed, and the
bounce's insert failed on the foreign key: a traceback, SMTP 451, and at the bounce's
retry the row was gone, so it counted for nobody and a hard-bouncing address stayed
mailed. Now the bounce's read holds the row (FOR KEY SHARE) and the retention passes it
by (SKIP LOCKED): the bounce counts, and the row stays while the bounce does. A bounce
that comes once the retention holds the row finds it gone: it counts for nobody, as one
that comes after the period does (docs/privacy.md), with no error.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import FakeClock, make_settings

from mailbridge.inbound import bounces
from mailbridge.inbound.bounces import BOUNCE_RECEIVED, BounceAccounting
from mailbridge.inbound.checks import BouncedRecipient, BounceReport
from mailbridge.mail_events import MailEvent, MailEventAccounting
from mailbridge.store import inbound, mail_events, outbox_retention
from mailbridge.store.opening import open_store

READER = "reader@example.net"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=200)
REPORT = BounceReport(
    "rfc3464", (BouncedRecipient(READER, "hard", "5.1.1", "550 5.1.1 no such user"),)
)


async def _seed(conn: Any) -> tuple[int, int]:
    """An address, and an email to it sent 200 days ago (done, past any period)."""
    made = OLD.isoformat(timespec="seconds")
    await conn.execute("INSERT INTO addresses (email, created_at) VALUES (?, ?)", (READER, made))
    async with conn.execute(
        "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
        "attempts, next_attempt_at, created_at, sent_at) VALUES ('reply_notification', "
        "NULL, '<late@blog.example>', 'bounce@reply.example', ?, 'sent', 1, ?, ?, ?) "
        "RETURNING id",
        (READER, OLD.timestamp(), made, made),
    ) as cur:
        outbox_id = int((await cur.fetchone())[0])
    record, _ = await inbound.record(
        conn,
        inbound.Received(
            dedup_key="dsn-late", message_id="<dsn-late@mx.example>",
            received_at=NOW.isoformat(timespec="seconds"), peer="127.0.0.1",
            helo="mx.example", mail_from="", rcpt_to="bounce+t@reply.example",
            raw=b"Subject: Undelivered\r\n\r\nsorry\r\n",
        ),
    )  # fmt: skip
    return outbox_id, record.id


async def _forget(conn: Any) -> int:
    before = (NOW - timedelta(days=90)).isoformat(timespec="seconds")
    return await outbox_retention.forget_old(conn, before, (NOW - timedelta(days=90)).timestamp())


@pytest.mark.asyncio
async def test_a_bounce_that_read_its_row_counts_and_the_retention_leaves_the_row(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, data_url=pg_url)
    first, second = await open_store(settings), await open_store(settings)
    try:
        outbox_id, inbound_id = await first.write(_seed)
        read, forgotten = asyncio.Event(), asyncio.Event()
        addresses = bounces._addresses

        async def slow(conn: Any, row_id: int, reported: list[str]) -> list[int | None]:
            found = await addresses(conn, row_id, reported)
            read.set()
            await forgotten.wait()  # the other daemon's housekeeping runs meanwhile
            return found

        monkeypatch.setattr(bounces, "_addresses", slow)
        accounting = BounceAccounting(first, checks=None, hard_limit=1)  # type: ignore[arg-type]
        bounce = asyncio.create_task(
            accounting.handle(inbound_id, b"", "", outbox_id, NOW.isoformat(), REPORT)
        )
        await read.wait()
        deleted = await asyncio.wait_for(second.write(_forget), 10)
        forgotten.set()
        assert await bounce == BOUNCE_RECEIVED
        assert deleted == 0  # the row the bounce holds is passed by
        rows = await first.read(lambda c: _all(c, "SELECT outbox_id, kind FROM bounces"))
        assert rows == [(outbox_id, "hard")]
        state = await first.read(
            lambda c: _all(c, "SELECT hard_bounces, suppressed_at IS NOT NULL FROM addresses")
        )
        assert state == [(1, True)]  # the address is no longer mailed
        # Later runs leave it too: a bounce names it.
        assert await second.write(_forget) == 0
    finally:
        await first.close()
        await second.close()


@pytest.mark.asyncio
async def test_a_bounce_that_comes_while_the_row_goes_counts_for_nobody_without_error(
    pg_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, data_url=pg_url)
    first, second = await open_store(settings), await open_store(settings)
    try:
        outbox_id, inbound_id = await first.write(_seed)
        deleting, go_on = asyncio.Event(), asyncio.Event()

        async def held(conn: Any) -> int:
            gone = await _forget(conn)
            deleting.set()
            await go_on.wait()  # still uncommitted while the bounce comes
            return gone

        retention = asyncio.create_task(second.write(held))
        await deleting.wait()
        accounting = BounceAccounting(first, checks=None, hard_limit=1)  # type: ignore[arg-type]
        bounce = asyncio.create_task(
            accounting.handle(inbound_id, b"", "", outbox_id, NOW.isoformat(), REPORT)
        )
        await asyncio.sleep(0.5)  # the bounce waits for the retention's transaction
        go_on.set()
        assert await retention == 1
        assert await bounce == BOUNCE_RECEIVED
        assert await first.read(lambda c: _all(c, "SELECT count(*) FROM bounces")) == [(0,)]
        found = await first.read(
            lambda c: _all(c, "SELECT reason FROM inbound_messages WHERE id = ?", inbound_id)
        )
        assert found == [("bounce.none",)]
    finally:
        await first.close()
        await second.close()


@pytest.mark.asyncio
async def test_a_service_event_that_read_its_row_keeps_it_with_the_event(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a mail service's event (no foreign key there: before, the row went
    under the event, which then named a row that was no more)."""
    settings = make_settings(tmp_path, data_url=pg_url)
    first, second = await open_store(settings), await open_store(settings)
    try:
        outbox_id, _ = await first.write(_seed)
        read, forgotten = asyncio.Event(), asyncio.Event()
        insert = mail_events.insert

        async def slow(conn: Any, **fields: Any) -> bool:
            read.set()
            await forgotten.wait()  # the other daemon's housekeeping runs meanwhile
            return await insert(conn, **fields)

        monkeypatch.setattr(mail_events, "insert", slow)
        accounting = MailEventAccounting(first, FakeClock(), hard_limit=1)
        event = MailEvent(
            "sendgrid", "ev1", "hard", "<late@blog.example>", READER, "5.1.1", "no such user"
        )
        recorded = asyncio.create_task(accounting.record([event], "sendgrid"))
        await read.wait()
        deleted = await asyncio.wait_for(second.write(_forget), 10)
        forgotten.set()
        [outcome] = await recorded
        assert outcome.outcome == "suppressed"
        assert deleted == 0
        sql = "SELECT e.outbox_id, o.id FROM mail_events e LEFT JOIN outbox o ON o.id = e.outbox_id"
        named = await first.read(lambda c: _all(c, sql))
        assert named == [(outbox_id, outbox_id)]
    finally:
        await first.close()
        await second.close()


async def _all(conn: Any, sql: str, *args: object) -> list[tuple[Any, ...]]:
    async with conn.execute(sql, args) as cur:
        return [tuple(row) for row in await cur.fetchall()]
