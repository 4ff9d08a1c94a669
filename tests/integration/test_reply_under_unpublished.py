"""A reply approved while the comment it answers is off the page (a mistaken Spam the
author then undoes) is notified when that comment is back, once (docs/subscriptions.md,
"Batching"); it was never notified at all. Read from the Maildir's bytes."""

from __future__ import annotations

import re

import aiosmtplib
import pytest
from flows import (
    approve,
    delivered,
    follow,
    moderation_email,
    notification_for,
    post_comment,
    raw_mail_to,
)
from support import db_rows, moderation_links, reply_to_notification, until

from mailbridge.app import Running

READER = "reader002.4a549d@example.org"  # seed comment 2's author: imported, wants replies
ANSWER = "Bea's answer to what Reader 002 wrote back."


async def press(daemon: Running, link: str) -> str:
    status, page = await follow(daemon, link, "POST")
    assert status == 200, page
    return page


def unfolded(raw: bytes) -> bytes:
    return re.sub(rb"=\r?\n", b"", raw)


async def settled(daemon: Running) -> None:
    """What is due is queued (window 0: the digester's restored rows) and delivered."""
    await daemon.digester.run_once()
    await delivered(daemon)


@pytest.mark.asyncio
async def test_a_reply_approved_under_a_comment_off_the_page_is_told_when_it_is_back(
    daemon: Running,
) -> None:
    # Reader 002 is answered, and writes back by email: their reply is published.
    await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
    await approve(daemon, await moderation_email(daemon, "Ann"))
    note = await notification_for(daemon, READER, 2)
    host, port = daemon.smtp_address
    reply = reply_to_notification(note, "Reader 002 writes back to Ann.")
    await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)
    theirs = moderation_links(await moderation_email(daemon, "Reader 002"))
    await press(daemon, theirs["approve"])
    [(written,)] = await db_rows(
        daemon, "SELECT id FROM comments WHERE body LIKE 'Reader 002 writes back%'"
    )
    # Bea answers it; then, on a phone, the author taps Spam on Reader 002's reply by
    # mistake, approves Bea's, and undoes the Spam.
    await post_comment(daemon, parent=written, author="Bea", email="bea@example.net", body=ANSWER)
    beas = moderation_links(await moderation_email(daemon, "Bea"))
    page = await press(daemon, theirs["spam"])
    undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
    assert undo is not None
    await press(daemon, beas["approve"])
    await settled(daemon)
    assert len(raw_mail_to(daemon, READER)) == 1  # not while it quotes a comment off the page

    assert "Undone" in await press(daemon, undo.group(1))

    async def told() -> list[bytes]:
        await daemon.digester.run_once()
        return [raw for raw in raw_mail_to(daemon, READER) if ANSWER.encode() in unfolded(raw)]

    [to_reader] = await until("Bea's reply told to Reader 002", told, seconds=10)
    assert b"Bea replied to your comment" in unfolded(to_reader)

    # Off the page and back again: nobody is told twice.
    await press(daemon, theirs["spam"])
    await press(daemon, theirs["approve"])
    await settled(daemon)
    assert len(raw_mail_to(daemon, READER)) == 2
