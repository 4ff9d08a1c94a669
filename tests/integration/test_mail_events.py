"""Bounces and spam complaints a mail service reports through its event webhook
(Mailgun's webhooks, SendGrid's signed Event Webhook), against the running daemon.

A real notification is sent first (the Maildir has it), and the events name its
Message-ID. The payloads are shaped as each service's documentation shows them; the
signatures are computed here with each service's algorithm written out (Mailgun's
HMAC-SHA256 of timestamp + token; SendGrid's ECDSA P-256 / SHA-256 over the timestamp
header followed by the raw body, with a key pair made for the test), never with
mailbridge's code."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flows import approve, delivered, moderation_email, post_comment, raw_mail_to
from flows import reply_notification as first_notification
from support import db_rows, local, started, text_body

MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
READER = "reader002.4a549d@example.org"  # seed comment 2's author: notified of answers


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A key pair as SendGrid makes one; the public half as Mail Settings shows it."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sendgrid_request(private: ec.EllipticCurvePrivateKey, events: object) -> dict[str, Any]:
    """The POST SendGrid makes: the JSON array, the two signature headers."""
    body = json.dumps(events).encode()
    timestamp = str(int(time.time()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "data": body,
        "headers": {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        },
    }


def sendgrid_bounce(message_id: str, email: str = READER) -> dict[str, Any]:
    return {
        "email": email, "timestamp": int(time.time()), "smtp-id": message_id,
        "event": "bounce", "category": ["notification"],
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "reason": f"550 5.1.1 <{email}>: Recipient address rejected: User unknown",
        "status": "5.1.1", "type": "bounce", "tls": 1,
    }  # fmt: skip


def sendgrid_spamreport(message_id: str, email: str = READER) -> dict[str, Any]:
    return {
        "email": email, "timestamp": int(time.time()), "smtp-id": message_id,
        "event": "spamreport", "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    }  # fmt: skip


def mailgun_event(event: dict[str, Any], key: str = MAILGUN_KEY) -> dict[str, Any]:
    """Mailgun's webhook body: the signature object and event-data."""
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event,
    }


def mailgun_failed(message_id: str, email: str = READER) -> dict[str, Any]:
    """A permanent failure as Mailgun reports it; its message-id without brackets."""
    return {
        "id": secrets.token_urlsafe(16), "timestamp": time.time(), "log-level": "error",
        "event": "failed", "severity": "permanent", "reason": "bounce",
        "delivery-status": {
            "attempt-no": 1, "code": 550, "enhanced-code": "5.1.1",
            "message": "5.1.1 The email account that you tried to reach does not exist.",
            "description": "", "mx-host": "mx.example.org", "session-seconds": 0.4,
        },
        "envelope": {"sender": "bounce@reply.example.org", "transport": "smtp",
                     "targets": email},
        "flags": {"is-authenticated": True, "is-test-mode": False},
        "recipient": email, "recipient-domain": email.split("@")[1],
        "message": {"headers": {"to": email, "message-id": message_id.strip("<>"),
                                "from": "Blog <notify@example.org>", "subject": "Re"},
                    "attachments": [], "size": 4242},
        "tags": [], "user-variables": {}, "campaigns": [],
    }  # fmt: skip


async def post(daemon: Any, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    host, port = daemon.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://{host}:{port}{path}", **kwargs) as resp,
    ):
        return resp.status, await resp.json()


async def counts(daemon: Any, email: str = READER) -> tuple[Any, ...]:
    [row] = await db_rows(
        daemon,
        "SELECT hard_bounces, soft_bounces, suppressed_reason FROM addresses WHERE email = ?",
        email,
    )
    return row


async def another_answer(daemon: Any, author: str) -> None:
    """Someone answers Reader 002's seed comment and it is approved: a notification to
    Reader 002 is due (sent unless the address is suppressed)."""
    await post_comment(
        daemon, parent=2, author=author, email=f"{author.lower()}@example.com",
        body=f"{author} answers Reader 002.",
    )  # fmt: skip
    await approve(daemon, await moderation_email(daemon, author))
    await delivered(daemon)
    await asyncio.sleep(0.3)  # one more would be in the Maildir by now


