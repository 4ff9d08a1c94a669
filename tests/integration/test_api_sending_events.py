"""Mail sent through a service's HTTPS API (mailgun://, postmark://, ses://), then that
service's bounce and complaint events, against the running daemon.

The events name the message by the id the service's API answered when it accepted
it, and not by our Message-ID: Postmark's webhooks carry ours only with "Include
message content" on, SES's notifications only with "Include original headers" on
(SES rewrites the Message-ID it sends), and Mailgun names whatever Message-ID it put
in the message it sent. The daemon keeps that id with the outbox row (migration 0036)
and counts the event against the recipient it was sent to, with neither switch on.
The API is the local fake (tests/delivery/apifakes.py), answering with a fresh id as
each service documents; the events are shaped and signed as in test_mail_events.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from delivery.apifakes import DOMAIN, KEY, REGION, SES_KEY, TOKEN, Fake, Received, serving
from flows import approve, post_comment
from integration.test_api_delivery import _outbound
from integration.test_erasure_quoted import mb
from integration.test_mail_events import (
    EVENTS_TOPIC,
    MAILGUN_KEY,
    POSTMARK_PASSWORD,
    READER,
    basic_auth,
    counts,
    mailgun_event,
    mailgun_failed,
    post,
    postmark_bounce,
    ses_event,
)
from support import db_rows, started

assert MAILGUN_KEY == KEY  # the fake's sending key signs the events too, as in Mailgun

Send = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def _accepted(fake: Fake, count: int) -> list[Received]:
    for _ in range(300):  # bounded: 15 s
        if len(fake.accepted()) >= count:
            break
        await asyncio.sleep(0.05)
    assert len(fake.accepted()) >= count, [r.status for r in fake.received]
    return fake.accepted()


async def _notification_sent(daemon: Any, fake: Fake) -> tuple[Received, str]:
    """Ann answers Reader 002's comment, approved: the notification the service took,
    and the outbox's Message-ID of it (ours)."""
    await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
    await _accepted(fake, 1)
    [(raw,)] = await db_rows(
        daemon,
        "SELECT m.message FROM outbox o JOIN outbox_messages m ON m.outbox_id = o.id "
        "WHERE o.kind = 'moderation_request'",
    )
    moderation = message_from_bytes(bytes(raw), policy=policy.default)
    assert isinstance(moderation, EmailMessage)
    await approve(daemon, moderation)
    await _accepted(fake, 2)
    [note] = [r for r in fake.accepted() if READER in r.to]
    assert note.answered
    for _ in range(100):  # the send is recorded in the worker's next transaction
        rows = await db_rows(
            daemon, "SELECT message_id FROM outbox WHERE rcpt_to = ? AND status = 'sent'",
            READER,
        )  # fmt: skip
        if rows:
            break
        await asyncio.sleep(0.05)
    [(ours,)] = rows
    return note, str(ours)


async def _postmark(daemon: Any, fake: Fake) -> Send:
    async def send(body: dict[str, Any]) -> dict[str, Any]:
        auth = basic_auth("postmark", POSTMARK_PASSWORD)
        status, answer = await post(daemon, "/inbound/postmark/events", json=body, headers=auth)
        assert status == 200, answer
        return answer

    return send


async def _mailgun(daemon: Any, fake: Fake) -> Send:
    async def send(body: dict[str, Any]) -> dict[str, Any]:
        status, answer = await post(daemon, "/inbound/mailgun/events", json=mailgun_event(body))
        assert status == 200, answer
        return answer

    return send


