"""What people are told when something is refused must be true: mailbridge's thread
pages have no comment form, so no refusal sends people to "reply on the website", and
an expired link says what works instead."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import aiosmtplib
import aiosqlite
import pytest
from flows import outbox_dir, reply_notification
from support import (
    THREAD,
    FakeClock,
    import_seed,
    local,
    make_settings,
    no_dmarc_zone,
    read_maildir,
    reply_address,
    reply_to_notification,
    text_body,
)

from mailbridge.app import Running, running
from mailbridge.tokens import LinkPurpose, make_subscription_token

READER = "reader002.4a549d@example.org"


@pytest.mark.asyncio
async def test_an_expired_reply_address_says_when_it_expired_and_what_works(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    clock = FakeClock()
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)
        expires = (clock.now() + timedelta(days=settings.smtp.reply_token_days)).date()
        clock.advance((settings.smtp.reply_token_days + 1) * 86400)
        host, port = daemon.smtp_address

        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
            await aiosmtplib.send(
                reply_to_notification(note, "A late answer."),
                hostname=host,
                port=port,
                start_tls=False,
            )

        [refusal] = info.value.recipients
        assert (refusal.code, refusal.recipient) == (550, reply_address(note))
        text = " ".join(refusal.message.split())
        assert text.startswith(f"5.1.1 This reply address expired on {expires.isoformat()}, ")
        assert f"/threads/{THREAD}#comment-" in text
        assert "newer emails from this conversation carry a reply address that works" in text
        assert "website" not in text


@pytest.mark.asyncio
async def test_a_reply_after_stopping_emails_is_told_how_to_post_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)
        settings_link = re.search(r"(http\S+/unsubscribe/[a-z0-9]+)", text_body(note))
        assert settings_link
        async with aiohttp.ClientSession() as session:
            await session.post(
                local(settings_link.group(1), daemon.http_address), data={"choice": "thread-none"}
            )
        host, port = daemon.smtp_address
        await aiosmtplib.send(
            reply_to_notification(note, "One more thought."),
            hostname=host,
            port=port,
            start_tls=False,
        )

        for _ in range(200):
            notices = [
                m for m in read_maildir(outbox_dir(daemon)) if "not posted" in str(m["Subject"])
            ]
            if notices:
                break
            await asyncio.sleep(0.05)
        [notice] = notices
        text = " ".join(text_body(notice).split())
        assert "turn emails back on with the settings link below and send it again" in text
        assert "website" not in text


@pytest.mark.asyncio
async def test_expired_subscription_links_say_what_works_instead(daemon: Running) -> None:
    [(address_id,)] = await daemon.store.read(_address_id)
    yesterday = date.today() - timedelta(days=1)
    host, port = daemon.http_address
    expected = {
        LinkPurpose.CONFIRM: ("confirm", "ask again when you next comment"),
        LinkPurpose.UNSUBSCRIBE: ("unsubscribe", "Every newer email from this site carries"),
    }
    for purpose, (path, what_now) in expected.items():
        token = make_subscription_token(
            daemon.keyring.subscription, purpose, address_id, 1, "replies", yesterday
        )
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{host}:{port}/{path}/{token}") as resp,
        ):
            page = await resp.text()
        assert resp.status == 403
        assert "This link has expired." in page and what_now in page
        assert "moderation" not in page and "command line" not in page


async def _address_id(conn: aiosqlite.Connection) -> list[tuple[int]]:
    async with conn.execute("SELECT id FROM addresses WHERE email = ?", (READER,)) as cur:
        return [(int(row[0]),) for row in await cur.fetchall()]
