"""The whole loop of an operator whose host blocks every SMTP port (docs/delivery.md,
"No SMTP port?"), for Mailgun, Postmark and SendGrid: mail leaves through the service's HTTP
API (the local fakes of tests/delivery/apifakes.py, shaped as each service documents
its API), replies come in through its inbound webhook and bounces through its event
webhook, authenticated as each service does (Mailgun's HMAC-SHA256 signature written
out here and in support.mailgun_form; Postmark's credentials in the URL, HTTP Basic;
SendGrid's Inbound Parse with credentials in the URL, its Event Webhook signed with
ECDSA by a key pair made here).

A comment approved → its notification through the API → the reader's reply posted to
the inbound webhook → filed pending → its moderation email through the API → a bounce
event for a second reader's notification → that reader is not mailed again. Nothing
goes through an SMTP port or a Maildir. For Postmark and SendGrid, what the reader
gets is built from the JSON fields the service was given (its Reply-To, its
Message-ID among the headers); Postmark's bounce names our message only through the
headers its content returns, SendGrid's by the X-Message-Id its API answered."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import secrets
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from delivery.apifakes import DOMAIN, KEY, SENDGRID_KEY, TOKEN, Fake, Received, serving
from flows import delivered, post_comment
from support import (
    db_rows,
    is_notification,
    mailgun_form,
    moderation_links,
    reply_address,
    reply_to_notification,
    started,
)

SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"  # Mailgun's webhook signing key
AUTHOR = "author@example.org"  # the seed thread's author: its moderator
SECOND = "reader003.09dcd2@example.org"  # seed comment 3's author
READER = "reader002.4a549d@example.org"  # seed comment 2's author


def _bounce_event(message_id: str, email: str) -> dict[str, Any]:
    """Mailgun's webhook body for a permanent failure, signed with the signing key:
    HMAC-SHA256 of timestamp + token (Mailgun's documented algorithm)."""
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(
        SIGNING_KEY.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    event = {
        "id": secrets.token_urlsafe(16), "timestamp": time.time(), "log-level": "error",
        "event": "failed", "severity": "permanent", "reason": "bounce",
        "delivery-status": {
            "attempt-no": 1, "code": 550, "enhanced-code": "5.1.1",
            "message": "5.1.1 The email account that you tried to reach does not exist.",
            "description": "", "mx-host": "mx.example.org",
        },
        "envelope": {"sender": f"postmaster@{DOMAIN}", "transport": "smtp", "targets": email},
        "recipient": email, "recipient-domain": email.split("@")[1],
        "message": {"headers": {"to": email, "message-id": message_id.strip("<>"),
                                "from": "Example Blog <comments@example.org>"}},
    }  # fmt: skip
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event,
    }


POSTMARK_PASSWORD = "postmark-webhook-secret-1"
POSTMARK_AUTH = {
    "Authorization": "Basic " + base64.b64encode(f"postmark:{POSTMARK_PASSWORD}".encode()).decode()
}


def _postmark_bounce(message_id: str, email: str) -> dict[str, Any]:
    """Postmark's Bounce webhook ("Include message content" on): its Content is the
    report the receiving server sent, returning our message's headers."""
    content = (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {email}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: Example Blog <comments@example.org>\r\nTo: {email}\r\n"
        f"Message-ID: {message_id}\r\nSubject: Re: a reply to your comment\r\n"
        "--B--\r\n"
    )
    return {
        "RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807,
        "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce", "Tag": "",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Metadata": {}, "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email, "From": "comments@example.org", "BouncedAt": "2026-12-07T15:00:00Z",
        "DumpAvailable": True, "Inactive": True, "CanActivate": True,
        "Subject": "Re: a reply to your comment", "Content": content,
    }  # fmt: skip


def _postmark_inbound(raw: bytes, rcpt: str) -> dict[str, Any]:
    """Postmark's inbound JSON with "Include raw email content" on."""
    return {
        "FromName": "Reader 002", "MessageStream": "inbound", "From": READER,
        "FromFull": {"Email": READER, "Name": "Reader 002"},
        "To": rcpt, "ToFull": [{"Email": rcpt, "Name": "", "MailboxHash": ""}],
        "Cc": "", "CcFull": [], "Bcc": "", "BccFull": [], "OriginalRecipient": rcpt,
        "Subject": "Re: hello", "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "ReplyTo": "", "MailboxHash": "", "Date": "Mon, 7 Dec 2026 15:22:42 +0000",
        "TextBody": "(parsed)", "HtmlBody": "", "StrippedTextReply": "", "Tag": "",
        "Headers": [], "Attachments": [], "RawEmail": raw.decode("utf-8"),
    }  # fmt: skip


SENDGRID_PASSWORD = "sendgrid-parse-secret-1"
SENDGRID_AUTH = {
    "Authorization": "Basic " + base64.b64encode(f"sendgrid:{SENDGRID_PASSWORD}".encode()).decode()
}
SENDGRID_EVENTS = ec.generate_private_key(ec.SECP256R1())  # the Event Webhook's signing key
SENDGRID_EVENT_KEY = base64.b64encode(
    SENDGRID_EVENTS.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def _sendgrid_inbound(raw: bytes, rcpt: str) -> aiohttp.FormData:
    """SendGrid Inbound Parse with "POST the raw, full MIME message" on."""
    form = aiohttp.FormData()
    form.add_field("envelope", json.dumps({"to": [rcpt], "from": READER}))
    form.add_field("charsets", json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}))
    form.add_field("SPF", "pass")
    form.add_field("email", io.BytesIO(raw), content_type="text/plain")
    return form