@pytest.mark.asyncio
@pytest.mark.parametrize("scheme", ["postmark", "mailgun"])
async def test_a_bounce_named_by_the_services_id_counts_against_our_recipient(
    tmp_path: Path, scheme: str
) -> None:
    key = {"postmark": TOKEN, "mailgun": KEY}[scheme]
    hooks = {"postmark": {"postmark_password": POSTMARK_PASSWORD},
             "mailgun": {"mailgun_signing_key": MAILGUN_KEY}}[scheme]  # fmt: skip
    async with (
        serving(tmp_path) as fake,
        started(tmp_path, outbound=_outbound(fake, scheme, key), inbound_webhooks=hooks) as daemon,
    ):
        note, ours = await _notification_sent(daemon, fake)
        theirs = note.answered
        assert theirs.strip("<>") != ours.strip("<>")  # the fake's id is its own
        send = await (_postmark if scheme == "postmark" else _mailgun)(daemon, fake)
        if scheme == "postmark":
            # "Include message content" off: Content empty, only Postmark's MessageID.
            unknown = postmark_bounce("", ID=11, MessageID="0f2b7c1e-0000-4000-8000-000000000000")
            bounce = postmark_bounce("", ID=12, MessageID=theirs)
            complaint = postmark_bounce("", ID=13, MessageID=theirs, RecordType="SpamComplaint",
                                        Type="SpamComplaint", TypeCode=512)  # fmt: skip
        else:
            unknown = mailgun_failed(f"<{secrets.token_hex(8)}@{DOMAIN}>")
            bounce = mailgun_failed(theirs)  # its message-id: the id messages.mime answered
            complaint = {**mailgun_failed(theirs), "event": "complained",
                         "id": secrets.token_urlsafe(16)}  # fmt: skip
        assert (await send(unknown))["outcomes"][0]["outcome"] == "nobody"
        assert await counts(daemon) == (0, 0, None)
        assert (await send(bounce))["outcomes"][0]["outcome"] == "counted"
        assert (await send(bounce))["outcomes"][0]["outcome"] == "repeated"
        assert await counts(daemon) == (1, 0, None)
        [(outbox_id,)] = await db_rows(daemon, "SELECT id FROM outbox WHERE message_id = ?", ours)
        rows = await db_rows(
            daemon, "SELECT outbox_id FROM mail_events WHERE kind = 'hard' AND outbox_id IS "
            "NOT NULL",
        )  # fmt: skip
        assert rows == [(outbox_id,)]
        assert (await send(complaint))["outcomes"][0]["kind"] == "complaint"
        assert await counts(daemon) == (1, 0, "complaint")
        [(kept,)] = await db_rows(daemon, "SELECT provider_id FROM outbox WHERE message_id = ?",
                                  ours)  # fmt: skip
        assert kept == f"{scheme}:{theirs}"
        # What the operator reads: the id to look for in the service's own logs.
        shown = await mb(daemon, "outbox", str(outbox_id))
        assert f"accepted as  {theirs} by {scheme}\n" in shown.output, shown.output


@pytest.mark.asyncio
async def test_ses_notifications_without_the_original_headers_count(tmp_path: Path) -> None:
    from aiohttp import web
    from sns_signing import CERT_URL, key_and_certificate, signed
    from support import free_port

    from mailbridge.clock import SystemClock
    from mailbridge.inbound_webhooks import InboundWebhooks
    from mailbridge.mail_events import MailEventAccounting

    sns_key, pem = key_and_certificate()

    async def fetch(url: str) -> bytes:  # stands in for AWS: its signing certificate
        assert url == CERT_URL
        return pem

    def without_our_headers(kind: str, theirs: str, feedback: str) -> dict[str, str]:
        """SES's notification with "Include original headers" off: no headers, and
        commonHeaders.messageId is the one SES wrote (its id @ amazonses.com)."""
        body = ses_event(kind, "<x@x>", feedback)
        inner = json.loads(body["Message"])
        inner["mail"]["messageId"] = theirs
        del inner["mail"]["headers"]
        inner["mail"]["headersTruncated"] = False
        inner["mail"]["commonHeaders"]["messageId"] = f"<{theirs}@{REGION}.amazonses.com>"
        body["Message"] = json.dumps(inner)
        return signed(sns_key, body)

    hooks = {"ses_events_topic_arn": EVENTS_TOPIC}
    async with (
        serving(tmp_path) as fake,
        started(tmp_path, outbound=_outbound(fake, "ses", SES_KEY), inbound_webhooks=hooks)
        as daemon,
    ):  # fmt: skip
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

        async def send(body: dict[str, str]) -> dict[str, Any]:
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=json.dumps(body),
                             headers={"Content-Type": "text/plain; charset=UTF-8"}) as resp,
            ):  # fmt: skip
                assert resp.status == 200, await resp.text()
                answer: dict[str, Any] = await resp.json()
                return answer

        try:
            note, _ours = await _notification_sent(daemon, fake)
            theirs = note.answered
            other = without_our_headers("Bounce", "0102" + "0" * 32 + "-000000", "fb-0")
            assert (await send(other))["outcomes"][0]["outcome"] == "nobody"
            bounce = without_our_headers("Bounce", theirs, "fb-1")
            assert (await send(bounce))["outcomes"][0]["outcome"] == "counted"
            assert (await send(bounce))["outcomes"][0]["outcome"] == "repeated"
            assert await counts(daemon) == (1, 0, None)
            complaint = without_our_headers("Complaint", theirs, "fb-2")
            assert (await send(complaint))["outcomes"][0]["kind"] == "complaint"
            assert await counts(daemon) == (1, 0, "complaint")
        finally:
            await runner.cleanup()
