"""Subscriptions people control: double opt-in, levels per thread and site-wide,
one-click unsubscribe (as Gmail sends it), mailto: unsubscribe over SMTP, and digests."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import aiosmtplib
import aiosqlite
import pytest
from flows import approve, moderation_email, outbox_dir, post_comment
from support import (
    is_notification,
    local,
    read_maildir,
    reply_to_notification,
    started,
    text_body,
)

from mailbridge.app import Running

READER = "reader002.4a549d@example.org"  # the author of seed comment 2 (imported: subscribed)


async def wait(daemon: Running, match: str, count: int = 1) -> list[EmailMessage]:
    """Emails whose To or Subject contains ``match`` (bounded wait)."""
    for _ in range(200):
        found = [
            m
            for m in read_maildir(outbox_dir(daemon))
            if match in str(m["To"]) or match in str(m["Subject"])
        ]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} emails matching {match!r}")


async def notes_to(daemon: Running, email: str, count: int = 1) -> list[EmailMessage]:
    """The notifications to ``email`` once at least ``count`` are delivered (a bounded
    wait: the outbox worker delivers them after the approval), and after 0.3 s more,
    so that one too many would show too."""

    def notes() -> list[EmailMessage]:
        return [
            m
            for m in read_maildir(outbox_dir(daemon))
            if m["To"].addresses[0].addr_spec == email and is_notification(m)
        ]

    for _ in range(200):
        if len(notes()) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    return notes()


async def level(daemon: Running, email: str, thread_id: int | None) -> str | None:
    async def work(conn: aiosqlite.Connection) -> str | None:
        async with conn.execute(
            "SELECT s.level FROM subscriptions s JOIN addresses a ON a.id = s.address_id "
            "WHERE a.email = ? AND coalesce(s.thread_id, 0) = ?",
            (email, thread_id or 0),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    return await daemon.store.read(work)


def link(message: EmailMessage, kind: str) -> str:
    found = re.search(rf"(http\S+/{kind}/[a-z0-9]+)", text_body(message))
    assert found, text_body(message)
    return found.group(1)


async def publish_reply_to_seed_2(daemon: Running, author: str, count: int) -> None:
    await post_comment(
        daemon,
        parent=2,
        author=author,
        email=f"{author.lower()}@example.com",
        body=f"{author} answers Reader 002.",
    )
    await approve(daemon, await moderation_email(daemon, author, count))


# -- headers and one-click ----------------------------------------------------------


@pytest.mark.asyncio
async def test_notifications_carry_list_headers(daemon: Running) -> None:
    await publish_reply_to_seed_2(daemon, "Ann", 1)
    [note] = await notes_to(daemon, READER)
    assert note["List-Id"] == "Example Blog <example-blog.reply.example.org>"
    https, mailto = [v.strip(" <>") for v in str(note["List-Unsubscribe"]).split(",")]
    assert https.startswith("http://127.0.0.1:8080/unsubscribe/")
    assert mailto.startswith("mailto:unsubscribe+") and "@reply.example.org" in mailto
    assert note["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert note["Auto-Submitted"] == "auto-generated" and note["Date"]
    assert note["Message-ID"].endswith("@reply.example.org>")
    assert "Stop these emails" in text_body(note)


@pytest.mark.asyncio
async def test_one_click_post_unsubscribes_and_get_does_not(daemon: Running) -> None:
    await publish_reply_to_seed_2(daemon, "Ann", 1)
    [note] = await notes_to(daemon, READER)
    url = local(str(note["List-Unsubscribe"]).split(",")[0].strip(" <>"), daemon.http_address)
    # A link scanner or a person opening the link: a page, no change.
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200 and "Nothing changes until you press a button" in (
            await resp.text()
        )
    assert await level(daemon, READER, None) is None
    # The mail provider's button, exactly as Gmail sends it: form body, no cookies.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.post(
            url,
            data=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as resp:
            assert resp.status == 200
    assert await level(daemon, READER, None) == "none"
    await publish_reply_to_seed_2(daemon, "Bob", 2)
    assert len(await notes_to(daemon, READER, 0)) == 1  # nothing new


@pytest.mark.asyncio
async def test_unsubscribe_page_choices(daemon: Running) -> None:
    await publish_reply_to_seed_2(daemon, "Ann", 1)
    [note] = await notes_to(daemon, READER)
    url = local(link(note, "unsubscribe"), daemon.http_address)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data={"choice": "thread-thread"}) as resp:
            assert "every new comment" in await resp.text()
        assert await level(daemon, READER, 1) == "thread"
        async with session.post(url, data={"choice": "thread-none"}) as resp:
            assert "No more emails about" in await resp.text()
        assert await level(daemon, READER, 1) == "none"
        async with session.post(url, data={"choice": "bogus"}) as resp:
            assert resp.status == 400
        async with session.post(url[:-3] + "aaa", data={"choice": "all-none"}) as resp:
            assert resp.status == 403


@pytest.mark.asyncio
async def test_mailto_unsubscribe_over_smtp(daemon: Running) -> None:
    await publish_reply_to_seed_2(daemon, "Ann", 1)
    [note] = await notes_to(daemon, READER)
    mailto = str(note["List-Unsubscribe"]).split(",")[1].strip(" <>").removeprefix("mailto:")
    address = mailto.split("?")[0]
    host, port = daemon.smtp_address
    message = b"From: " + READER.encode() + b"\r\nSubject: unsubscribe\r\n\r\n"
    response = await aiosmtplib.send(
        message, sender=READER, recipients=[address], hostname=host, port=port, start_tls=False
    )
    assert "Unsubscribed" in response[1]
    assert await level(daemon, READER, None) == "none"

    async def logged(conn: aiosqlite.Connection) -> list[tuple[object, ...]]:
        async with conn.execute(
            "SELECT status, reason FROM inbound_messages WHERE stage = 'data'"
        ) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    assert await daemon.store.read(logged) == [("unsubscribed", "unsubscribe")]
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        forged = address.replace(address[20:24], "zzzz")
        await aiosmtplib.send(
            message, sender=READER, recipients=[forged], hostname=host, port=port, start_tls=False
        )


# -- double opt-in -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_web_subscription_needs_confirmation_first(daemon: Running) -> None:
    first = await post_comment(
        daemon,
        author="Cleo",
        email="cleo@example.com",
        notify=True,
        body="Tell me when someone answers.",
    )
    [confirm] = await wait(daemon, "cleo@example.com")
    assert "Confirm" in str(confirm["Subject"]) and not confirm["List-Unsubscribe"]
    await approve(daemon, await moderation_email(daemon, "Cleo", 2))
    await post_comment(daemon, parent=first, author="Dan", email="dan@example.com", body="Hi Cleo")
    await approve(daemon, await moderation_email(daemon, "Dan", 3))
    assert await notes_to(daemon, "cleo@example.com", 0) == []  # not confirmed: nothing
    # A second request does not send a second confirmation the same day.
    await post_comment(daemon, author="Cleo", email="cleo@example.com", notify=True, body="Again")
    await asyncio.sleep(0.3)
    assert len([m for m in read_maildir(outbox_dir(daemon)) if "Confirm" in str(m["Subject"])]) == 1
    url = local(link(confirm, "confirm"), daemon.http_address)
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            assert "Confirm your email address" in await resp.text()
        assert await level(daemon, "cleo@example.com", 1) is None  # GET changed nothing
        async with session.post(url) as resp:
            assert "confirmed" in await resp.text()
    assert await level(daemon, "cleo@example.com", 1) == "replies"
    await post_comment(daemon, parent=first, author="Eve", email="eve@example.com", body="Hi!")
    await approve(daemon, await moderation_email(daemon, "Eve"))
    [note] = await notes_to(daemon, "cleo@example.com")
    assert "Eve replied to your comment" in text_body(note)


@pytest.mark.asyncio
async def test_replying_by_email_confirms_and_subscribes(daemon: Running) -> None:
    await publish_reply_to_seed_2(daemon, "Ann", 1)
    [note] = await notes_to(daemon, READER)
    host, port = daemon.smtp_address
    await aiosmtplib.send(
        reply_to_notification(note, "Thanks Ann!"), hostname=host, port=port, start_tls=False
    )
    assert await level(daemon, READER, 1) == "replies"


@pytest.mark.asyncio
async def test_thread_followers_hear_every_comment_once(daemon: Running) -> None:
    # Reader 002 follows the whole thread (through the page's buttons).
    await publish_reply_to_seed_2(daemon, "Ann", 1)
    [note] = await notes_to(daemon, READER)
    async with aiohttp.ClientSession() as session:
        await session.post(
            local(link(note, "unsubscribe"), daemon.http_address), data={"choice": "thread-thread"}
        )
    # A top-level comment elsewhere in the thread: they hear of it as a follower...
    await post_comment(daemon, author="Fay", email="fay@example.com", body="New topic")
    await approve(daemon, await moderation_email(daemon, "Fay", 3))
    # ...and a reply to them: one email, as a reply, not two.
    await publish_reply_to_seed_2(daemon, "Gus", 5)
    notes = await notes_to(daemon, READER, 3)
    assert len(notes) == 3
    assert "Fay commented on" in text_body(notes[1])
    assert "Gus replied to your comment" in text_body(notes[2])


# -- digests ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_replies_within_the_window_become_one_digest(tmp_path: Path) -> None:
    async with started(tmp_path, notifications={"batch_window_seconds": 1}) as daemon:
        for n, name in enumerate(("Ann", "Bob", "Cat")):
            await post_comment(
                daemon, parent=2, author=name, email=f"{name}@example.com", body=f"{name} answers."
            )
            await approve(daemon, await moderation_email(daemon, name, n + 1))
        [digest] = await wait(daemon, "3 new comments")
        assert digest["To"].addresses[0].addr_spec == READER
        text = text_body(digest)
        addresses = re.findall(r"Answer it by email: (reply\+\S+)", text)
        assert len(addresses) == 3 and len(set(addresses)) == 3
        assert digest["Reply-To"].addresses[0].addr_spec == addresses[-1]  # the newest
        assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # Answering one comment of the digest files the reply under that comment.
        host, port = daemon.smtp_address
        answer = EmailMessage()
        answer["From"] = READER
        answer["To"] = addresses[0]
        answer["Subject"] = "Re: digest"
        answer["Message-ID"] = "<to-ann@x>"
        answer.set_content("Ann, you are right.")
        await aiosmtplib.send(answer, hostname=host, port=port, start_tls=False)

        async def parent_of(conn: aiosqlite.Connection) -> str:
            async with conn.execute(
                "SELECT p.author FROM comments c JOIN comments p ON p.id = c.parent_id "
                "WHERE c.source = 'email'"
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            return str(row[0])

        assert await daemon.store.read(parent_of) == "Ann"


@pytest.mark.asyncio
async def test_a_reply_after_unsubscribing_is_explained_not_posted(daemon: Running) -> None:
    await publish_reply_to_seed_2(daemon, "Ann", 1)
    [note] = await notes_to(daemon, READER)
    async with aiohttp.ClientSession() as session:
        await session.post(
            local(link(note, "unsubscribe"), daemon.http_address), data={"choice": "thread-none"}
        )
    host, port = daemon.smtp_address
    response = await aiosmtplib.send(
        reply_to_notification(note, "One more thought."), hostname=host, port=port, start_tls=False
    )
    assert "not posted" in response[1]

    async def filed(conn: aiosqlite.Connection) -> list[tuple[object, ...]]:
        async with conn.execute("SELECT count(*) FROM comments WHERE source = 'email'") as cur:
            return [tuple(r) for r in await cur.fetchall()]

    assert await daemon.store.read(filed) == [(0,)]
    [notice] = await wait(daemon, "was not posted")
    assert "replying by email is turned off for you" in text_body(notice)
    assert "/unsubscribe/" in text_body(notice)  # the way back


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("message_id", "threaded"),
    [
        # Text after the id: only a well-formed msg-id may reach In-Reply-To and
        # References, never the rest of the line (more cases: tests/unit/test_compose.py).
        (b"<reply-1@client.example> Bcc: boss@example.com", b"<reply-1@client.example>"),
        # Raw UTF-8 cannot go into our headers: the notice goes out unthreaded (it
        # could not be composed: the reply was answered 451, again as its sender retried).
        ("<réponse-1@client.example>".encode(), None),
    ],
    ids=["trailing-text", "utf-8"],
)
async def test_the_notice_threads_only_under_a_well_formed_message_id(
    daemon: Running, message_id: bytes, threaded: bytes | None
) -> None:
    await publish_reply_to_seed_2(daemon, "Ann", 1)
    [note] = await notes_to(daemon, READER)
    async with aiohttp.ClientSession() as session:
        await session.post(
            local(link(note, "unsubscribe"), daemon.http_address), data={"choice": "thread-none"}
        )
    reply = reply_to_notification(note, "One more thought.")
    # The Message-ID as sent, byte for byte (EmailMessage would refuse or encode it).
    lines = reply.as_bytes().split(b"\n")
    raw = b"\r\n".join(
        b"Message-ID: " + message_id if line.startswith(b"Message-ID:") else line for line in lines
    )
    host, port = daemon.smtp_address
    response = await aiosmtplib.send(
        raw,
        sender=READER,
        recipients=[reply["To"].addresses[0].addr_spec],
        hostname=host,
        port=port,
        start_tls=False,
    )
    assert "not posted" in response[1]
    await wait(daemon, "was not posted")
    raws = [f.read_bytes() for f in (outbox_dir(daemon) / "new").iterdir()]
    [wire] = [r for r in raws if b"\r\nAuto-Submitted: auto-replied\r\n" in r]
    head = wire.split(b"\r\n\r\n", 1)[0]
    if threaded is None:
        assert b"In-Reply-To" not in head and b"References" not in head, head
    else:
        assert b"\r\nIn-Reply-To: " + threaded + b"\r\n" in head, head
        assert b"\r\nReferences: " + threaded + b"\r\n" in head, head