@pytest.mark.asyncio
async def test_bounces_from_both_services_count_once_and_stop_the_mail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbridge")
    private, public = sendgrid_keys()
    hooks = {"mailgun_signing_key": MAILGUN_KEY, "sendgrid_event_key": public}
    async with started(tmp_path, inbound_webhooks=hooks) as daemon:
        note = await first_notification(daemon)
        ours = str(note["Message-ID"])
        assert len(raw_mail_to(daemon, READER)) == 1

        # Forged: Mailgun's signature under another key, SendGrid's by another key.
        forged = mailgun_event(mailgun_failed(ours), key="key-guessed-wrong-000000")
        status, body = await post(daemon, "/inbound/mailgun/events", json=forged)
        assert status == 401 and body["error"] == "not_authentic"
        other, _ = sendgrid_keys()
        request = sendgrid_request(other, [sendgrid_bounce(ours)])
        status, body = await post(daemon, "/inbound/sendgrid/events", **request)
        assert status == 401 and body["error"] == "not_authentic"
        # Signed, then the body changed on the way (the signature covers it).
        request = sendgrid_request(private, [sendgrid_bounce(ours)])
        request["data"] = request["data"].replace(b"5.1.1", b"5.1.2")
        assert (await post(daemon, "/inbound/sendgrid/events", **request))[0] == 401
        # Authentic but not the service's JSON: 400, saying so.
        status, body = await post(
            daemon, "/inbound/sendgrid/events", **sendgrid_request(private, {"event": "bounce"})
        )
        assert status == 400 and "JSON array" in body["message"]
        status, body = await post(
            daemon, "/inbound/sendgrid/events", **sendgrid_request(private, [])
        )
        assert status == 200 and body == {"outcomes": []}
        status, body = await post(daemon, "/inbound/mailgun/events", data=b"not json")
        assert status == 400 and body["error"] == "bad_payload"
        assert await db_rows(daemon, "SELECT count(*) FROM mail_events") == [(0,)]
        assert await counts(daemon) == (0, 0, None)

        # A message we never sent: recorded, counted for nobody, whoever it names.
        status, body = await post(
            daemon, "/inbound/mailgun/events",
            json=mailgun_event(mailgun_failed("<made-up.1@elsewhere.example>")),
        )  # fmt: skip
        assert status == 200 and body["outcomes"][0]["outcome"] == "nobody"
        assert await counts(daemon) == (0, 0, None)

        # Mailgun's permanent failure of our notification: one hard bounce. Retried
        # (the same event posted again, newly signed): still one.
        event = mailgun_failed(ours)
        status, body = await post(daemon, "/inbound/mailgun/events", json=mailgun_event(event))
        assert status == 200 and body["outcomes"][0]["outcome"] == "counted"
        status, body = await post(daemon, "/inbound/mailgun/events", json=mailgun_event(event))
        assert status == 200 and body["outcomes"][0]["outcome"] == "repeated"
        assert await counts(daemon) == (1, 0, None)
        await another_answer(daemon, "Bea")
        assert len(raw_mail_to(daemon, READER)) == 2  # one hard bounce: still mailed

        # SendGrid's bounce of it, in a batch with a deferral and a delivery: the
        # second hard bounce (inbound.hard_bounce_limit, 2), and the address is no
        # longer mailed; the deferral is a soft one, the delivery nothing.
        deferred = {**sendgrid_bounce(ours), "event": "deferred", "attempt": "2",
                    "response": "451 4.7.1 Greylisted, try again later"}  # fmt: skip
        for name in ("reason", "status", "type"):
            deferred.pop(name)
        delivery = {**sendgrid_bounce(ours), "event": "delivered", "response": "250 OK"}
        batch = [sendgrid_bounce(ours), deferred, delivery]
        request = sendgrid_request(private, batch)
        status, body = await post(daemon, "/inbound/sendgrid/events", **request)
        assert status == 200, body
        assert [(o["kind"], o["outcome"]) for o in body["outcomes"]] == [
            ("hard", "suppressed"),
            ("soft", "counted"),
        ]
        assert (await post(daemon, "/inbound/sendgrid/events", **request))[1]["outcomes"][0][
            "outcome"
        ] == "repeated"
        assert await counts(daemon) == (2, 1, "2 hard bounces")
        await another_answer(daemon, "Cy")
        assert len(raw_mail_to(daemon, READER)) == 2  # nothing new in the Maildir

        # What the operator sees: the log masks the address; the metrics count.
        host, port = daemon.http_address
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{host}:{port}/metrics") as resp,
        ):
            scraped = await resp.text()
        assert re.search(
            r'mailbridge_mail_events_total\{kind="hard",outcome="suppressed",'
            r'provider="sendgrid"\} 1\.0',
            scraped,
        ), scraped
        assert 'kind="hard",outcome="repeated",provider="mailgun"} 1.0' in scraped
        [(diagnostic,)] = await db_rows(
            daemon, "SELECT diagnostic FROM mail_events WHERE provider = 'sendgrid' "
            "AND kind = 'hard'",
        )  # fmt: skip
        assert READER not in diagnostic and "***@example.org" in diagnostic
        # mailbridge status says it too (not "everything sent").
        shown = await cli("status", "--data-dir", str(daemon.settings.data_path))
        [status] = [line for line in shown.splitlines() if line.startswith("Bounces, last")]
        assert status == "Bounces, last 7 days: 2 hard, 1 soft; 1 address(es) no longer mailed"
    said = [r.getMessage() for r in caplog.records if r.name == "mailbridge.mail_events.accounting"]
    assert any(
        line.startswith("sendgrid:127.0.0.1: hard event ")
        and f"about {ours} to ***@example.org" in line
        and "no longer mailed" in line
        for line in said
    ), said
    assert any("counted for nobody" in line for line in said)
    assert READER not in caplog.text


