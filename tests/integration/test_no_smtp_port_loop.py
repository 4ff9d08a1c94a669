"""The whole loop of an operator whose host blocks every SMTP port (docs/delivery.md,
"No SMTP port?"): mail leaves through Mailgun's HTTP API (the local fake of
tests/delivery/apifakes.py, shaped as Mailgun documents it), replies come in through
Mailgun's inbound webhook and bounces through its event webhook, both signed as
Mailgun signs them (written out in support.mailgun_form and test_mail_events).

A comment approved → its notification through the API → the reader's reply posted to
the inbound webhook → filed pending → its moderation email through the API → a bounce
event for a second reader's notification → that reader is not mailed again. Nothing
goes through an SMTP port or a Maildir."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from delivery.apifakes import DOMAIN, KEY, Fake, serving
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


def _sent(fake: Fake) -> list[tuple[str, EmailMessage]]:
    """Every message the API accepted: its envelope recipient and the MIME it got."""
    return [
        (r.to, message_from_bytes(r.message, policy=policy.default))  # type: ignore[misc]
        for r in fake.accepted()
    ]


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


@pytest.mark.asyncio
async def test_comment_reply_moderation_and_bounce_all_through_mailgun(tmp_path: Path) -> None:
    async with (
        serving(tmp_path) as fake,
        started(
            tmp_path,
            outbound={
                "transport": f"mailgun://{DOMAIN}",
                "api_key": KEY,
                "api_url": fake.url,
                "relay_ca_file": str(fake.ca.ca_file),
            },
            inbound_webhooks={"mailgun_signing_key": SIGNING_KEY},
            inbound={"hard_bounce_limit": 1},
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

        # Reader 002 answers by email; Mailgun's route posts it to the inbound webhook.
        reply = reply_to_notification(note, "Thank you, Ann. It helped me too.")
        form = mailgun_form(bytes(reply), reply_address(note), SIGNING_KEY, sender=READER)
        status, body = await _post(daemon, "/inbound/mailgun", data=form)
        assert status == 200 and body["outcome"].startswith("250"), body
        [(parent, state, text)] = await db_rows(
            daemon, "SELECT parent_id, status, body FROM comments WHERE parent_id = ?", ann
        )
        assert (parent, state, text) == (ann, "pending", "Thank you, Ann. It helped me too.")
        # Its moderation email went out through the API too, to the thread's author.
        asked = await _through_api(fake, AUTHOR, _moderation_of("Reader 002"))
        assert "Thank you, Ann. It helped me too." in asked.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        # Mailgun reports that Reader 003's notification bounced for good: it is
        # counted against the message we sent, and the address is no longer mailed.
        event = _bounce_event(str(second["Message-ID"]), SECOND)
        status, body = await _post(daemon, "/inbound/mailgun/events", json=event)
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
