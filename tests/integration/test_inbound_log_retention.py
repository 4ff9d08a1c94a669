"""How long the inbound log keeps a message's row (inbound.keep_days). Before, every
row stayed for good: the sender's address, the envelope and the header section of
every reply, refusal and robot, long after what came of it was decided. A row now goes
once the message and its outcome (for a reply, the decision on its comment) are older
than the setting; never one not processed yet, nor one whose comment still waits. What
it deletes leaves SQLite's write-ahead log too: the files are read raw."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import aiosmtplib
import pytest
from flows import (
    approve,
    moderation_email,
    notification_for,
    outbox_dir,
    post_comment,
    reply_notification,
)
from held import files_holding
from pg import store_option
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

from mailbridge.app import Running, running
from mailbridge.errors import ConfigError
from mailbridge.jobs import Periodic
from mailbridge.models import Channel, Decider
from mailbridge.store import inbound
from mailbridge.tokens import Action

STRANGER = "stranger.7c41@example.net"  # refused at RCPT: nowhere else in the database
TRACE = "privmod-trace-5e0b9d"  # a header only the reply's log row holds
READER = "reader002.4a549d@example.org"
DAY = timedelta(days=1).total_seconds()


def housekeeping(daemon: Running) -> Periodic:
    return next(job for job in daemon.periodic if job.name == "housekeeping")


async def log_rows(daemon: Running) -> dict[str, str]:
    rows = await db_rows(daemon, "SELECT mail_from, status FROM inbound_messages ORDER BY id")
    return {str(sender): str(status) for sender, status in rows}


@pytest.mark.asyncio
async def test_the_log_forgets_what_was_settled_and_keeps_what_waits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 90})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        notification = await reply_notification(daemon)
        reply = reply_to_notification(notification, "Thank you, Ann: this helped me a lot.")
        reply["X-Trace"] = TRACE
        answer = await smtp_send(daemon, READER, reply_address(notification), reply.as_bytes())
        assert answer.startswith("250"), answer
        [(comment_id,)] = await db_rows(
            daemon, "SELECT comment_id FROM inbound_messages WHERE status = 'accepted'"
        )
        host, port = daemon.smtp_address
        async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) as client:
            await client.mail(STRANGER)
            with pytest.raises(aiosmtplib.SMTPRecipientRefused):
                await client.rcpt("nobody@reply.example.org")

        # A message stored but not processed yet (the daemon stopped before its
        # outcome, or a 451): the sender's retry finds it; never forgotten.
        async def unprocessed(conn: object) -> None:
            await inbound.record(conn, inbound.Received(  # type: ignore[arg-type]
                dedup_key="crashed-1", message_id="<crashed-1@client.example>",
                received_at=clock.now().isoformat(), peer="127.0.0.1", helo="client",
                mail_from="waiting@example.net", rcpt_to=reply_address(notification),
                raw=b"Subject: x\r\n\r\nwaits\r\n",
            ))  # fmt: skip

        await daemon.store.write(unprocessed)
        assert await log_rows(daemon) == {
            READER: "accepted",
            STRANGER: "refused",
            "waiting@example.net": "received",
        }
        if store_option() == "sqlite":
            assert files_holding(daemon, STRANGER) and files_holding(daemon, TRACE)

        # 91 days on: the refusal is forgotten, from every file; the reply's comment
        # still waits for a moderator, so its row stays.
        clock.advance(91 * DAY)
        caplog.set_level(logging.INFO, logger="mailbridge")
        await housekeeping(daemon).run_once()
        assert await log_rows(daemon) == {READER: "accepted", "waiting@example.net": "received"}
        assert files_holding(daemon, STRANGER) == []
        assert "forgot 1 message(s) of the inbound log" in caplog.text
        assert STRANGER not in caplog.text

        # Decided now: kept 90 days after the decision, then forgotten.
        await daemon.service.moderate(comment_id, Action.APPROVE, Decider(Channel.CLI, None))
        clock.advance(89 * DAY)
        await housekeeping(daemon).run_once()
        assert READER in await log_rows(daemon)
        clock.advance(2 * DAY)
        await housekeeping(daemon).run_once()
        assert await log_rows(daemon) == {"waiting@example.net": "received"}
        assert files_holding(daemon, TRACE) == []
        raw_kept = (
            "SELECT count(*) FROM inbound_raw r JOIN inbound_messages m "
            "ON m.id = r.inbound_id WHERE m.status <> 'received'"
        )
        assert await db_rows(daemon, raw_kept) == [(0,)]
        # The comment stays; the metrics' counters go on counting what the rows counted.
        assert await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", comment_id) == [
            ("approved",)
        ]
        counted = await db_rows(
            daemon, "SELECT label, count FROM deleted_counts WHERE counter = 'received' "
            "ORDER BY label",
        )  # fmt: skip
        assert counted == [("accepted", 1), ("refused", 1)]


def test_a_keep_days_shorter_than_the_undo_window_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"inbound\.keep_days: must be 30 to 36500"):
        make_settings(tmp_path, inbound={"keep_days": 7})
    assert make_settings(tmp_path).inbound.keep_days == 90


@pytest.mark.asyncio
async def test_mail_events_go_after_keep_days_and_what_they_did_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What a mail service reported of our mail (mail_events) was kept for good, while
    the same bounce read from a delivery report went with the inbound log."""
    from integration.test_mail_events import (
        post,
        sendgrid_bounce,
        sendgrid_keys,
        sendgrid_request,
    )

    private, public = sendgrid_keys()
    clock = FakeClock()
    settings = make_settings(
        tmp_path, inbound={"keep_days": 90}, inbound_webhooks={"sendgrid_event_key": public}
    )
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)
        ours = str(note["Message-ID"])

        async def bounce() -> str:
            request = sendgrid_request(private, [sendgrid_bounce(ours)])
            status, body = await post(daemon, "/inbound/sendgrid/events", **request)
            assert status == 200, body
            return str(body["outcomes"][0]["outcome"])

        assert await bounce() == "counted"
        clock.advance(60 * DAY)
        assert await bounce() == "suppressed"  # the second hard bounce (limit 2)
        clock.advance(31 * DAY)
        caplog.set_level(logging.INFO, logger="mailbridge")
        await housekeeping(daemon).run_once()
        # The first is 91 days old: gone; the second, 31 days: kept.
        assert await db_rows(daemon, "SELECT count(*) FROM mail_events") == [(1,)]
        assert "forgot 1 mail event(s) (bounces, complaints)" in caplog.text
        # What they did stays with the address: its count and its suppression.
        [(hard, reason)] = await db_rows(
            daemon, "SELECT hard_bounces, suppressed_reason FROM addresses WHERE email = ?",
            READER,
        )  # fmt: skip
        assert hard == 2 and reason
        clock.advance(60 * DAY)
        await housekeeping(daemon).run_once()
        assert await db_rows(daemon, "SELECT count(*) FROM mail_events") == [(0,)]


