"""Issue 13 through the daemon: the extractor is told what the notification said, so
a writer's own pseudo-header survives and an Outlook-style unquoted copy of our
notification is cut; a reply whose words the rules would cut entirely is filed, held
for the moderator with why, never answered as "empty". Real SMTP, real SQLite."""

from __future__ import annotations

from email.message import EmailMessage

import aiosqlite
import pytest
from flows import moderation_email, reply_notification
from support import reply_address, smtp_send, text_body

from mailbridge.app import Running
from mailbridge.models import Comment
from mailbridge.store import comments

READER = "reader002.4a549d@example.org"


async def send(daemon: Running, body: str, note_reply_to: str) -> str:
    reply = EmailMessage()
    reply["From"] = f"Reader 002 <{READER}>"
    reply["To"] = note_reply_to
    reply["Subject"] = "Re: your comment"
    reply.set_content(body)
    return await smtp_send(daemon, READER, note_reply_to, reply.as_bytes())


async def newest_comment(daemon: Running) -> Comment:
    async def work(conn: aiosqlite.Connection) -> Comment:
        async with conn.execute("SELECT max(id) FROM comments") as cur:
            row = await cur.fetchone()
        assert row is not None
        found = await comments.get_comment(conn, int(row[0]))
        assert found is not None
        return found

    return await daemon.store.read(work)


@pytest.mark.asyncio
async def test_outlook_copy_of_the_notification_is_cut_and_a_pseudo_header_kept(
    daemon: Running,
) -> None:
    note = await reply_notification(daemon)
    body = (
        "Subject: what you said about dependency.\n\nIt helped me more than I can say.\n\n"
        "From: Ann via Example Blog <comments@example.org>\n"
        "Sent: Wednesday, November 25, 2026 6:37 PM\nTo: Reader 002\n"
        "Subject: Ann replied to your comment\n\n" + text_body(note)
    )
    assert (await send(daemon, body, reply_address(note))).startswith("250")
    await moderation_email(daemon, "Reader 002", 3)
    filed = await newest_comment(daemon)
    assert filed.body == (
        "Subject: what you said about dependency.\n\nIt helped me more than I can say."
    )
    assert not filed.held_reason


@pytest.mark.asyncio
async def test_words_the_rules_would_cut_are_filed_and_held(daemon: Running) -> None:
    note = await reply_notification(daemon)
    quoted = "\n".join("> " + line for line in text_body(note).splitlines())
    body = (
        "Call me on 020 7946 0000\nor on my mobile 07700 900123\nafter 6pm, any day\n"
        "Tel: 020 7946 0001\n\n" + quoted
    )
    assert (await send(daemon, body, reply_address(note))).startswith("250")
    moderation = await moderation_email(daemon, "Reader 002", 3)
    filed = await newest_comment(daemon)
    assert filed.body.startswith("Call me on 020 7946 0000")
    assert filed.held_reason and "check what extraction should cut" in filed.held_reason
    assert "HELD FOR A CLOSER LOOK" in text_body(moderation)


@pytest.mark.asyncio
async def test_a_reply_opening_with_a_header_block_is_filed_held(daemon: Running) -> None:
    note = await reply_notification(daemon)
    body = (
        "Od: Jan Kowalski <jan.kowalski@example.com>\n"
        "Wysłano: środa, 25 listopada 2026 12:00\nTemat: Re: your comment\n\n"
        "Dziękuję, to mi bardzo pomogło.\n\n    kod zostaje wcięty\n"
    )
    assert (await send(daemon, body, reply_address(note))).startswith("250")
    await moderation_email(daemon, "Reader 002", 3)
    filed = await newest_comment(daemon)
    assert filed.body == "Dziękuję, to mi bardzo pomogło.\n\n    kod zostaje wcięty"
    assert filed.held_reason and "opens with a quote header" in filed.held_reason


@pytest.mark.asyncio
async def test_an_empty_reply_over_our_unquoted_notification_stays_empty(
    daemon: Running,
) -> None:
    note = await reply_notification(daemon)
    body = (
        "From: Ann via Example Blog <comments@example.org>\n"
        "Sent: Wednesday, November 25, 2026 6:37 PM\nTo: Reader 002\n"
        "Subject: Ann replied to your comment\n\n" + text_body(note)
    )
    before = await newest_comment(daemon)
    answer = await send(daemon, body, reply_address(note))
    assert answer.startswith("250") and "nothing was left" in answer, answer
    assert (await newest_comment(daemon)).id == before.id  # nothing filed
