"""Moderation links: GET confirms and changes nothing, POST acts once, bad links get 403."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest
from flows import follow, moderation_email, outbox_dir, post_comment
from support import (
    AUTHOR_EMAIL,
    db_value,
    html_body,
    import_seed,
    make_settings,
    moderation_links,
    no_dmarc_zone,
    read_maildir,
    started,
    text_body,
    wait_for_mail,
)

from mailbridge.app import Running, running
from mailbridge.tokens import Action, make_moderation_token


async def status_of(daemon: Running, comment_id: int) -> str:
    async def work(conn: aiosqlite.Connection) -> str:
        async with conn.execute("SELECT status FROM comments WHERE id = ?", (comment_id,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        return str(row[0])

    return await daemon.store.read(work)


@pytest.mark.asyncio
async def test_get_shows_the_comment_and_changes_nothing(daemon: Running) -> None:
    cid = await post_comment(daemon, parent=5, body="Careful <script>alert(1)</script> words")
    mail = await moderation_email(daemon, "Ann", 1)
    links = moderation_links(mail)
    for action in ("approve", "reject", "spam"):
        for _ in range(2):  # a mail scanner may open every link, more than once
            status, page = await follow(daemon, links[action])
            assert status == 200
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
            assert "<script>" not in page
            assert '<form method="post">' in page
    assert await status_of(daemon, cid) == "pending"
    assert "ann@example.com" in text_body(mail)  # the moderator sees who wrote it...
    assert "ann@example.com" not in page  # ...the page, reachable by link, does not
    assert "&lt;script&gt;" in html_body(mail)
    # A web comment had nothing cut: no such section.
    assert "What was cut" not in text_body(mail) and "What was cut" not in html_body(mail)


@pytest.mark.asyncio
async def test_post_acts_once_then_reports_already_done(daemon: Running) -> None:
    cid = await post_comment(daemon, parent=5)
    links = moderation_links(await moderation_email(daemon, "Ann", 1))
    status, page = await follow(daemon, links["reject"], "POST")
    assert status == 200 and "Done: the comment is rejected" in page
    assert await status_of(daemon, cid) == "rejected"
    status, page = await follow(daemon, links["reject"], "POST")
    assert status == 200 and "Already rejected" in page
    status, page = await follow(daemon, links["reject"])
    assert "already" in page and "<form" not in page
    # The moderator may change their mind with another link from the same email.
    status, page = await follow(daemon, links["approve"], "POST")
    assert "Done: the comment is approved" in page
    assert await status_of(daemon, cid) == "approved"


@pytest.mark.asyncio
async def test_spam_is_not_published(daemon: Running) -> None:
    cid = await post_comment(daemon, body="Buy cheap pills")
    links = moderation_links(await moderation_email(daemon, "Ann", 1))
    await follow(daemon, links["spam"], "POST")
    assert await status_of(daemon, cid) == "spam"
    host, port = daemon.http_address
    status, page = await follow(
        daemon, f"http://{host}:{port}/threads/attachment-theory-healing-relationship"
    )
    assert status == 200
    assert "Buy cheap pills" not in page


@pytest.mark.asyncio
async def test_tampered_links_get_403(daemon: Running) -> None:
    await post_comment(daemon)
    link = moderation_links(await moderation_email(daemon, "Ann", 1))["approve"]
    token = link.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, token[:-1], token + "x", "nonsense", "A" * 400):
        for method in ("GET", "POST"):
            status, page = await follow(daemon, link.replace(token, bad), method)
            assert status == 403, bad
            assert "not valid" in page


@pytest.mark.asyncio
async def test_expired_links_get_403(daemon: Running) -> None:
    cid = await post_comment(daemon)
    past = datetime.now(UTC) - timedelta(minutes=1)
    token = make_moderation_token(daemon.keyring.moderation, cid, Action.APPROVE, past, 1)
    host, port = daemon.http_address
    for method in ("GET", "POST"):
        status, page = await follow(daemon, f"http://{host}:{port}/moderate/{token}", method)
        assert status == 403
        assert "expired" in page
        assert "moderation email" not in page  # none newer is ever sent
    assert await status_of(daemon, cid) == "pending"


@pytest.mark.asyncio
async def test_links_are_bound_to_one_comment(daemon: Running) -> None:
    first = await post_comment(daemon, author="First")
    second = await post_comment(daemon, author="Second")
    links = moderation_links(await moderation_email(daemon, "First", 2))
    await follow(daemon, links["approve"], "POST")
    assert await status_of(daemon, first) == "approved"
    assert await status_of(daemon, second) == "pending"


@pytest.mark.asyncio
async def test_moderators_from_config_and_thread_author(tmp_path: Path) -> None:
    configured = make_settings(tmp_path, moderation={"moderators": ["Boss <boss@example.net>"]})
    await import_seed(configured)
    async with running(configured, resolver=no_dmarc_zone()) as daemon:
        await post_comment(daemon)
        mails = await wait_for_mail(outbox_dir(daemon), 2)
        assert sorted(m["To"].addresses[0].addr_spec for m in mails) == [
            "author@example.org",
            "boss@example.net",
        ]
        assert len(read_maildir(outbox_dir(daemon))) == 2
        # The first email to a configured moderator stored their address (drafted in a
        # write); the next is drafted on a read snapshot, and reaches both again.
        await post_comment(daemon, author="Bea", email="bea@example.com")
        mails = await wait_for_mail(outbox_dir(daemon), 4)
        assert sorted(m["To"].addresses[0].addr_spec for m in mails) == [
            "author@example.org",
            "author@example.org",
            "boss@example.net",
            "boss@example.net",
        ]


@pytest.mark.asyncio
async def test_a_removed_moderators_links_stop_working(tmp_path: Path) -> None:
    # A co-moderator taken off moderation.moderators (left the team, their mailbox
    # lost) could still approve, reject or undo with the emails and digests they had
    # for 14 days; moderating by reply already refused them.
    second = {"moderators": ["Sam <sam@example.org>"]}
    async with started(tmp_path, moderation=second) as daemon:
        comment = await post_comment(daemon, parent=2, body="Please decide me.")
        mails = await wait_for_mail(outbox_dir(daemon), 2)
        [sams] = [m for m in mails if m["To"].addresses[0].addr_spec == "sam@example.org"]
        [owners] = [m for m in mails if m["To"].addresses[0].addr_spec == AUTHOR_EMAIL]
    removed = make_settings(tmp_path, moderation={"moderators": []})
    async with running(removed, resolver=no_dmarc_zone()) as daemon:
        link = moderation_links(sams)["approve"]
        for method in ("GET", "POST"):
            status, page = await follow(daemon, link, method)
            assert status == 403
            assert "no longer moderates" in page and "nothing was changed" in page
        assert await db_value(daemon, "SELECT status FROM comments WHERE id = ?", comment) == (
            "pending"
        )
        # The thread's author still moderates it: their link works.
        status, _page = await follow(daemon, moderation_links(owners)["reject"], "POST")
        assert status == 200
        assert await db_value(daemon, "SELECT status FROM comments WHERE id = ?", comment) == (
            "rejected"
        )


@pytest.mark.asyncio
async def test_a_removed_moderators_undo_link_stops_working(tmp_path: Path) -> None:
    # The undo link kept from a decision (30 days) is a moderation link like the
    # others: taken off moderation.moderators, its holder undoes nothing with it.
    second = {"moderators": ["Sam <sam@example.org>"]}
    async with started(tmp_path, moderation=second) as daemon:
        comment = await post_comment(daemon, parent=2, body="Please decide me.")
        mails = await wait_for_mail(outbox_dir(daemon), 2)
        [sams] = [m for m in mails if m["To"].addresses[0].addr_spec == "sam@example.org"]
        status, done = await follow(daemon, moderation_links(sams)["reject"], "POST")
        assert status == 200
        found = re.search(r'href="([^"]*/moderate/undo/[^"]+)"', done)
        assert found is not None
        undo = html.unescape(found.group(1))
    removed = make_settings(tmp_path, moderation={"moderators": []})
    async with running(removed, resolver=no_dmarc_zone()) as daemon:
        for method in ("GET", "POST"):
            status, page = await follow(daemon, undo, method)
            assert status == 403
            assert "no longer moderates" in page and "nothing was changed" in page
        assert await db_value(daemon, "SELECT status FROM comments WHERE id = ?", comment) == (
            "rejected"
        )
