"""How long the outbox keeps an email's row (mailbridge.store.outbox_retention). Before,
every row stayed for good: the address of everyone mailbridge ever mailed, with the
kind and dates, so that no retention period could be stated for it. A done row (sent,
a dead letter, withdrawn) now goes after inbound.keep_days, never while its reply
address works, nor while a bounce read about it is kept; never one still to be sent;
and /metrics' counters do not go down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flows import delivered, reply_notification
from scraping import samples, scrape
from support import FakeClock, db_rows, import_seed, make_settings, no_dmarc_zone, smtp_send

from mailbridge.app import Running, running
from mailbridge.jobs import Periodic
from mailbridge.status import status_lines
from mailbridge.store import mail_events, outbox_operator

READER = "reader002.4a549d@example.org"
DAY = timedelta(days=1).total_seconds()
SENT = (("result", "sent"),)


def housekeeping(daemon: Running) -> Periodic:
    return next(job for job in daemon.periodic if job.name == "housekeeping")


def bounce_report(return_path: str, original_id: str) -> bytes:
    """A delivery report to the VERP address of one email (as Postfix writes one)."""
    return (
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: {return_path}\r\n"
        "Message-ID: <dsn-keep@mx.example.org>\r\nSubject: Undelivered Mail\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {READER}\r\nAction: failed\r\nStatus: 4.2.2\r\n"
        "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nTo: {READER}\r\n\r\n--b--\r\n"
    ).encode()


async def kinds(daemon: Running) -> list[str]:
    rows = await db_rows(daemon, "SELECT kind FROM outbox ORDER BY id")
    return [str(kind) for (kind,) in rows]


async def counters(daemon: Running) -> tuple[float, float]:
    status, _, text = await scrape(daemon)
    assert status == 200
    found = samples(text)
    return (
        found["mailbridge_deliveries_total"][SENT],
        found["mailbridge_delivery_attempts_total"][()],
    )


@pytest.mark.asyncio
async def test_a_done_email_goes_after_its_address_and_its_bounce_and_counters_stay(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 30}, smtp={"reply_token_days": 60})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)  # a moderation email, then the reader's
        await delivered(daemon)
        assert await kinds(daemon) == ["moderation_request", "reply_notification"]
        before = await counters(daemon)
        assert before[0] == 2

        # Past inbound.keep_days, not past the reply address's life (60 days and one):
        # nothing goes, the reader can still answer.
        clock.advance(31 * DAY)
        await housekeeping(daemon).run_once()
        assert await kinds(daemon) == ["moderation_request", "reply_notification"]

        # Day 50: a late delivery report about the reader's email names its row.
        [(row_id, return_path)] = await db_rows(
            daemon, "SELECT id, mail_from FROM outbox WHERE kind = 'reply_notification'"
        )
        clock.advance(19 * DAY)
        report = bounce_report(str(return_path), str(note["Message-ID"]))
        assert (await smtp_send(daemon, "", str(return_path), report)).startswith("250")
        assert await db_rows(daemon, "SELECT outbox_id FROM bounces") == [(row_id,)]

        # Day 62: the moderation email goes; the reader's stays while the bounce read
        # about it does (the inbound log keeps it 30 days), with what it was.
        clock.advance(12 * DAY)
        await housekeeping(daemon).run_once()
        assert await kinds(daemon) == ["reply_notification"]
        assert await counters(daemon) == before  # counters never go down

        # Day 81: the bounce's message and the bounce went; the row with them.
        clock.advance(19 * DAY)
        await housekeeping(daemon).run_once()
        assert await kinds(daemon) == []
        assert await db_rows(daemon, "SELECT count(*) FROM outbox_messages") == [(0,)]
        assert await counters(daemon) == before
        # `mailbridge status` does not say none was ever sent.
        shown = await daemon.store.read(lambda c: status_lines(c, daemon.settings, clock.now()))
        assert "Last email sent: none kept (2 sent before: inbound.keep_days, erasures)" in shown
        # `mailbridge outbox ID` says there is no such message (ids are never reused).
        assert await daemon.store.read(lambda c: outbox_operator.get_detail(c, row_id)) is None


async def _insert(conn: Any, rows: list[tuple[str, str, float, str | None, int]]) -> None:
    await conn.executemany(
        "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
        "attempts, next_attempt_at, created_at, sent_at) VALUES "
        "('reply_notification', NULL, ?, 'bounce@reply.example.org', ?, ?, ?, ?, ?, ?)",
        [
            (f"<{status}{n}@keep.example>", f"r{n}@example.net", status, attempts, at, made, sent)
            for n, (status, made, at, sent, attempts) in enumerate(rows)
        ],
    )


@pytest.mark.asyncio
async def test_never_an_email_still_to_be_sent_and_every_done_one_counted(
    tmp_path: Path,
) -> None:
    """Dead letters and withdrawn emails go as sent ones do; an old row still queued
    (a relay down for long) or being sent never does. What went is counted on."""
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 30}, smtp={"reply_token_days": 30})
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        old = clock.now() - timedelta(days=40)
        made, at = old.isoformat(timespec="seconds"), old.timestamp()
        # Not due for 60 days: the delivery worker leaves them (one left "sending" by a
        # worker gone may be put back in the queue meanwhile).
        await daemon.store.write(lambda c: _insert(c, [
            ("sent", made, at, made, 1),
            ("failed", made, at, None, 5),
            ("withdrawn", made, at, None, 0),
            ("queued", made, at + 100 * DAY, None, 3),
            ("sending", made, at + 100 * DAY, None, 2),
        ]))  # fmt: skip
        before = await counters(daemon)
        await housekeeping(daemon).run_once()
        left = await db_rows(daemon, "SELECT attempts, status FROM outbox ORDER BY id")
        assert [attempts for attempts, _ in left] == [3, 2]
        assert {status for _, status in left} <= {"queued", "sending"}
        assert await counters(daemon) == before
        assert await db_rows(
            daemon, "SELECT count FROM deleted_counts WHERE counter = 'deliveries' "
            "AND label = 'failed'"
        ) == [(1,)]  # fmt: skip


@pytest.mark.asyncio
async def test_an_email_a_mail_service_reported_on_stays_while_the_event_does(
    tmp_path: Path,
) -> None:
    """A mail service's event (matched to the row by Message-ID or its own id) names
    the row: `mailbridge inbound`'s bounce counts and the event's record point at it."""
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 30}, smtp={"reply_token_days": 30})
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        old = clock.now() - timedelta(days=40)
        made = old.isoformat(timespec="seconds")
        await daemon.store.write(lambda c: _insert(c, [("sent", made, old.timestamp(), made, 1)]))
        [(row_id,)] = await db_rows(daemon, "SELECT id FROM outbox")
        came = (clock.now() - timedelta(days=10)).isoformat(timespec="seconds")
        await daemon.store.write(lambda c: mail_events.insert(
            c, provider="postmark", event_id="ev-keep-1", kind="soft", outbox_id=row_id,
            address_id=None, status="4.2.2", diagnostic="mailbox full", now=came,
        ))  # fmt: skip
        await housekeeping(daemon).run_once()
        assert await db_rows(daemon, "SELECT id FROM outbox") == [(row_id,)]
        # 21 days on, the event is 31 days old: it goes, and the row with it.
        clock.advance(21 * DAY)
        await housekeeping(daemon).run_once()
        assert await db_rows(daemon, "SELECT count(*) FROM mail_events") == [(0,)]
        assert await db_rows(daemon, "SELECT id FROM outbox") == []
