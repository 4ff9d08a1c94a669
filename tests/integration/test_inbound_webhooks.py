"""Replies posted by mail services' inbound webhooks (issue 15): Mailgun, Postmark and
SendGrid, with payloads shaped as their documentation shows, against the running
daemon. Each one, authentic, becomes the pending comment an SMTP delivery makes (and,
posted twice, one comment); forged or replayed ones are refused with 401 and file
nothing; a refusal for good answers what makes the service stop retrying; a message
larger than the server accepts gets 413. Signatures here are computed with the
services' algorithms written out, not with mailbridge's code."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import support
from flows import outbox_dir, reply_notification
from support import (
    LOGGED,
    FakeClock,
    db_rows,
    import_seed,
    make_settings,
    no_dmarc_zone,
    read_maildir,
    reply_address,
    reply_to_notification,
    started,
    text_body,
    until,
)

from mailbridge.app import running

MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK_PASSWORD = "postmark-inbound-secret-1"
SENDGRID_PASSWORD = "sendgrid-parse-secret-42"
HOOKS = {
    "mailgun_signing_key": MAILGUN_KEY,
    "postmark_password": POSTMARK_PASSWORD,
    "sendgrid_password": SENDGRID_PASSWORD,
}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def mailgun_form(
    raw: bytes, rcpt: str, *, key: str = MAILGUN_KEY, age: float = 0
) -> aiohttp.FormData:
    """As Mailgun's forward() posts a stored message (support.mailgun_form), with this
    test's key."""
    form: aiohttp.FormData = support.mailgun_form(raw, rcpt, key, age=age)
    return form


def postmark_json(raw: bytes, rcpt: str) -> dict[str, Any]:
    """Postmark's inbound JSON (the fields its documentation lists), RawEmail on."""
    return {
        "FromName": "Reader 002", "MessageStream": "inbound",
        "From": "reader002.4a549d@example.org",
        "FromFull": {"Email": "reader002.4a549d@example.org", "Name": "Reader 002"},
        "To": rcpt, "ToFull": [{"Email": rcpt, "Name": "", "MailboxHash": ""}],
        "Cc": "", "CcFull": [], "Bcc": "", "BccFull": [], "OriginalRecipient": rcpt,
        "Subject": "Re: hello", "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "ReplyTo": "", "MailboxHash": "", "Date": "Thu, 3 Dec 2026 15:22:42 +0000",
        "TextBody": "(parsed)", "HtmlBody": "", "StrippedTextReply": "", "Tag": "",
        "Headers": [], "Attachments": [], "RawEmail": raw.decode("utf-8"),
    }  # fmt: skip


def sendgrid_form(raw: bytes, rcpt: str, *more: str) -> aiohttp.FormData:
    """SendGrid Inbound Parse with "POST the raw, full MIME message" on."""
    form = aiohttp.FormData()
    envelope = {"to": [rcpt, *more], "from": "reader002.4a549d@example.org"}
    form.add_field("envelope", json.dumps(envelope))
    form.add_field("charsets", json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}))
    form.add_field("SPF", "pass")
    form.add_field("email", io.BytesIO(raw), content_type="text/plain")
    return form


async def post(daemon: Any, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    host, port = daemon.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://{host}:{port}{path}", **kwargs) as resp,
    ):
        return resp.status, await resp.json()


async def comments_with(daemon: Any, body: str) -> list[tuple[Any, ...]]:
    async def work(conn: Any) -> list[tuple[Any, ...]]:
        async with conn.execute(
            "SELECT c.status, i.peer FROM comments c JOIN inbound_messages i "
            "ON i.comment_id = c.id WHERE c.body = ?",
            (body,),
        ) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    return list(await daemon.store.read(work))