@pytest.mark.asyncio
async def test_a_complaint_stops_all_mail_until_the_person_asks(tmp_path: Path) -> None:
    private, public = sendgrid_keys()
    async with started(tmp_path, inbound_webhooks={"sendgrid_event_key": public}) as daemon:
        note = await first_notification(daemon)
        request = sendgrid_request(private, [sendgrid_spamreport(str(note["Message-ID"]))])
        status, body = await post(daemon, "/inbound/sendgrid/events", **request)
        assert status == 200 and body["outcomes"][0]["kind"] == "complaint"
        assert await counts(daemon) == (0, 0, "complaint")
        await another_answer(daemon, "Bea")
        assert len(raw_mail_to(daemon, READER)) == 1  # not sent

        # They come back and ask for emails (the form's "notify"): the one email
        # that passes is the confirmation; pressing its link brings the mail back.
        await post_comment(daemon, author="Reader", email=READER, notify=True, body="Again.")
        confirm = await _confirmation(daemon)
        host_port = daemon.http_address
        url = local(re.findall(r"http\S+/confirm/[a-z0-9]+", text_body(confirm))[0], host_port)
        async with aiohttp.ClientSession() as session, session.post(url) as resp:
            assert resp.status == 200
        assert await counts(daemon) == (0, 0, None)
        await another_answer(daemon, "Cy")
        [latest] = [m for m in raw_mail_to(daemon, READER) if b"Cy answers" in m]

        # A second complaint, about that one: the operator sees it, and lifting it
        # (--resume) mails nothing they stopped: only they can ask again.
        latest_id = re.search(rb"^Message-ID: (<[^>]+>)", latest, re.M | re.I)
        assert latest_id is not None
        request = sendgrid_request(private, [sendgrid_spamreport(latest_id[1].decode())])
        assert (await post(daemon, "/inbound/sendgrid/events", **request))[0] == 200
        data_dir = str(daemon.settings.data_path)
        table = await cli("bounces", "--data-dir", data_dir)
        assert READER in table and "(complaint)" in table, table
        assert "mailing resumed" in await cli("bounces", "--resume", READER, "--data-dir", data_dir)
        assert await counts(daemon) == (0, 0, None)
        before = len(raw_mail_to(daemon, READER))
        await another_answer(daemon, "Dee")
        assert len(raw_mail_to(daemon, READER)) == before

        # Their data: the complaints are theirs to export, and go with an erasure.
        exported = json.loads(await cli("person", "export", READER, "--data-dir", data_dir))
        assert [e["kind"] for e in exported["mail_events"]] == ["complaint", "complaint"]
        erased = await cli("person", "erase", READER, "--yes", "--data-dir", data_dir)
        assert "mail events 2" in erased and "address 1" in erased
        assert await db_rows(daemon, "SELECT count(*) FROM mail_events") == [(0,)]