def _sendgrid_bounce(sent: Received) -> dict[str, Any]:
    """SendGrid's signed Event Webhook request for a bounce of ``sent``: its smtp-id a
    Message-ID of SendGrid's own, its sg_message_id the send's X-Message-Id and more."""
    body = json.dumps([{
        "email": sent.to, "timestamp": int(time.time()), "event": "bounce", "type": "bounce",
        "smtp-id": f"<{secrets.token_hex(8)}@geopod-ismtpd-3>",
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": f"{sent.answered}.recvd-5f54b5b8b7-vq9dx-1-6751A5CC-3.0",
        "reason": f"550 5.1.1 <{sent.to}>: Recipient address rejected: User unknown",
        "status": "5.1.1", "tls": 1,
    }]).encode()  # fmt: skip
    timestamp = str(int(time.time()))
    signature = SENDGRID_EVENTS.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "data": body,
        "headers": {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        },
    }


def _from_sendgrid(fields: dict[str, Any]) -> EmailMessage:
    """What SendGrid builds from the JSON it was given: the message the reader gets."""
    message = EmailMessage()
    message["From"] = fields["from"]["email"]
    message["To"] = fields["personalizations"][0]["to"][0]["email"]
    message["Subject"] = fields["subject"]
    if "reply_to" in fields:
        message["Reply-To"] = fields["reply_to"]["email"]
    for name, value in fields.get("headers", {}).items():
        message[name] = value
    bodies = {c["type"]: c["value"] for c in fields["content"]}
    message.set_content(bodies.get("text/plain", ""))
    if "text/html" in bodies:
        message.add_alternative(bodies["text/html"], subtype="html")
    return message


def _from_fields(fields: dict[str, Any]) -> EmailMessage:
    """What Postmark builds from the JSON it was given: the message the reader gets."""
    message = EmailMessage()
    for name, key in (("From", "From"), ("To", "To"), ("Subject", "Subject"),
                      ("Reply-To", "ReplyTo")):  # fmt: skip
        if fields.get(key):
            message[name] = fields[key]
    for header in fields.get("Headers", []):
        message[header["Name"]] = header["Value"]
    message.set_content(fields.get("TextBody", ""))
    if fields.get("HtmlBody"):
        message.add_alternative(fields["HtmlBody"], subtype="html")
    return message


def _sent(fake: Fake) -> list[tuple[str, EmailMessage]]:
    """Every message the API accepted: its envelope recipient and the message the
    reader gets (Mailgun's and SES's: our MIME; Postmark's: built from its fields)."""
    found = []
    for r in fake.accepted():
        if r.provider == "postmark":
            found.append((parseaddr(r.to)[1], _from_fields(r.fields)))
        elif r.provider == "sendgrid":
            found.append((r.to, _from_sendgrid(r.fields)))
        else:
            found.append((r.to, message_from_bytes(r.message, policy=policy.default)))
    return found  # type: ignore[return-value]


async def _through_api(fake: Fake, to: str, what: Any, count: int = 1) -> EmailMessage:
    """The latest of at least ``count`` messages to ``to`` that ``what`` picks, waiting
    (bounded) for the worker to hand it to the API."""
    for _ in range(300):  # 15 s
        found = [m for rcpt, m in _sent(fake) if rcpt == to and what(m)]
        if len(found) >= count:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing to {to} through the API: {[r for r, _ in _sent(fake)]}")


def _moderation_of(author: str) -> Any:
    return lambda m: (
        "awaits moderation" in str(m["Subject"]) and f"by {author} on" in str(m["Subject"])
    )


async def _post(daemon: Any, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    host, port = daemon.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://{host}:{port}{path}", **kwargs) as resp,
    ):
        return resp.status, await resp.json()


async def _approve(daemon: Any, moderation: EmailMessage) -> None:
    host, port = daemon.http_address
    link = moderation_links(moderation)["approve"].split("/moderate/", 1)[1]
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://{host}:{port}/moderate/{link}") as resp,
    ):
        assert resp.status == 200, await resp.text()