@pytest.mark.asyncio
async def test_three_services_post_replies(tmp_path: Path) -> None:
    async with started(tmp_path, inbound_webhooks=HOOKS) as daemon:
        note = await reply_notification(daemon)
        rcpt = reply_address(note)

        def reply(text: str, n: int) -> bytes:
            message = reply_to_notification(note, text, message_id=f"<hook-{n}@client.example>")
            return message.as_bytes().replace(b"\n", b"\r\n")

        # Mailgun: authentic, then the same again (a retry): one comment.
        raw = reply(b"Via Mailgun.".decode(), 1)
        assert (await post(daemon, "/inbound/mailgun", data=mailgun_form(raw, rcpt)))[0] == 200
        assert (await post(daemon, "/inbound/mailgun", data=mailgun_form(raw, rcpt)))[0] == 200
        assert await comments_with(daemon, "Via Mailgun.") == [("pending", "mailgun:127.0.0.1")]
        # The same event four times at once (a retry while the first is still being
        # filed): four 200s, one comment; the comment is keyed on its inbound row.
        raw = reply("Four at once.", 7)
        posts = [post(daemon, "/inbound/mailgun", data=mailgun_form(raw, rcpt)) for _ in range(4)]
        assert [status for status, _ in await asyncio.gather(*posts)] == [200] * 4
        filed = await db_rows(daemon, "SELECT count(*) FROM comments WHERE body = ?",
                              "Four at once.")  # fmt: skip
        assert filed == [(1,)]
        # Forged (another key) or replayed (an hour old): 401, nothing filed.
        forged = reply("Forged.", 2)
        wrong_key = mailgun_form(forged, rcpt, key="key-guessed-wrong")
        status, body = await post(daemon, "/inbound/mailgun", data=wrong_key)
        assert status == 401 and body["error"] == "not_authentic"
        status, body = await post(daemon, "/inbound/mailgun",
                                  data=mailgun_form(forged, rcpt, age=3600))  # fmt: skip
        assert status == 401 and "a replay" in body["message"]
        assert await comments_with(daemon, "Forged.") == []
        # Refused for good (no such reply address): 406, so Mailgun does not retry.
        status, body = await post(
            daemon, "/inbound/mailgun",
            data=mailgun_form(reply("Lost.", 3), "reply+nonsense@reply.example.org"),
        )  # fmt: skip
        assert status == 406 and body["outcome"].startswith("5")
        # A multipart body aiohttp cannot read (no boundary; not starting with it),
        # before any signature is checked: a 400 saying so (it was a 500).
        for content_type, data in [
            ("multipart/form-data", b"x"),
            ("multipart/form-data; boundary=x", b"no boundary here"),
        ]:
            status, body = await post(daemon, "/inbound/mailgun", data=data,
                                      headers={"Content-Type": content_type})  # fmt: skip
            assert (status, body["error"]) == (400, "bad_payload")
            assert "multipart form that cannot be read" in body["message"]

        # Postmark: JSON with RawEmail, HTTP Basic from the webhook URL.
        raw = reply("Via Postmark.", 4)
        status, _ = await post(daemon, "/inbound/postmark", json=postmark_json(raw, rcpt),
                               headers=basic("postmark", POSTMARK_PASSWORD))  # fmt: skip
        assert status == 200
        assert await comments_with(daemon, "Via Postmark.") == [("pending", "postmark:127.0.0.1")]
        status, _ = await post(daemon, "/inbound/postmark", json=postmark_json(raw, rcpt),
                               headers=basic("postmark", "wrong"))  # fmt: skip
        assert status == 401
        no_raw = {**postmark_json(raw, rcpt), "RawEmail": ""}
        status, body = await post(daemon, "/inbound/postmark", json=no_raw,
                                  headers=basic("postmark", POSTMARK_PASSWORD))  # fmt: skip
        assert status == 400 and "Include raw email content" in body["message"]

        # SendGrid: multipart with the raw message and the envelope.
        raw = reply("Via SendGrid.", 5)
        status, _ = await post(daemon, "/inbound/sendgrid", data=sendgrid_form(raw, rcpt),
                               headers=basic("sendgrid", SENDGRID_PASSWORD))  # fmt: skip
        assert status == 200
        assert await comments_with(daemon, "Via SendGrid.") == [("pending", "sendgrid:127.0.0.1")]
        status, _ = await post(daemon, "/inbound/sendgrid", data=sendgrid_form(raw, rcpt))
        assert status == 401

        # Larger than smtp.max_message_size: 413, read no further.
        huge = reply("x" * (daemon.settings.smtp.max_message_size + 10), 6)
        status, body = await post(daemon, "/inbound/sendgrid", data=sendgrid_form(huge, rcpt),
                                  headers=basic("sendgrid", SENDGRID_PASSWORD))  # fmt: skip
        assert status == 413 and body["error"] == "too_large"