async def cli(*args: str) -> str:
    """The command as an operator runs it beside the running daemon."""
    from click.testing import CliRunner

    from mailbridge.cli import cli as command

    result = await asyncio.to_thread(CliRunner().invoke, command, list(args))
    assert result.exit_code == 0, result.output
    return str(result.output)


async def _confirmation(daemon: Any) -> EmailMessage:
    from support import read_maildir

    from mailbridge.app import Running

    assert isinstance(daemon, Running)
    for _ in range(200):
        found = [
            m
            for m in read_maildir(daemon.settings.data_path / "outbox")
            if m["To"].addresses[0].addr_spec == READER and "Confirm" in str(m["Subject"])
        ]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError("no confirmation email")


def abuse_report(to: str, returned: str, report_id: str) -> bytes:
    """A feedback loop's report (RFC 5965's example, as Yahoo's CFL sends it: the
    reader's address redacted); ``returned``: the reported message's header section."""
    return (
        "From: Yahoo! Feedback Loop <feedback@arf.mail.yahoo.com>\r\n"
        f"To: {to}\r\nSubject: FW: Re: a reply to your comment\r\n"
        f"Message-ID: {report_id}\r\nDate: Mon, 7 Dec 2026 14:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=feedback-report;\r\n"
        '\tboundary="part1_13d.2e68ed54_boundary"\r\n\r\n'
        "--part1_13d.2e68ed54_boundary\r\n"
        'Content-Type: text/plain; charset="US-ASCII"\r\n\r\n'
        "This is an email abuse report for an email message received from IP\r\n"
        "192.0.2.1 on Mon, 7 Dec 2026 13:00:00 +0000.\r\n\r\n"
        "--part1_13d.2e68ed54_boundary\r\n"
        "Content-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: Yahoo!-Mail-Feedback/2.0\r\nVersion: 1\r\n"
        "Original-Mail-From: <bounce@reply.example.org>\r\n"
        "Arrival-Date: Mon, 7 Dec 2026 13:00:00 +0000\r\n"
        "Reporting-MTA: dns; mta1.mail.yahoo.com\r\nSource-IP: 192.0.2.1\r\n\r\n"
        "--part1_13d.2e68ed54_boundary\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"{returned}"
        "From: Example Blog <notify@example.org>\r\nTo: redacted@yahoo.com\r\n"
        "Subject: Re: a reply to your comment\r\n\r\n"
        "--part1_13d.2e68ed54_boundary--\r\n"
    ).encode()


@pytest.mark.asyncio
async def test_an_abuse_report_by_email_counts_only_for_a_message_we_sent(
    tmp_path: Path,
) -> None:
    from support import smtp_send

    async with started(tmp_path) as daemon:
        note = await first_notification(daemon)
        postmaster = f"postmaster@{daemon.settings.smtp.reply_domain}"
        loop = "feedback@arf.mail.yahoo.com"
        # Reporting a message we never sent: counted for nobody.
        raw = abuse_report(postmaster, "Message-ID: <made-up.2@elsewhere.example>\r\n", "<r1@y>")
        assert (await smtp_send(daemon, loop, postmaster, raw)).startswith("250")
        assert await counts(daemon) == (0, 0, None)
        # Our notification's Message-ID, reported to the postmaster: a complaint.
        raw = abuse_report(postmaster, f"Message-ID: {note['Message-ID']}\r\n", "<r2@y>")
        assert (await smtp_send(daemon, loop, postmaster, raw)).startswith("250")
        assert await counts(daemon) == (0, 0, "complaint")
        reasons = await db_rows(
            daemon, "SELECT reason FROM inbound_messages WHERE message_id IN ('<r1@y>', '<r2@y>') "
            "ORDER BY id",
        )  # fmt: skip
        assert reasons == [("complaint.nobody",), ("complaint.suppressed",)]
        await another_answer(daemon, "Bea")
        assert len(raw_mail_to(daemon, READER)) == 1  # not sent


