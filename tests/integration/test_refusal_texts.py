"""What a refused replier is told must be true: mailbridge's thread pages have no
comment form, so no refusal sends people to "reply on the website"."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import aiohttp
import aiosmtplib
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

from mailbridge.app import running

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
