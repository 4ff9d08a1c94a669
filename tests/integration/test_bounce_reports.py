"""Delivery reports that do not arrive at their VERP address: who they count against."""

from __future__ import annotations

from pathlib import Path

import pytest
from flows import reply_notification
from support import db_rows, reply_address, smtp_send, started

READER = "reader002.4a549d@example.org"  # the notification's recipient


def _report(to: str, failed: str, returned_id: str, report_id: str) -> bytes:
    """A Postfix RFC 3464 report: ``failed`` is unknown; the returned message's headers."""
    return (
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {report_id}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        f"<{failed}>: host mx.example.net said: 550 5.1.1 User unknown\r\n"
        "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected: "
        "User unknown\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: someone@example.org\r\nTo: {failed}\r\nMessage-ID: {returned_id}\r\n"
        "Subject: hello\r\n"
        "\r\n--B--\r\n"
    ).encode()


async def _bounces(daemon: object, email: str) -> tuple[int, object]:
    [(hard, suppressed)] = await db_rows(
        daemon, "SELECT hard_bounces, suppressed_at FROM addresses WHERE email = ?", email
    )
    return hard, suppressed


@pytest.mark.asyncio
async def test_a_report_at_a_reply_address_counts_only_for_a_message_we_sent(
    tmp_path: Path,
) -> None:
    async with started(tmp_path) as daemon:
        note = await reply_notification(daemon)
        to = reply_address(note)
        [(victim,)] = await db_rows(
            daemon, "SELECT email FROM addresses WHERE email != ? ORDER BY id LIMIT 1", READER
        )
        # Anyone who got a notification holds a reply address: reports naming someone
        # else and returning no message of ours must not stop that person's mail.
        for i in range(3):
            raw = _report(to, victim, f"<made-up-{i}@example.net>", f"<dsn-{i}@mx>")
            assert (await smtp_send(daemon, "", to, raw)).startswith("250")
        assert await _bounces(daemon, victim) == (0, None)
        # A report returning the notification itself (a server that bounces to the
        # Reply-To): about its recipient, counted.
        raw = _report(to, READER, str(note["Message-ID"]), "<dsn-ours@mx>")
        assert (await smtp_send(daemon, "", to, raw)).startswith("250")
        assert (await _bounces(daemon, READER))[0] == 1
        reasons = await db_rows(
            daemon, "SELECT reason FROM inbound_messages WHERE message_id LIKE '<dsn-%'"
        )
        assert sorted(r for (r,) in reasons) == ["bounce.hard"] + ["bounce.none"] * 3