@pytest.mark.asyncio
async def test_an_abuse_report_at_the_verp_address_names_the_message_by_its_token(
    tmp_path: Path,
) -> None:
    from support import smtp_send

    async with started(tmp_path) as daemon:
        note = await first_notification(daemon)
        [(verp,)] = await db_rows(
            daemon, "SELECT mail_from FROM outbox WHERE message_id = ?", str(note["Message-ID"])
        )
        assert verp.startswith("bounce+")
        # The loop left the Message-ID out: the signed VERP token names the message.
        raw = abuse_report(verp, "", "<r3@y>")
        assert (await smtp_send(daemon, "feedback@arf.mail.yahoo.com", verp, raw)).startswith("250")
        assert await counts(daemon) == (0, 0, "complaint")
        await another_answer(daemon, "Bea")
        assert len(raw_mail_to(daemon, READER)) == 1


EVENTS_TOPIC = "arn:aws:sns:eu-west-1:123456789012:mailbridge-events"


def ses_event(kind: str, message_id: str, feedback: str, **inner: Any) -> dict[str, str]:
    """An SNS Notification of SES's sending notifications, as AWS's examples show
    them, with the original headers included (SES rewrites the Message-ID it sends)."""
    mail = {
        "timestamp": "2026-12-07T14:59:38.237Z", "source": "notify@example.org",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.org",
        "sourceIp": "192.0.2.10", "sendingAccountId": "123456789012",
        "messageId": "0100018c2f3e4d5a-6b7c8d9e-0f1a-2b3c-4d5e-6f7a8b9c0d1e-000000",
        "destination": [READER], "headersTruncated": False,
        "headers": [{"name": "From", "value": "Example Blog <notify@example.org>"},
                    {"name": "To", "value": READER},
                    {"name": "Message-ID", "value": message_id}],
        "commonHeaders": {"from": ["Example Blog <notify@example.org>"], "to": [READER],
                          "messageId": message_id, "subject": "Re: a reply"},
    }  # fmt: skip
    if kind == "Bounce":
        body = {
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{
                "emailAddress": READER, "action": "failed", "status": "5.1.1",
                "diagnosticCode": f"smtp; 550 5.1.1 <{READER}>... User unknown",
            }],
            "timestamp": "2026-12-07T14:59:38.237Z", "feedbackId": feedback,
            "reportingMTA": "dns; email.example.org", "remoteMtaIp": "192.0.2.20", **inner,
        }  # fmt: skip
    else:
        body = {
            "userAgent": "ExampleCorp Feedback Loop (V0.01)",
            "complainedRecipients": [{"emailAddress": READER}],
            "complaintFeedbackType": "abuse", "arrivalDate": "2026-12-07T14:59:38.237Z",
            "timestamp": "2026-12-07T15:00:00.000Z", "feedbackId": feedback, **inner,
        }  # fmt: skip
    return {
        "Type": "Notification", "MessageId": secrets.token_hex(16), "TopicArn": EVENTS_TOPIC,
        "Message": json.dumps({"notificationType": kind, kind.lower(): body, "mail": mail}),
        "Timestamp": "2026-12-07T15:00:01.000Z",
    }  # fmt: skip


