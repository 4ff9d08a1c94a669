"""A message deferred many times is one soft bounce of its recipient, against the
running daemon (docs/machine-mail.md, "Hard or soft").

A greylisting server answers 451 to the first attempts of each new message: SendGrid
reports each attempt as a ``deferred`` event (its own ``sg_event_id``), Mailgun each as
a ``failed`` event of ``severity: temporary``, a relay each delay warning as a delivery
report with ``Action: delayed``. Each such report was counted as one more soft bounce of
the address; one message now counts at most one, whatever reports it and how often.
The payloads and signatures are test_mail_events.py's."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from flows import delivered
from flows import reply_notification as first_notification
from integration.test_inbound_trust import dsn
from integration.test_mail_events import (
    MAILGUN_KEY,
    READER,
    another_answer,
    cli,
    counts,
    mailgun_event,
    mailgun_failed,
    post,
    sendgrid_bounce,
    sendgrid_keys,
    sendgrid_request,
)
from support import db_rows, smtp_send, started


def sendgrid_deferred(message_id: str, attempt: int) -> dict[str, Any]:
    """One greylisted attempt as SendGrid's Event Webhook reports it."""
    event = {
        **sendgrid_bounce(message_id), "event": "deferred", "attempt": str(attempt),
        "response": "451 4.7.1 Greylisted, please try again later",
    }  # fmt: skip
    for name in ("reason", "status", "type"):
        event.pop(name)
    return event


def mailgun_temporary(message_id: str) -> dict[str, Any]:
    """One greylisted attempt as Mailgun reports it: a temporary failure."""
    event = mailgun_failed(message_id)
    event["severity"] = "temporary"
    event["delivery-status"] = {
        **event["delivery-status"], "code": 451, "enhanced-code": "4.7.1",
        "message": "4.7.1 Greylisted, please try again later",
    }  # fmt: skip
    return event


def delay_warning(return_path: str, original_id: str, number: int) -> bytes:
    """A relay's delay warning (RFC 3464, Action: delayed) about a greylisted message."""
    return (
        f"Message-ID: <delay{number}.{secrets.token_hex(4)}@mx.example.org>\r\n"
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: {return_path}\r\n"
        "Subject: Delayed Mail (still being retried)\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThis is a warning only.\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {READER}\r\nAction: delayed\r\nStatus: 4.7.1\r\n"
        "Diagnostic-Code: smtp; 451 4.7.1 Greylisted, please try again later\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nTo: {READER}\r\n\r\n--b--\r\n"
    ).encode()


async def sent_to_reader(daemon: Any) -> list[tuple[str, str]]:
    """(Message-ID, VERP return path) of each message sent to the reader, oldest first."""
    rows = await db_rows(
        daemon, "SELECT message_id, mail_from FROM outbox WHERE rcpt_to = ? ORDER BY id", READER
    )
    return [(str(m), str(f)) for m, f in rows]


