"""Hostile input to what round 1 added for bounces and complaints: abuse reports by
email from anyone (the postmaster address takes mail from the whole internet), and the
four event routes sent malformed bodies. Each gets a clear answer, never a traceback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support import db_rows, smtp_send, started

READER = "reader002.4a549d@example.org"


def nested_report(depth: int) -> bytes:
    """An abuse report's outer shape around multiparts nested ``depth`` deep (about 60
    bytes a level: 2000 levels are 120 KB, under any message size limit)."""
    head = (
        "From: someone@elsewhere.example\r\nTo: postmaster\r\nMessage-ID: <deep@x>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b0"\r\n\r\n'
    )
    body = "".join(
        f'--b{i - 1}\r\nContent-Type: multipart/mixed; boundary="b{i}"\r\n\r\n'
        for i in range(1, depth)
    )
    body += "x\r\n" + "".join(f"--b{i}--\r\n" for i in reversed(range(depth)))
    return (head + body).encode()


@pytest.mark.asyncio
async def test_an_abuse_report_nested_past_the_stack_is_kept_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone can mail the postmaster address a "report" nested thousands of
    multiparts deep: the ARF reader ran out of stack before this (an error on the
    SMTP session); now it is not a report, and the message is kept for the postmaster."""
    caplog.set_level(logging.INFO, logger="mailbridge")
    async with started(tmp_path) as daemon:
        postmaster = f"postmaster@{daemon.settings.smtp.reply_domain}"
        answer = await smtp_send(
            daemon, "someone@elsewhere.example", postmaster, nested_report(2000)
        )
        assert answer.startswith("250"), answer
        rows = await db_rows(
            daemon,
            "SELECT status, reason FROM inbound_messages WHERE message_id = ?",
            "<deep@x>",
        )
        assert len(rows) == 1 and not str(rows[0][1]).startswith("complaint"), rows
        assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text


MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK_PASSWORD = "pm-webhook-password-0123456789"
EVENTS_TOPIC = "arn:aws:sns:eu-west-1:123456789012:mailbridge-events"


def _auth() -> dict[str, str]:
    token = base64.b64encode(f"postmark:{POSTMARK_PASSWORD}".encode()).decode()
    return {"Authorization": "Basic " + token}


def _mailgun_signed(event_data: Any) -> dict[str, Any]:
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    digest = hmac.new(MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256)
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": digest.hexdigest()},
        "event-data": event_data,
    }