@pytest.mark.asyncio
async def test_ses_bounces_and_complaints_through_sns(tmp_path: Path) -> None:
    from aiohttp import web
    from sns_signing import CERT_URL, key_and_certificate, signed
    from support import free_port

    from mailbridge.clock import SystemClock
    from mailbridge.inbound_webhooks import InboundWebhooks
    from mailbridge.mail_events import MailEventAccounting

    key, pem = key_and_certificate()
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:  # stands in for AWS: its certificate, its links
        fetched.append(url)
        return pem if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"

    hooks = {"ses_events_topic_arn": EVENTS_TOPIC}
    async with started(tmp_path, inbound_webhooks=hooks) as daemon:
        accounting = MailEventAccounting(daemon.store, SystemClock(), 2)
        served = InboundWebhooks(
            daemon.settings, daemon.intake, SystemClock(), fetch=fetch, events=accounting
        )
        app = web.Application()
        app.add_routes(served.routes())
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}/inbound/ses/events"

        async def send(body: dict[str, str]) -> tuple[int, dict[str, Any]]:
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=json.dumps(body),
                             headers={"Content-Type": "text/plain; charset=UTF-8"}) as resp,
            ):  # fmt: skip
                return resp.status, await resp.json()

        try:
            subscribe = (
                "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
                + EVENTS_TOPIC + "&Token=2336412f37fb687f5d51e6e2425dacbba7aa5d"
            )  # fmt: skip
            confirmation = signed(key, {
                "Type": "SubscriptionConfirmation", "MessageId": secrets.token_hex(16),
                "Token": "2336412f37fb687f5d51e6e2425dacbba7aa5d", "TopicArn": EVENTS_TOPIC,
                "Message": "You have chosen to subscribe to the topic " + EVENTS_TOPIC,
                "SubscribeURL": subscribe, "Timestamp": "2026-12-07T14:59:00.000Z",
            })  # fmt: skip
            assert (await send(confirmation))[0] == 200
            assert fetched == [CERT_URL, subscribe]

            note = await first_notification(daemon)
            ours = str(note["Message-ID"])
            # Another topic, a signature that does not verify: 401, nothing counted.
            other = ses_event("Bounce", ours, "fb-0")
            other["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-else"
            assert (await send(signed(key, other)))[0] == 401
            bad = signed(key, ses_event("Bounce", ours, "fb-0"))
            bad["Message"] = bad["Message"].replace("5.1.1", "5.1.2")
            assert (await send(bad))[0] == 401
            assert await db_rows(daemon, "SELECT count(*) FROM mail_events") == [(0,)]
            # Not our message: nobody. Ours: counted, once; a second: suppressed.
            status, body = await send(signed(key, ses_event("Bounce", "<x.1@ses.example>", "f1")))
            assert (status, body["outcomes"][0]["outcome"]) == (200, "nobody")
            first = signed(key, ses_event("Bounce", ours, "fb-1"))
            assert (await send(first))[1]["outcomes"][0]["outcome"] == "counted"
            assert (await send(first))[1]["outcomes"][0]["outcome"] == "repeated"
            transient = ses_event("Bounce", ours, "fb-2", bounceType="Transient")
            assert (await send(signed(key, transient)))[1]["outcomes"][0]["kind"] == "soft"
            assert await counts(daemon) == (1, 1, None)
            status, body = await send(signed(key, ses_event("Complaint", ours, "fb-3")))
            assert (status, body["outcomes"][0]["kind"]) == (200, "complaint")
            assert await counts(daemon) == (1, 1, "complaint")
            await another_answer(daemon, "Bea")
            assert len(raw_mail_to(daemon, READER)) == 1  # not sent
        finally:
            await runner.cleanup()


def test_check_config_names_the_event_routes_and_refuses_a_bad_key(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mailbridge.cli import cli as command

    _, public = sendgrid_keys()
    config = tmp_path / "mailbridge.toml"
    config.write_text(f'[inbound_webhooks]\nsendgrid_event_key = "{public}"\n')
    args = ["check-config", "--config", str(config), "--data-dir", str(tmp_path / "var")]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    assert "mail events      sendgrid (bounces" in result.output
    # The password of Inbound Parse pasted where the Event Webhook's key goes.
    config.write_text('[inbound_webhooks]\nsendgrid_event_key = "sendgrid-parse-secret-42"\n')
    result = CliRunner().invoke(command, args)
    assert result.exit_code != 0
    assert "inbound_webhooks.sendgrid_event_key: not a public key" in result.output


@pytest.mark.sqlite_only("holds SQLite's write lock from a second connection to the file")
@pytest.mark.asyncio
async def test_a_locked_database_makes_the_service_retry_and_the_retry_counts_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The store cannot write: 503 with Retry-After (SendGrid retries that), nothing
    counted; the retry once it is free counts the event, and a retry of that counts
    nothing more."""
    import sqlite3

    private, public = sendgrid_keys()
    async with started(
        tmp_path, inbound_webhooks={"sendgrid_event_key": public},
        database_busy_timeout_seconds=0.3,
    ) as daemon:  # fmt: skip
        note = await first_notification(daemon)
        request = sendgrid_request(private, [sendgrid_bounce(str(note["Message-ID"]))])
        other = sqlite3.connect(
            daemon.settings.database_path, isolation_level=None, check_same_thread=False
        )
        try:
            await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
            host, port = daemon.http_address
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"http://{host}:{port}/inbound/sendgrid/events", **request) as resp,
            ):
                assert resp.status == 503, await resp.text()
                assert resp.headers["Retry-After"].isdigit()
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await counts(daemon) == (0, 0, None)
        outcomes = [(await post(daemon, "/inbound/sendgrid/events", **request))[1] for _ in "12"]
        assert [o["outcomes"][0]["outcome"] for o in outcomes] == ["counted", "repeated"]
        assert await counts(daemon) == (1, 0, None)


POSTMARK_PASSWORD = "postmark-events-secret-1"


def basic_auth(user: str, password: str) -> dict[str, str]:
    """The credentials in the webhook's URL, as the HTTP client sends them."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def postmark_bounce(content: str, **fields: Any) -> dict[str, Any]:
    """Postmark's Bounce webhook (its documented fields), "Include message content" on."""
    return {
        "RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807,
        "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce", "Tag": "",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Metadata": {}, "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": READER, "From": "notify@example.org",
        "BouncedAt": "2026-12-07T15:00:00Z", "DumpAvailable": True, "Inactive": True,
        "CanActivate": True, "Subject": "Re: a reply to your comment", "Content": content,
        **fields,
    }  # fmt: skip


def returned_dsn(message_id: str) -> str:
    """The bounce Postmark received: a Postfix report returning our message's headers."""
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {READER}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: Example Blog <notify@example.org>\r\nTo: {READER}\r\n"
        f"Message-ID: {message_id}\r\nSubject: Re: a reply to your comment\r\n"
        "--B--\r\n"
    )


@pytest.mark.asyncio
async def test_postmark_bounces_and_complaints(tmp_path: Path) -> None:
    auth = basic_auth("postmark", POSTMARK_PASSWORD)
    hooks = {"postmark_password": POSTMARK_PASSWORD}
    async with started(tmp_path, inbound_webhooks=hooks) as daemon:
        note = await first_notification(daemon)
        ours = str(note["Message-ID"])
        path = "/inbound/postmark/events"
        bounce = postmark_bounce(returned_dsn(ours))
        wrong = basic_auth("postmark", "guessed-wrong-password")
        assert (await post(daemon, path, json=bounce, headers=wrong))[0] == 401
        assert (await post(daemon, path, json=bounce))[0] == 401  # no credentials
        # Without the content (the checkbox off), nothing says which message it was.
        status, body = await post(daemon, path, json={**bounce, "ID": 1, "Content": ""},
                                  headers=auth)  # fmt: skip
        assert (status, body["outcomes"][0]["outcome"]) == (200, "nobody")
        # Another message's bounce (not ours): nobody.
        other = postmark_bounce(returned_dsn("<made-up.3@elsewhere.example>"), ID=2)
        assert (await post(daemon, path, json=other, headers=auth))[1]["outcomes"][0][
            "outcome"
        ] == "nobody"
        assert await counts(daemon) == (0, 0, None)
        for expected in ("counted", "repeated"):  # Postmark's retry: the same ID
            status, body = await post(daemon, path, json=bounce, headers=auth)
            assert (status, body["outcomes"][0]["outcome"]) == (200, expected), body
        assert await counts(daemon) == (1, 0, None)
        # A spam complaint, its content the feedback loop's report of our notification.
        complaint = postmark_bounce(
            abuse_report("bounces@postmarkapp.com", f"Message-ID: {ours}\r\n", "<r9@y>"
                         ).decode(),
            RecordType="SpamComplaint", Type="SpamComplaint", TypeCode=512, ID=3,
        )  # fmt: skip
        status, body = await post(daemon, path, json=complaint, headers=auth)
        assert (status, body["outcomes"][0]["kind"]) == (200, "complaint")
        assert await counts(daemon) == (1, 0, "complaint")
        await another_answer(daemon, "Bea")
        assert len(raw_mail_to(daemon, READER)) == 1  # not sent
