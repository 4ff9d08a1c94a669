"""Housekeeping keeps up with a backlog. Before, the inbound log's retention deleted at
most 5,000 rows an hour, in the hour's one transaction: a site refusing a robot flood
at RCPT records more than that, and its log grew without bound. Now the rest goes
batch after batch in the same run, each batch a transaction of its own, so that a reply
arriving meanwhile is answered between two of them; a run drains for a bounded time
and leaves the rest to the next hour."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flows import reply_notification
from support import (
    FakeClock,
    db_rows,
    import_seed,
    make_settings,
    no_dmarc_zone,
    reply_address,
    reply_to_notification,
    smtp_send,
)

from mailbridge.app import running
from mailbridge.housekeeping import Housekeeping
from mailbridge.models import Channel, Decider
from mailbridge.settings import Settings
from mailbridge.store import Store, inbound_retention
from mailbridge.tokens import Action

READER = "reader002.4a549d@example.org"
FLOOD = 30_000


def flood(received_at: str, count: int) -> Any:
    """``count`` robots refused at RCPT at ``received_at``, as inbound.record_refusal
    records each (one statement: 30,000 of them one by one take a minute)."""

    async def work(conn: Any) -> None:
        await conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO inbound_messages (stage, received_at, peer, helo, mail_from, "
            "rcpt_to, size, status, reason, detail, counted_as) "
            "SELECT 'rcpt', ?, '127.0.0.1', 'bot', 'robot' || i || '@flood.example', "
            "'nobody@reply.example.org', 0, 'refused', 'unknown_recipient', 'no such address', "
            "'refused' FROM n",
            (count, received_at),
        )

    return work


def keeper(settings: Settings, store: Store, clock: FakeClock, **kw: Any) -> Housekeeping:
    return Housekeeping(
        store,
        clock,
        settings.inbound.raw_retention_days,
        sent_days=settings.smtp.reply_token_days,
        log_days=settings.inbound.keep_days,
        **kw,
    )


async def refused(daemon: Any) -> int:
    [(count,)] = await db_rows(
        daemon, "SELECT count(*) FROM inbound_messages WHERE status = 'refused'"
    )
    return int(count)


@pytest.mark.asyncio
async def test_a_flood_of_refusals_goes_in_one_run_and_a_reply_meanwhile_is_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 90})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        notification = await reply_notification(daemon)
        await daemon.store.write(flood((clock.now() - timedelta(days=100)).isoformat(), FLOOD))
        assert await refused(daemon) == FLOOD

        reply = reply_to_notification(notification, "Thank you, Ann: this helped me a lot.")
        sending: list[asyncio.Task[str]] = []
        left_when_answered: list[int] = []

        async def between() -> None:
            # Before the third batch: the reply arrives, and goes through the daemon
            # while the purge goes on. Before the fourth: it must have been answered
            # (had the purge kept the writer, the 250 would wait for its end).
            if not sending and await refused(daemon) < FLOOD - inbound_retention.BATCH:
                data = reply.as_bytes()
                rcpt = reply_address(notification)
                sending.append(asyncio.create_task(smtp_send(daemon, READER, rcpt, data)))
            elif sending and not left_when_answered:
                await asyncio.wait_for(asyncio.shield(sending[0]), 120)
                left_when_answered.append(await refused(daemon))

        caplog.set_level(logging.INFO, logger="mailbridge")
        await keeper(settings, daemon.store, clock, between=between).run_once()

        assert sending and sending[0].result().startswith("250"), sending
        # Answered with robots still in the log: between two batches, not after them.
        assert left_when_answered and left_when_answered[0] > 0
        # All 30,000 in the one run; the reply is filed, its row kept (its comment waits).
        assert await refused(daemon) == 0
        assert await db_rows(
            daemon, "SELECT status FROM inbound_messages WHERE mail_from = ?", READER
        ) == [("accepted",)]
        assert await db_rows(
            daemon, "SELECT count FROM deleted_counts WHERE counter = 'received' "
            "AND label = 'refused'",
        ) == [(FLOOD,)]  # fmt: skip
        assert "robot" not in caplog.text and "flood.example" not in caplog.text


@pytest.mark.asyncio
async def test_a_run_drains_for_a_bounded_time_and_the_next_one_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 90})
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        batches = 3
        await daemon.store.write(
            flood((clock.now() - timedelta(days=100)).isoformat(),
                  batches * inbound_retention.BATCH + 1)
        )  # fmt: skip
        caplog.set_level(logging.INFO, logger="mailbridge")
        # No time to drain: the hour's one batch, and a line saying the rest waits.
        await keeper(settings, daemon.store, clock, drain_seconds=0).run_once()
        assert await refused(daemon) == (batches - 1) * inbound_retention.BATCH + 1
        assert "the rest goes in the next run" in caplog.text
        # The next run, with its time: the rest.
        await keeper(settings, daemon.store, clock).run_once()
        assert await refused(daemon) == 0


@pytest.mark.asyncio
async def test_every_batch_of_the_drain_keeps_a_filed_reply_while_its_address_works(
    tmp_path: Path,
) -> None:
    """The batches after the hour's first (the drain) keep a filed reply's row as long
    as the first batch does: while its reply address works, the row is what finds the
    same reply delivered again (test_inbound_log_retention.py). Merging the drain with
    that rule, the drain's batches were first written without it."""
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 30}, smtp={"reply_token_days": 120})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        notification = await reply_notification(daemon)
        # The robots first: the hour's first batch (lowest ids) takes two of them, and
        # the reply's row is met by the drain's batches.
        await daemon.store.write(flood((clock.now() - timedelta(days=9)).isoformat(), 7))
        reply = reply_to_notification(notification, "Thank you, Ann: this helped, twice over.")
        sent = await smtp_send(daemon, READER, reply_address(notification), reply.as_bytes())
        assert sent.startswith("250")
        [(comment_id,)] = await db_rows(
            daemon, "SELECT comment_id FROM inbound_messages WHERE status = 'accepted'"
        )
        await daemon.service.moderate(comment_id, Action.APPROVE, Decider(Channel.CLI, None))
        clock.advance(timedelta(days=31).total_seconds())  # past keep_days, not the token's

        await keeper(settings, daemon.store, clock, batches=(200, 2)).run_once()

        assert await refused(daemon) == 0  # four batches: the first and three drained
        assert await db_rows(
            daemon, "SELECT status FROM inbound_messages WHERE mail_from = ?", READER
        ) == [("accepted",)]