SERVICES = {
    "mailgun": (f"mailgun://{DOMAIN}", KEY, {"mailgun_signing_key": SIGNING_KEY}),
    "postmark": ("postmark://", TOKEN, {"postmark_password": POSTMARK_PASSWORD}),
    "sendgrid": (
        "sendgrid://",
        SENDGRID_KEY,
        {"sendgrid_password": SENDGRID_PASSWORD, "sendgrid_event_key": SENDGRID_EVENT_KEY},
    ),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_comment_reply_moderation_and_bounce_all_through_the_service(
    tmp_path: Path, service: str
) -> None:
    transport, key, hooks = SERVICES[service]
    async with (
        serving(tmp_path) as fake,
        started(
            tmp_path,
            outbound={
                "transport": transport,
                "api_key": key,
                "api_url": fake.url,
                "relay_ca_file": str(fake.ca.ca_file),
            },
            inbound_webhooks=hooks,
            inbound={"hard_bounce_limit": 1},
            http={"trusted_proxies": ["127.0.0.1"]},  # behind the https proxy
        ) as daemon,
    ):
        # Ann answers Reader 002 and Bea answers Reader 003; the author approves both
        # from the moderation emails the API carried.
        ann = await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
        await _approve(daemon, await _through_api(fake, AUTHOR, _moderation_of("Ann")))
        await post_comment(
            daemon, parent=3, author="Bea", email="bea@example.com", body="Bea answers 003."
        )
        await _approve(daemon, await _through_api(fake, AUTHOR, _moderation_of("Bea")))
        note = await _through_api(fake, READER, is_notification)
        second = await _through_api(fake, SECOND, is_notification)
        assert "Ann's answer to Reader 002." in note.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        # Reader 002 answers by email; the service posts it to the inbound webhook,
        # through the proxy, which names the service's address.
        reply = reply_to_notification(note, "Thank you, Ann. It helped me too.")
        proxied = {"X-Forwarded-For": "203.0.113.9"}
        if service == "mailgun":
            form = mailgun_form(bytes(reply), reply_address(note), SIGNING_KEY, sender=READER)
            status, body = await _post(daemon, "/inbound/mailgun/mime", data=form, headers=proxied)
        elif service == "sendgrid":
            form = _sendgrid_inbound(bytes(reply), reply_address(note))
            status, body = await _post(
                daemon, "/inbound/sendgrid", data=form, headers={**SENDGRID_AUTH, **proxied}
            )
        else:
            payload = _postmark_inbound(bytes(reply), reply_address(note))
            status, body = await _post(
                daemon, "/inbound/postmark", json=payload, headers={**POSTMARK_AUTH, **proxied}
            )
        assert status == 200 and body["outcome"].startswith("250"), body
        [(parent, state, text)] = await db_rows(
            daemon, "SELECT parent_id, status, body FROM comments WHERE parent_id = ?", ann
        )
        assert (parent, state, text) == (ann, "pending", "Thank you, Ann. It helped me too.")
        # Counted in /metrics as a reply received over SMTP would be.
        host, port = daemon.http_address
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{host}:{port}/metrics") as resp,
        ):
            scraped = await resp.text()
        assert 'mailbridge_messages_received_total{disposition="accepted"} 1.0' in scraped
        # The inbound log names the service's address, not the proxy's.
        assert await db_rows(daemon, "SELECT peer FROM inbound_messages") == [
            (f"{service}:203.0.113.9",)
        ]
        # Its moderation email went out through the API too, to the thread's author.
        asked = await _through_api(fake, AUTHOR, _moderation_of("Reader 002"))
        assert "Thank you, Ann. It helped me too." in asked.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        # The service reports that Reader 003's notification bounced for good: it is
        # counted against the message we sent, and the address is no longer mailed.
        if service == "mailgun":
            event = _bounce_event(str(second["Message-ID"]), SECOND)
            status, body = await _post(daemon, "/inbound/mailgun/events", json=event)
        elif service == "sendgrid":
            sent = next(r for r in fake.accepted() if r.to == SECOND)
            status, body = await _post(daemon, "/inbound/sendgrid/events", **_sendgrid_bounce(sent))
        else:
            event = _postmark_bounce(str(second["Message-ID"]), SECOND)
            status, body = await _post(
                daemon, "/inbound/postmark/events", json=event, headers=POSTMARK_AUTH
            )
        assert status == 200 and body["outcomes"][0]["outcome"] == "suppressed", body
        before = len([1 for rcpt, _m in _sent(fake) if rcpt == SECOND])
        await post_comment(
            daemon, parent=3, author="Cy", email="cy@example.com", body="Cy answers 003 too."
        )
        await _approve(daemon, await _through_api(fake, AUTHOR, _moderation_of("Cy")))
        await delivered(daemon)
        await asyncio.sleep(0.3)  # a notification queued by the approval would be out
        assert await db_rows(
            daemon, "SELECT status FROM outbox WHERE rcpt_to = ? ORDER BY id", SECOND
        ) == [("sent",)]
        assert await db_rows(
            daemon, "SELECT suppressed_reason FROM addresses WHERE email = ?", SECOND
        ) == [("1 hard bounce",)]
        assert len([1 for rcpt, _m in _sent(fake) if rcpt == SECOND]) == before
    assert fake.problems == []
