"""Who is told of a published comment, checked on the Maildir's bytes: a person's own
choice made while a notification waits for its batch window holds for that one too."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from flows import batched_daemon, moderation_email, post_comment, raw_mail_to, window_closes
from support import FakeClock, local, moderation_links, parse

READER = "reader002.4a549d@example.org"  # seed comment 2's author: imported, wants replies


async def publish_answer(daemon: object, author: str, count: int) -> None:
    """``author`` answers seed comment 2 on the web; a moderator approves it."""
    await post_comment(
        daemon, parent=2, author=author, email=f"{author.lower()}@example.com",
        body=f"{author} answers Reader 002.",
    )  # fmt: skip
    links = moderation_links(await moderation_email(daemon, author, count))
    async with aiohttp.ClientSession() as session:
        async with session.post(local(links["approve"], daemon.http_address)) as resp:
            assert resp.status == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["one-click", "thread-none"])
async def test_a_reply_waiting_for_its_window_is_not_sent_after_unsubscribing(
    tmp_path: Path, how: str
) -> None:
    """The reader gets Ann's answer and presses unsubscribe (their mail program's
    one-click button, or "stop this conversation" on the page); Bob's answer, approved
    a minute before, was waiting for its batch window and went out all the same."""
    clock = FakeClock()
    async with batched_daemon(tmp_path, clock) as daemon:
        await publish_answer(daemon, "Ann", 1)
        assert await window_closes(daemon, clock) == 1
        [first] = raw_mail_to(daemon, READER)
        await publish_answer(daemon, "Bob", 2)  # waits for its window

        url = local(str(parse(first)["List-Unsubscribe"]).split(",")[0].strip(" <>"),
                    daemon.http_address)  # fmt: skip
        form = {"List-Unsubscribe": "One-Click"} if how == "one-click" else {"choice": how}
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            async with session.post(url, data=form) as resp:
                assert resp.status == 200

        assert await window_closes(daemon, clock) == 0
        assert raw_mail_to(daemon, READER) == [first]