RAW = 2_000


async def raw_kept(daemon: Any) -> int:
    [(count,)] = await db_rows(daemon, "SELECT count(*) FROM inbound_raw")
    return int(count)


@pytest.mark.asyncio
async def test_old_raw_messages_go_batch_after_batch_and_a_reply_meanwhile_is_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, the raw messages past inbound.raw_retention_days went in one statement:
    on a big log (a month of a busy site, messages of megabytes) it held the one
    writer to its end, and every reply waited. Now they go batch after batch, each
    committed on its own, in the same run."""
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 90, "raw_retention_days": 30})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        notification = await reply_notification(daemon)
        # Messages of 40 days ago, their rows kept (90 days), their raw bytes past 30.
        await daemon.store.write(flood((clock.now() - timedelta(days=40)).isoformat(), RAW))

        async def raws(conn: Any) -> None:
            await conn.execute(
                "INSERT INTO inbound_raw (inbound_id, raw) SELECT id, ? FROM inbound_messages "
                "WHERE status = 'refused'",
                (b"Subject: robot\r\n\r\n" + b"x" * 4000 + b"\r\n",),
            )

        await daemon.store.write(raws)
        kept_before = await raw_kept(daemon)
        assert kept_before >= RAW

        reply = reply_to_notification(notification, "Thank you, Ann: this helped me a lot.")
        sending: list[asyncio.Task[str]] = []
        left_when_answered: list[int] = []

        async def between() -> None:
            # As for the log's flood (above): the reply arrives between two batches and
            # is answered before the purge's end.
            if not sending and await raw_kept(daemon) < kept_before - 200:
                data = reply.as_bytes()
                rcpt = reply_address(notification)
                sending.append(asyncio.create_task(smtp_send(daemon, READER, rcpt, data)))
            elif sending and not left_when_answered:
                await asyncio.wait_for(asyncio.shield(sending[0]), 120)
                left_when_answered.append(await raw_kept(daemon))

        caplog.set_level(logging.INFO, logger="mailbridge")
        await keeper(settings, daemon.store, clock, between=between, raw_batch=200).run_once()

        assert sending and sending[0].result().startswith("250"), sending
        # Answered with old raw bytes still kept: between two batches, not after them.
        assert left_when_answered and left_when_answered[0] > 0
        # Every old one in the one run; the recent ones (the reply's, the seed's) kept.
        assert await db_rows(
            daemon, "SELECT count(*) FROM inbound_raw r JOIN inbound_messages m "
            "ON m.id = r.inbound_id WHERE m.status = 'refused'",
        ) == [(0,)]  # fmt: skip
        assert await db_rows(
            daemon, "SELECT count(*) FROM inbound_raw r JOIN inbound_messages m "
            "ON m.id = r.inbound_id WHERE m.mail_from = ?", READER,
        ) == [(1,)]  # fmt: skip
        assert await refused(daemon) == RAW  # their rows stay (inbound.keep_days)
        assert "the raw bytes of 200 inbound message(s)" in caplog.text


@pytest.mark.asyncio
async def test_the_outbox_history_past_its_period_goes_in_one_run(tmp_path: Path) -> None:
    """The first run after the upgrade that gave the outbox a retention meets every email
    ever sent: the rows past the period go batch after batch in the drain, the inbound
    log having nothing to forget, and the counters keep them."""
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 30}, smtp={"reply_token_days": 30})
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        old = clock.now() - timedelta(days=400)
        made = old.isoformat(timespec="seconds")

        async def history(conn: Any) -> None:
            await conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO outbox (kind, message_id, mail_from, rcpt_to, status, attempts, "
                "next_attempt_at, created_at, sent_at) SELECT 'reply_notification', "
                "'<' || i || '@history.example>', 'b@reply.example.org', "
                "'r' || i || '@example.net', 'sent', 1, ?, ?, ? FROM n",
                (2_500, old.timestamp(), made, made),
            )

        await daemon.store.write(history)
        sql = "SELECT count(*) FROM outbox"
        # No time to drain: the hour's one batch.
        await keeper(settings, daemon.store, clock, drain_seconds=0).run_once()
        assert await db_rows(daemon, sql) == [(1_500,)]
        await keeper(settings, daemon.store, clock).run_once()
        assert await db_rows(daemon, sql) == [(0,)]
        assert await db_rows(
            daemon, "SELECT count FROM deleted_counts WHERE counter = 'deliveries' "
            "AND label = 'sent'"
        ) == [(2_500,)]  # fmt: skip