@pytest.mark.asyncio
async def test_routes_exist_only_when_configured(tmp_path: Path) -> None:
    async with started(tmp_path) as daemon:
        for service in ("mailgun", "postmark", "sendgrid"):
            host, port = daemon.http_address
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"http://{host}:{port}/inbound/{service}", data=b"x") as resp,
            ):
                assert resp.status in (404, 405), service


@pytest.mark.asyncio
async def test_an_expired_reply_address_is_explained_not_lost(tmp_path: Path) -> None:
    """Over SMTP the sender's own server bounces it with mailbridge's text; a webhook has
    nobody to bounce it, so the message is stored and the person it was for is told."""
    clock = FakeClock()
    settings = make_settings(tmp_path, inbound_webhooks=HOOKS)
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)
        clock.advance((settings.smtp.reply_token_days + 2) * 86400)
        reply = reply_to_notification(
            note, "Too late, but mine.", message_id="<old-1@client.example>"
        )
        raw = reply.as_bytes().replace(b"\n", b"\r\n")
        form = sendgrid_form(raw, reply_address(note))
        auth = basic("sendgrid", SENDGRID_PASSWORD)
        status, body = await post(daemon, "/inbound/sendgrid", data=form, headers=auth)
        assert status == 200 and body["outcome"].startswith("550 5.1.1"), body
        kept = await db_rows(
            daemon, f"SELECT m.status, m.reason, length(r.raw) > 0 FROM {LOGGED} "
                    "WHERE m.message_id = ?", "<old-1@client.example>",
        )  # fmt: skip
        assert kept == [("rejected", "expired_token", 1)]  # the words are kept
        told = await until("the explanation", lambda: _explained(daemon))
        assert told["To"].addresses[0].addr_spec == "reader002.4a549d@example.org"
        assert "its reply address has expired" in " ".join(text_body(told).split())


async def _explained(daemon: Any) -> Any:
    mails = read_maildir(outbox_dir(daemon)) if (outbox_dir(daemon) / "new").exists() else []
    found = [m for m in mails if "expired" in " ".join(text_body(m).split())]
    return found[-1] if found else None