@pytest.mark.asyncio
async def test_a_new_reply_after_the_log_emptied_is_filed(tmp_path: Path) -> None:
    """A quiet spell (no mail for inbound.keep_days) emptied the log; SQLite then gave
    the deleted highest id to the next message, and a reply is filed as a comment named
    by its inbound id (unique in its thread). A new reply on that thread was answered
    "250 ... awaits moderation" and filed as nothing: the commenter's words were lost.
    Ids of the log are now never given twice (migration 0038)."""
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 30}, smtp={"reply_token_days": 30})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        notification = await reply_notification(daemon)
        to = reply_address(notification)
        first = reply_to_notification(notification, "My first thought on this, thank you.")
        assert (await smtp_send(daemon, READER, to, first.as_bytes())).startswith("250")
        [(comment_id,)] = await db_rows(
            daemon, "SELECT comment_id FROM inbound_messages WHERE status = 'accepted'"
        )
        await daemon.service.moderate(comment_id, Action.APPROVE, Decider(Channel.CLI, None))
        clock.advance(32 * DAY)  # past keep_days and the reply address's life
        await housekeeping(daemon).run_once()
        assert await log_rows(daemon) == {}

        # Ann answers again on the thread: a new notification, a new reply to it.
        def mails() -> int:
            return len(list((outbox_dir(daemon) / "new").iterdir()))

        before = mails()
        await post_comment(daemon, parent=2, body="Ann's second answer to Reader 002.")
        await approve(daemon, await moderation_email(daemon, "Ann", before + 1))
        again = await notification_for(daemon, READER, before + 2)
        second = reply_to_notification(again, "A second, different thought entirely.")
        answer = await smtp_send(daemon, READER, reply_address(again), second.as_bytes())
        assert "awaits moderation" in answer, answer
        filed = await db_rows(
            daemon, "SELECT status FROM comments WHERE body LIKE '%different thought%'"
        )
        assert filed == [("pending",)]


@pytest.mark.asyncio
async def test_a_reply_delivered_again_while_its_address_works_is_not_filed_twice(
    tmp_path: Path,
) -> None:
    """The inbound log's row is what finds a message delivered again (its dedup key).
    With smtp.reply_token_days longer than inbound.keep_days, the row of a reply filed
    and decided went while its reply address still worked: the same reply delivered
    again (a mailbox fetched anew, a forward, a sender's late retry) was filed a second
    time, the commenter's words twice for the author to moderate again. A filed reply's
    row now stays while its reply address can work (its days and its last day)."""
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound={"keep_days": 30}, smtp={"reply_token_days": 120})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        notification = await reply_notification(daemon)
        reply = reply_to_notification(notification, "Thank you, Ann: this helped, twice over.")
        raw, to = reply.as_bytes(), reply_address(notification)
        assert (await smtp_send(daemon, READER, to, raw)).startswith("250")
        [(comment_id,)] = await db_rows(
            daemon, "SELECT comment_id FROM inbound_messages WHERE status = 'accepted'"
        )
        await daemon.service.moderate(comment_id, Action.APPROVE, Decider(Channel.CLI, None))
        filed = "SELECT count(*) FROM comments WHERE body LIKE '%twice over%'"

        clock.advance(31 * DAY)  # past keep_days; the reply address works 90 days more
        await housekeeping(daemon).run_once()
        assert (await smtp_send(daemon, READER, to, raw)).startswith("250")
        assert await db_rows(daemon, filed) == [(1,)]

        clock.advance(91 * DAY)  # the address has expired: the row goes
        await housekeeping(daemon).run_once()
        assert await log_rows(daemon) == {}
        assert await db_rows(daemon, filed) == [(1,)]
