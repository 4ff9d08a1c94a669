"""Who is told of a published comment, checked on the Maildir's bytes: a person's own
choice holds, for what waits for its batch window too, and nobody else's word (an
address typed into the comment form) overrides it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from flows import (
    approve,
    batched_daemon,
    delivered,
    follow,
    moderation_email,
    post_comment,
    raw_mail_to,
    window_closes,
)
from support import FakeClock, db_rows, local, moderation_links, parse, smtp_send

from mailbridge.app import Running
from mailbridge.people import data

READER = "reader002.4a549d@example.org"  # seed comment 2's author: imported, wants replies


async def publish_answer(daemon: Running, author: str, count: int) -> None:
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


async def one_click(daemon: Running, notification: bytes) -> None:
    """The mail program's unsubscribe button, as Gmail sends it."""
    header = str(parse(notification)["List-Unsubscribe"])
    url = local(header.split(",")[0].strip(" <>"), daemon.http_address)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.post(url, data={"List-Unsubscribe": "One-Click"}) as resp:
            assert resp.status == 200


@pytest.mark.asyncio
async def test_a_typed_address_does_not_undo_its_owners_stop(daemon: Running) -> None:
    """The reader stopped every email from the site; anyone then posting a comment with
    their address and "notify": "thread" (no proof of owning it) subscribed them to
    every new comment of the thread, and the next one was mailed to them. Now their
    owner is asked first, as a new address is: the confirmation email."""
    await publish_answer(daemon, "Ann", 1)
    await delivered(daemon)
    [note] = raw_mail_to(daemon, READER)
    await one_click(daemon, note)

    await post_comment(daemon, author="Mal", email=READER, notify="thread", body="Spam me.")
    await post_comment(daemon, author="Bob", email="bob@example.com", body="A new thought.")
    await approve(daemon, await moderation_email(daemon, "Bob", 3))
    await delivered(daemon)
    [_note, confirm] = raw_mail_to(daemon, READER)
    assert b"/confirm/" in confirm and b"List-Unsubscribe" not in confirm
    [(level,)] = await db_rows(
        daemon,
        "SELECT s.level FROM subscriptions s JOIN addresses a ON a.id = s.address_id "
        "WHERE a.email = ? AND s.thread_id IS NULL",
        READER,
    )
    assert level == "none"

    # Its owner does want them after all: the link asks (a GET changes nothing)...
    found = re.search(rb"(http\S+/confirm/[a-z0-9]+)", re.sub(rb"=\r?\n", b"", confirm))
    assert found is not None
    status, page = await follow(daemon, found.group(1).decode())
    assert status == 200 and "Yes, email me" in page
    status, page = await follow(daemon, found.group(1).decode(), "POST")
    assert status == 200 and "every new comment" in page
    await post_comment(daemon, author="Cat", email="cat@example.com", body="One more.")
    await approve(daemon, await moderation_email(daemon, "Cat", 4))
    await delivered(daemon)
    assert b"Cat commented on" in raw_mail_to(daemon, READER)[-1]


@pytest.mark.asyncio
async def test_mailto_unsubscribe_of_an_erased_address_is_done_not_retried(
    daemon: Running,
) -> None:
    """A person erased (privacy) whose mail program then sends the List-Unsubscribe
    mailto: (as some do on "report spam"): it was answered 451 (a foreign key failed
    on the address no longer held), so their provider retried it for days. As the
    https link does, it answers that it is done, and nothing of them is stored again
    but the inbound log's record of the message."""
    await publish_answer(daemon, "Ann", 1)
    await delivered(daemon)
    [note] = raw_mail_to(daemon, READER)
    header = str(parse(note)["List-Unsubscribe"])
    mailto = header.split(",")[1].strip(" <>").removeprefix("mailto:").split("?")[0]
    await daemon.store.write(lambda conn: data.erase(conn, READER, False, datetime.now(UTC)))

    message = f"From: {READER}\r\nSubject: unsubscribe\r\n\r\n".encode()
    answer = await smtp_send(daemon, READER, mailto, message)
    assert answer.startswith("250 ") and "Unsubscribed" in answer
    assert await db_rows(daemon, "SELECT count(*) FROM subscriptions s "
                         "LEFT JOIN addresses a ON a.id = s.address_id "
                         "WHERE a.id IS NULL") == [(0,)]  # fmt: skip


@pytest.mark.asyncio
async def test_a_confirmation_link_opened_after_stopping_promises_nothing(
    daemon: Running,
) -> None:
    """Cleo confirmed, was answered, pressed her mail program's unsubscribe button, and
    then opened her old confirmation email: the page said "Already confirmed. Example
    Blog will email you when someone answers you", which was no longer true."""
    cleo = "cleo@example.com"
    first = await post_comment(daemon, author="Cleo", email=cleo, notify=True, body="Tell me.")
    await delivered(daemon)
    [confirm] = raw_mail_to(daemon, cleo)
    found = re.search(rb"(http\S+/confirm/[a-z0-9]+)", re.sub(rb"=\r?\n", b"", confirm))
    assert found is not None
    confirm_url = found.group(1).decode()
    status, page = await follow(daemon, confirm_url, "POST")
    assert status == 200 and "will email you when someone answers you" in page
    await approve(daemon, await moderation_email(daemon, "Cleo", 2))
    await post_comment(daemon, parent=first, author="Dan", email="dan@example.com", body="Hi")
    await approve(daemon, await moderation_email(daemon, "Dan", 3))
    await delivered(daemon)
    [_confirm, note] = raw_mail_to(daemon, cleo)
    await one_click(daemon, note)

    for method in ("GET", "POST"):
        status, page = await follow(daemon, confirm_url, method)
        assert status == 200 and "will email you" not in page, page
        assert "sends no emails about" in page and "stopped" in page


@pytest.mark.asyncio
async def test_commenting_again_does_not_stop_following_the_thread(daemon: Running) -> None:
    """The reader follows the whole thread ("Every new comment here"), then comments
    again with the widget's default, "Email me replies to my comment": that set the
    thread to replies only, and the next comment by someone else was not sent to them."""
    await publish_answer(daemon, "Ann", 1)
    await delivered(daemon)
    [note] = raw_mail_to(daemon, READER)
    found = re.search(rb"(http\S+/unsubscribe/[a-z0-9]+)", re.sub(rb"=\r?\n", b"", note))
    assert found is not None
    async with aiohttp.ClientSession() as session:
        url = local(found.group(1).decode(), daemon.http_address)
        async with session.post(url, data={"choice": "thread-thread"}) as resp:
            assert resp.status == 200

    await post_comment(daemon, author="Reader", email=READER, notify="replies", body="Me again.")
    await post_comment(daemon, author="Bob", email="bob@example.com", body="A new thought.")
    await approve(daemon, await moderation_email(daemon, "Bob", 3))
    await delivered(daemon)
    [_note, told] = raw_mail_to(daemon, READER)
    assert b"Bob commented on" in told