@pytest.mark.asyncio
async def test_the_event_routes_answer_bad_input_with_a_4xx_json_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbridge")
    public = base64.b64encode(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    hooks = {
        "mailgun_signing_key": MAILGUN_KEY,
        "sendgrid_event_key": public,
        "postmark_password": POSTMARK_PASSWORD,
        "ses_events_topic_arn": EVENTS_TOPIC,
    }
    huge = b"[" + b'"x",' * (2 * 1024 * 1024) + b'"x"]'
    bodies: list[tuple[bytes, str]] = [
        (b"", "application/json"),
        (b"not json", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b"null", "application/json"),
        (b"42", "application/json"),
        (b'"a string"', "application/json"),
        (b"{}", "application/json"),
        (b"[]", "text/plain"),
        (b"a=1&b=2", "application/x-www-form-urlencoded"),
        (b"--x\r\n\r\n--x--", "multipart/form-data"),
        (huge, "application/json"),
    ]
    async with started(tmp_path, inbound_webhooks=hooks) as daemon:
        host, port = daemon.http_address
        answers: list[tuple[str, int, str]] = []
        async with aiohttp.ClientSession() as session:

            async def send(path: str, data: bytes, ctype: str, **headers: str) -> None:
                async with session.post(
                    f"http://{host}:{port}{path}",
                    data=io.BytesIO(data),
                    headers={"Content-Type": ctype, **headers},
                ) as resp:
                    text = await resp.text()
                    answers.append((path, resp.status, text[:200]))
                    assert resp.content_type == "application/json", (path, text[:200])

            for path in ("mailgun", "sendgrid", "postmark", "ses"):
                for data, ctype in bodies:
                    await send(f"/inbound/{path}/events", data, ctype)
            # Past authentication: what each service's own shape could carry, wrong.
            for event_data in (
                None,
                [],
                "x",
                {"event": "failed"},
                {"id": ["a"], "event": 5},
                {
                    "id": "i",
                    "event": "failed",
                    "message": {"headers": []},
                    "delivery-status": "x",
                    "severity": None,
                },
                {"id": "i2", "event": "complained", "message": "x"},
            ):
                await send(
                    "/inbound/mailgun/events",
                    json.dumps(_mailgun_signed(event_data)).encode(),
                    "application/json",
                )
            # A signature that is not hex: non-ASCII text (compare_digest raised on it).
            for sig in ("é" * 64, "\u0661" * 64, "a" * 10_000):
                fields = {"timestamp": str(int(time.time())), "token": "t" * 50, "signature": sig}
                await send("/inbound/mailgun/events",
                           json.dumps({"signature": fields, "event-data": {}}).encode(),
                           "application/json")  # fmt: skip
                await send("/inbound/mailgun", urlencode(fields).encode(),
                           "application/x-www-form-urlencoded")  # fmt: skip
            bad_signatures = (
                {"signature": "!!!", "timestamp": "1"},
                {"signature": "", "timestamp": ""},
                {"signature": base64.b64encode(b"\x30\x00").decode(), "timestamp": "x"},
            )
            for sig in bad_signatures:
                await send(
                    "/inbound/sendgrid/events",
                    b"[]",
                    "application/json",
                    **{
                        "X-Twilio-Email-Event-Webhook-Signature": sig["signature"],
                        "X-Twilio-Email-Event-Webhook-Timestamp": sig["timestamp"],
                    },
                )
            for payload in (
                None,
                [],
                {"RecordType": "Bounce"},
                {"RecordType": "Bounce", "ID": 1, "Type": ["x"], "Content": 7},
                {"RecordType": "SpamComplaint", "ID": {"a": 1}},
                {
                    "RecordType": "Bounce",
                    "ID": 2,
                    "Type": "HardBounce",
                    "Content": nested_report(2000).decode(),
                },
            ):
                await send(
                    "/inbound/postmark/events",
                    json.dumps(payload).encode(),
                    "application/json",
                    **_auth(),
                )
            for sns in (
                {"Type": "Notification"},
                {
                    "Type": "Notification",
                    "TopicArn": EVENTS_TOPIC,
                    "SigningCertURL": "https://evil.example/cert.pem",
                    "Signature": "x",
                    "SignatureVersion": "1",
                    "Message": "{}",
                },
                {
                    "Type": "Notification",
                    "TopicArn": EVENTS_TOPIC,
                    "SigningCertURL": "http://sns.eu-west-1.amazonaws.com/x.pem",
                    "SignatureVersion": "2",
                    "Signature": "!!",
                    "Message": "[]",
                },
                {"Type": 5, "TopicArn": [1]},
            ):
                await send("/inbound/ses/events", json.dumps(sns).encode(), "text/plain")
        # A topic not ours is refused naming the setting the operator compares it with.
        topics = [a[2] for a in answers if a[0] == "/inbound/ses/events" and "topic" in a[2]]
        assert topics and all("ses_events_topic_arn" in t for t in topics), topics
        not_hex = [a for a in answers if "Mailgun signature does not match" in a[2]]
        assert len(not_hex) == 6 and all(a[1] == 401 for a in not_hex), not_hex
        server_errors = [a for a in answers if a[1] >= 500]
        assert not server_errors, server_errors
        unexpected_ok = [
            a for a in answers if a[1] < 400 and "postmark" not in a[0] and "mailgun" not in a[0]
        ]
        assert not unexpected_ok, unexpected_ok
        assert "Traceback" not in caplog.text
        assert MAILGUN_KEY not in caplog.text and POSTMARK_PASSWORD not in caplog.text
        assert READER not in caplog.text


FORWARDED = "old.name@forwarder.example"


@pytest.mark.asyncio
async def test_no_address_in_the_log_or_the_events_table(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An SES bounce's event id was its feedbackId + "/" + the recipient's address:
    logged whole on every SES event's line and kept in mail_events.event_id (which
    erasure does not reach for an event about a message not ours). A diagnostic naming
    another address than the recipient (a forward) and a Message-ID shaped like an
    address (a message not ours) were logged and kept as they came."""
    from flows import reply_notification

    from mailbridge.clock import SystemClock
    from mailbridge.inbound_webhooks.events import mailgun_event, ses_events
    from mailbridge.mail_events import MailEventAccounting

    caplog.set_level(logging.INFO, logger="mailbridge")
    async with started(tmp_path) as daemon:
        ours = str((await reply_notification(daemon))["Message-ID"])
        feedback = "0100018c2f3e4d5a-6b7c8d9e-0f1a-2b3c-4d5e-6f7a8b9c0d1e-000000"
        inner = {
            "notificationType": "Bounce",
            "mail": {"commonHeaders": {"messageId": ours}, "destination": [READER]},
            "bounce": {
                "bounceType": "Permanent", "feedbackId": feedback,
                "bouncedRecipients": [{
                    "emailAddress": READER, "status": "5.1.1",
                    "diagnosticCode": f"smtp; 550 5.1.1 <{FORWARDED}>: forwarded from "
                    f"<{READER}>: user unknown",
                }],
            },
        }  # fmt: skip
        events = ses_events({"Message": json.dumps(inner)})
        events += ses_events({"Message": json.dumps(inner)})  # SNS's retry: the same
        failed = {
            "event": "failed", "id": "mg-1", "timestamp": 1765119600.0,
            "recipient": "someone@else.example", "severity": "permanent",
            "delivery-status": {"code": 550, "message": "no such user"},
            "message": {"headers": {"message-id": "john.doe@else.example"}},
        }  # fmt: skip
        events.append(mailgun_event({"event-data": failed}))
        accounting = MailEventAccounting(daemon.store, SystemClock(), 2)
        outcomes = await accounting.record(events, "test")
        assert [o.outcome for o in outcomes] == ["counted", "repeated", "nobody"]
        rows = await db_rows(daemon, "SELECT event_id, diagnostic FROM mail_events")
        kept = repr(rows) + caplog.text
        for address in (READER, FORWARDED, "john.doe@else.example", "someone@else.example"):
            assert address not in kept, address


@pytest.mark.sqlite_only("holds SQLite's write lock from a second connection to the file")
@pytest.mark.asyncio
async def test_a_mailgun_signature_is_taken_once_but_a_retry_after_503_passes(
    tmp_path: Path,
) -> None:
    """Mailgun signs timestamp + token, not the body: before, whoever saw one signed
    request (a proxy's request log) could post its signature again within 15 minutes
    with any event-data, another event id each time, so each counted: here a
    complaint made of a bounce's signature suppressed the reader. Now a token answered
    for good (on either Mailgun route) is refused by the events route (401); one
    answered 503 (the database busy) passes on Mailgun's retry."""
    import sqlite3

    from flows import reply_notification

    async with started(
        tmp_path, inbound_webhooks={"mailgun_signing_key": MAILGUN_KEY},
        database_busy_timeout_seconds=0.3,
    ) as daemon:  # fmt: skip
        ours = str((await reply_notification(daemon))["Message-ID"]).strip("<>")
        host, port = daemon.http_address
        url = f"http://{host}:{port}/inbound/mailgun/events"

        def event(kind: str, event_id: str) -> dict[str, Any]:
            return {
                "event": kind, "id": event_id, "timestamp": time.time(),
                "severity": "temporary", "recipient": READER,
                "delivery-status": {"code": 452, "message": "mailbox full"},
                "message": {"headers": {"message-id": ours}},
            }  # fmt: skip

        async def send(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            async with aiohttp.ClientSession() as session, session.post(url, json=body) as r:
                return r.status, await r.json()

        # Mailgun's soft bounce, answered 503 (the database busy), then retried as it
        # was: the retry counts it.
        first = _mailgun_signed(event("failed", "soft-1"))
        other = sqlite3.connect(
            daemon.settings.database_path, isolation_level=None, check_same_thread=False
        )
        try:
            other.execute("BEGIN IMMEDIATE")
            assert (await send(first))[0] == 503
        finally:
            other.execute("ROLLBACK")
            other.close()
        status, body = await send(first)
        assert (status, body["outcomes"][0]["outcome"]) == (200, "counted"), body
        # Its signature again, the body changed into a complaint: refused.
        forged = {**first, "event-data": event("complained", "forged-1")}
        status, body = await send(forged)
        assert (status, body["error"]) == (401, "not_authentic"), body
        assert "used before" in body["message"]
        # A token the inbound route took (a reply Mailgun forwarded): refused here too.
        inbound = _mailgun_signed({})["signature"]
        fields = {**inbound, "recipient": "x@reply.example.org",
                  "body-mime": "Subject: x\r\n\r\nx\r\n"}  # fmt: skip
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://{host}:{port}/inbound/mailgun", data=fields) as resp,
        ):
            assert resp.status in (200, 406), await resp.text()
        status, body = await send({"signature": inbound,
                                   "event-data": event("complained", "forged-2")})  # fmt: skip
        assert (status, body["error"]) == (401, "not_authentic"), body
        [row] = await db_rows(
            daemon,
            "SELECT soft_bounces, suppressed_reason FROM addresses WHERE email = ?", READER,
        )  # fmt: skip
        assert tuple(row) == (1, None)
        # A signed body refused 400 (no event id) spends its token all the same: the
        # same signature with a well-formed complaint is refused.
        refused = _mailgun_signed({"event": "failed"})
        assert (await send(refused))[0] == 400
        status, body = await send({**refused, "event-data": event("complained", "f-3")})
        assert (status, body["error"]) == (401, "not_authentic"), body
        # Mailgun's own next event, newly signed: taken as ever (recorded; the message
        # already counted its one soft bounce).
        status, body = await send(_mailgun_signed(event("failed", "soft-2")))
        assert (status, body["outcomes"][0]["outcome"]) == (200, "counted_before")


@pytest.mark.asyncio
async def test_a_postmark_bounce_returning_another_persons_message_id_counts_for_nobody(
    tmp_path: Path,
) -> None:
    """Postmark reads our Message-ID from ``Content``: the bounce as the bouncing server
    wrote it. Anyone mailed by the blog (a commenter at their own domain) runs that
    server: before, a bounce of the notification sent to them, returning headers that
    name the Message-ID of one sent to Reader 002 (a forward, a shared mailbox), was
    counted against Reader 002, and a spam complaint so made stopped their mail. Now a
    returned Message-ID is believed only when Postmark's own ``Email`` is the address
    that message went to; the service's own id (MessageID) is believed first."""
    from integration.test_mail_events import (
        POSTMARK_PASSWORD,
        abuse_report,
        basic_auth,
        counts,
        first_notification,
        post,
        postmark_bounce,
        returned_dsn,
    )

    auth = basic_auth("postmark", POSTMARK_PASSWORD)
    hooks = {"postmark_password": POSTMARK_PASSWORD}
    async with started(tmp_path, inbound_webhooks=hooks) as daemon:
        ours = str((await first_notification(daemon))["Message-ID"])
        path = "/inbound/postmark/events"
        attacker = "mallory@attacker.example"
        bounce = postmark_bounce(returned_dsn(ours), ID=21, Email=attacker)
        complaint = postmark_bounce(
            abuse_report("bounces@postmarkapp.com", f"Message-ID: {ours}\r\n", "<r21@y>"
                         ).decode(),
            RecordType="SpamComplaint", Type="SpamComplaint", TypeCode=512, ID=22,
            Email=attacker,
        )  # fmt: skip
        for event in (bounce, complaint):
            status, body = await post(daemon, path, json=event, headers=auth)
            assert (status, body["outcomes"][0]["outcome"]) == (200, "elsewhere"), body
        assert await counts(daemon) == (0, 0, None)
        # Postmark naming Reader 002 (in any case): the returned Message-ID is believed.
        real = postmark_bounce(returned_dsn(ours), ID=23, Email=READER.upper())
        status, body = await post(daemon, path, json=real, headers=auth)
        assert (status, body["outcomes"][0]["outcome"]) == (200, "counted"), body
        assert await counts(daemon) == (1, 0, None)