@pytest.mark.asyncio
async def test_a_message_deferred_by_every_service_is_one_soft_bounce(tmp_path: Path) -> None:
    private, public = sendgrid_keys()
    hooks = {"mailgun_signing_key": MAILGUN_KEY, "sendgrid_event_key": public}
    async with started(tmp_path, inbound_webhooks=hooks) as daemon:
        ours = str((await first_notification(daemon))["Message-ID"])

        # SendGrid: the first attempt's deferral, then two more in one batch.
        request = sendgrid_request(private, [sendgrid_deferred(ours, 1)])
        status, body = await post(daemon, "/inbound/sendgrid/events", **request)
        assert (status, [o["outcome"] for o in body["outcomes"]]) == (200, ["counted"])
        batch = [sendgrid_deferred(ours, 2), sendgrid_deferred(ours, 3)]
        status, body = await post(daemon, "/inbound/sendgrid/events",
                                  **sendgrid_request(private, batch))  # fmt: skip
        assert status == 200, body
        assert [(o["kind"], o["outcome"]) for o in body["outcomes"]] == [
            ("soft", "counted_before"),
            ("soft", "counted_before"),
        ]
        # Mailgun's temporary failure of the same message (both services configured).
        status, body = await post(
            daemon, "/inbound/mailgun/events", json=mailgun_event(mailgun_temporary(ours))
        )
        assert (status, body["outcomes"][0]["outcome"]) == (200, "counted_before")
        assert await counts(daemon) == (0, 1, None)
        # Every event is kept, for the operator; the count is the message's.
        soft = "SELECT count(*) FROM mail_events WHERE kind = 'soft'"
        assert await db_rows(daemon, soft) == [(4,)]

        # A hard bounce of that message still counts: the rule is soft bounces'.
        request = sendgrid_request(private, [sendgrid_bounce(ours)])
        status, body = await post(daemon, "/inbound/sendgrid/events", **request)
        assert (status, body["outcomes"][0]["outcome"]) == (200, "counted")
        assert await counts(daemon) == (1, 1, None)

        # Another message to the same person, deferred: a second soft bounce.
        await another_answer(daemon, "Bea")
        [_, (second, _)] = await sent_to_reader(daemon)
        for attempt in (1, 2):
            request = sendgrid_request(private, [sendgrid_deferred(second, attempt)])
            assert (await post(daemon, "/inbound/sendgrid/events", **request))[0] == 200
        assert await counts(daemon) == (1, 2, None)

        # What the operator reads counts the same: messages, not reports.
        table = await cli("bounces", "--data-dir", str(daemon.settings.data_path))
        assert any(line.split()[:3] == [READER, "1", "2"] for line in table.splitlines()), table
        shown = await cli("status", "--data-dir", str(daemon.settings.data_path))
        [line] = [line for line in shown.splitlines() if line.startswith("Bounces, last")]
        assert line == "Bounces, last 7 days: 1 hard, 2 soft; 0 address(es) no longer mailed"


@pytest.mark.asyncio
async def test_delay_warnings_of_one_message_are_one_soft_bounce(tmp_path: Path) -> None:
    private, public = sendgrid_keys()
    async with started(tmp_path, inbound_webhooks={"sendgrid_event_key": public}) as daemon:
        ours = str((await first_notification(daemon))["Message-ID"])
        await delivered(daemon)
        [(_, verp)] = await sent_to_reader(daemon)
        assert verp.startswith("bounce+")
        # The relay's delay warnings (at 4 hours, then a day: Postfix's, Exim's).
        for number in (1, 2):
            answer = await smtp_send(daemon, "", verp, delay_warning(verp, ours, number))
            assert answer.startswith("250 2.0.0 Delivery report"), answer
        assert await counts(daemon) == (0, 1, None)
        # Each report is in the inbound log as what it is.
        reasons = await db_rows(
            daemon, "SELECT reason FROM inbound_messages WHERE status = 'bounce' ORDER BY id"
        )
        assert reasons == [("bounce.soft",), ("bounce.soft",)]
        assert await db_rows(daemon, "SELECT count(*) FROM bounces") == [(2,)]
        # A service's deferral of the same message, the same message still.
        request = sendgrid_request(private, [sendgrid_deferred(ours, 3)])
        status, body = await post(daemon, "/inbound/sendgrid/events", **request)
        assert (status, body["outcomes"][0]["outcome"]) == (200, "counted_before")
        assert await counts(daemon) == (0, 1, None)
        shown = await cli("status", "--data-dir", str(daemon.settings.data_path))
        assert "Bounces, last 7 days: 1 soft; 0 address(es)" in shown, shown


@pytest.mark.asyncio
async def test_a_report_reprocessed_counts_nothing_more(tmp_path: Path) -> None:
    """`mailbridge reprocess ID` of a delivery report reads it again: its bounces row is
    the same (unique by report and address), and so is the count. Before, the row was
    kept once but the count went up at each reprocess: a hard bounce reprocessed
    reached inbound.hard_bounce_limit (2) and stopped the person's mail."""
    async with started(tmp_path) as daemon:
        ours = str((await first_notification(daemon))["Message-ID"])
        await delivered(daemon)
        [(_, verp)] = await sent_to_reader(daemon)
        report = dsn(verp, READER, "5.1.1", ours)
        assert (await smtp_send(daemon, "", verp, report)).startswith("250 2.0.0 Delivery")
        assert await counts(daemon) == (1, 0, None)
        [(inbound_id,)] = await db_rows(
            daemon, "SELECT id FROM inbound_messages WHERE status = 'bounce'"
        )
        again = await cli(
            "reprocess", str(inbound_id), "--data-dir", str(daemon.settings.data_path)
        )
        assert again.startswith("250 2.0.0 Delivery report"), again
        assert await counts(daemon) == (1, 0, None)