@pytest.mark.sqlite_only("holds SQLite's write lock from a second connection to the file")
@pytest.mark.asyncio
async def test_a_locked_database_makes_the_service_retry_and_the_retry_files_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The store cannot write: 503 with Retry-After (every service retries that), for a
    reply and for a refusal alike (a refusal's inbound-log row is a write too: before,
    that one escaped as aiohttp's 500 with a traceback). Released, the retry files the
    reply; a retry of that (the answer lost, mailbridge stopped before sending it) is
    200 and the same comment."""
    async with started(
        tmp_path, inbound_webhooks=HOOKS, database_busy_timeout_seconds=0.3
    ) as daemon:
        note = await reply_notification(daemon)
        rcpt = reply_address(note)
        message = reply_to_notification(note, "Filed once.", message_id="<lock-1@client.example>")
        raw = message.as_bytes().replace(b"\n", b"\r\n")
        other = sqlite3.connect(
            daemon.settings.database_path, isolation_level=None, check_same_thread=False
        )
        try:
            await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
            for to in (rcpt, "reply+nonsense@reply.example.org"):
                host, port = daemon.http_address
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(f"http://{host}:{port}/inbound/mailgun",
                                 data=mailgun_form(raw, to)) as resp,
                ):  # fmt: skip
                    assert resp.status == 503, (to, resp.status, await resp.text())
                    assert resp.headers["Retry-After"].isdigit()
        finally:
            other.execute("ROLLBACK")
            other.close()
        for _ in range(2):
            status, body = await post(daemon, "/inbound/mailgun", data=mailgun_form(raw, rcpt))
            assert status == 200 and body["outcome"].startswith("250"), body
        assert await comments_with(daemon, "Filed once.") == [("pending", "mailgun:127.0.0.1")]


@pytest.mark.asyncio
async def test_payloads_no_service_sends_get_400_not_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, each of these was aiohttp's 500 (an HTML page, a traceback in the log): a
    multipart form that does not parse, JSON nested past the stack (SES parses before it
    can authenticate: anyone could), a RawEmail with a lone surrogate. Now 400 saying
    why, or, for the message, the pipeline's answer."""
    hooks = {**HOOKS, "ses_topic_arn": "arn:aws:sns:eu-west-1:123456789012:replies"}
    async with started(tmp_path, inbound_webhooks=hooks) as daemon:
        broken = {"Content-Type": "multipart/form-data; boundary=zz"}
        sendgrid = basic("sendgrid", SENDGRID_PASSWORD)
        for path, auth in (("/inbound/mailgun", {}), ("/inbound/sendgrid", sendgrid)):
            for junk in (b"--zz\r\nno end", b"no boundary at all"):
                status, body = await post(daemon, path, data=junk, headers=broken | auth)
                assert status == 400 and "multipart" in body["message"], (path, body)
        deep = b"[" * 100_000 + b"]" * 100_000
        for path, auth in (("/inbound/postmark", basic("postmark", POSTMARK_PASSWORD)),
                           ("/inbound/ses", {})):  # fmt: skip
            status, body = await post(daemon, path, data=deep, headers=auth)
            assert (status, body["message"]) == (400, "not JSON"), path
        lone = json.dumps({"RawEmail": "From: a@example.net\r\n\r\n\ud800", "From": "a@example.net",
                           "OriginalRecipient": "reply+nonsense@reply.example.org"})  # fmt: skip
        status, body = await post(daemon, "/inbound/postmark", data=lone,
                                  headers=basic("postmark", POSTMARK_PASSWORD))  # fmt: skip
        assert status == 403 and body["outcome"].startswith("550"), body
    assert "Traceback" not in caplog.text and "failed" not in caplog.text


@pytest.mark.asyncio
async def test_every_envelope_recipient_is_delivered_to(tmp_path: Path) -> None:
    """SendGrid's envelope lists every recipient at the parse domain (SES's receipt the
    same): each is delivered to, as SMTP does each RCPT. Before, only the first was:
    here an address that is not a reply address, so the reply itself was lost (and
    answered 200)."""
    async with started(tmp_path, inbound_webhooks=HOOKS) as daemon:
        note = await reply_notification(daemon)
        raw = reply_to_notification(note, "Second in the envelope.",
                                    message_id="<two-rcpt@client.example>")  # fmt: skip
        raw_bytes = raw.as_bytes().replace(b"\n", b"\r\n")
        other = "someone-else@reply.example.org"
        form = sendgrid_form(raw_bytes, other, reply_address(note))
        status, body = await post(daemon, "/inbound/sendgrid", data=form,
                                  headers=basic("sendgrid", SENDGRID_PASSWORD))  # fmt: skip
        assert status == 200 and body["outcome"].startswith("250"), body
        assert [a[:3] for a in body["outcomes"]] == ["550", "250"]
        assert await comments_with(daemon, "Second in the envelope.") == [
            ("pending", "sendgrid:127.0.0.1")
        ]
        refused = await db_rows(daemon, "SELECT status, reason FROM inbound_messages "
                                        "WHERE rcpt_to = ?", other)  # fmt: skip
        assert refused == [("refused", "unknown_recipient")]
