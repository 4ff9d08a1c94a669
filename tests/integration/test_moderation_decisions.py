"""A moderator may change their mind: every decision is recorded (who, when, from what
to what, how), the same link pressed twice decides once, the pages say what a button
changes and what was decided, and nobody is notified twice (on the Maildir's bytes)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest
from click.testing import CliRunner
from flows import (
    batched_daemon,
    delivered,
    follow,
    moderation_email,
    outbox_dir,
    post_comment,
    raw_mail_to,
    window_closes,
)
from support import (
    AUTHOR_EMAIL,
    THREAD,
    FakeClock,
    moderation_links,
    of_kind,
    started,
    wait_for_mail,
)

from mailbridge.app import Running
from mailbridge.cli import cli
from mailbridge.clock import iso
from mailbridge.store import subscriptions
from mailbridge.store.subscriptions import Level
from mailbridge.tokens import Action, make_moderation_token

READER = "reader002.4a549d@example.org"  # seed comment 2's author: imported, wants replies
FOLLOWER = "reader005.9a4fca@example.org"  # set to follow the whole thread below
ANSWER = "Ann's answer to Reader 002."


async def rows(daemon: Running, sql: str, *args: object) -> list[tuple[object, ...]]:
    async def work(conn: aiosqlite.Connection) -> list[tuple[object, ...]]:
        async with conn.execute(sql, args) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    return await daemon.store.read(work)


async def decisions(daemon: Running, cid: int) -> list[tuple[object, ...]]:
    return await rows(
        daemon,
        "SELECT d.previous, d.status, a.email, d.channel FROM moderation_decisions d "
        "LEFT JOIN addresses a ON a.id = d.moderator_address_id "
        "WHERE d.comment_id = ? ORDER BY d.id",
        cid,
    )


async def status_of(daemon: Running, cid: int) -> str:
    [(status,)] = await rows(daemon, "SELECT status FROM comments WHERE id = ?", cid)
    return str(status)


async def press(daemon: Running, link: str) -> str:
    status, page = await follow(daemon, link, "POST")
    assert status == 200, page
    return page


@pytest.mark.asyncio
async def test_approve_reject_approve_records_each_decision_and_notifies_once(
    daemon: Running,
) -> None:
    cid = await post_comment(daemon, parent=2, body=ANSWER)
    links = moderation_links(await moderation_email(daemon, "Ann", 1))

    page = await press(daemon, links["approve"])
    assert "Done: the comment is approved." in page
    assert "the people who asked to hear about it are told" in page
    page = await press(daemon, links["reject"])
    assert "Done: the comment is rejected." in page and "no longer on the page" in page
    assert await status_of(daemon, cid) == "rejected"
    host, port = daemon.http_address
    _status, thread_page = await follow(daemon, f"http://{host}:{port}/threads/{THREAD}")
    assert ANSWER not in thread_page
    page = await press(daemon, links["approve"])
    assert "published again; nobody is emailed about it a second time" in page
    assert await status_of(daemon, cid) == "approved"

    assert await decisions(daemon, cid) == [
        ("pending", "approved", AUTHOR_EMAIL, "link"),
        ("approved", "rejected", AUTHOR_EMAIL, "link"),
        ("rejected", "approved", AUTHOR_EMAIL, "link"),
    ]
    # Each decision is on the page, attributed to the moderator holding the link.
    assert len(re.findall(rf"by {re.escape(AUTHOR_EMAIL)} \(you\) on \d{{4}}-", page)) == 3
    await delivered(daemon)
    [note] = raw_mail_to(daemon, READER)
    assert b"Ann" in note

    # The operator's view of the same history.
    data_dir = str(daemon.settings.data_path)
    shown = await asyncio.to_thread(
        CliRunner().invoke, cli, ["comment", str(cid), "--data-dir", data_dir]
    )
    assert shown.exit_code == 0, shown.output
    assert f"comment {cid} on {THREAD}" in shown.output
    assert "status      approved (first published 20" in shown.output
    moves = re.findall(rf"(\w+)\s+(\w+)\s+{re.escape(AUTHOR_EMAIL)}\s+link", shown.output)
    assert moves == [("pending", "approved"), ("approved", "rejected"), ("rejected", "approved")]
    missing = await asyncio.to_thread(
        CliRunner().invoke, cli, ["comment", "999999", "--data-dir", data_dir]
    )
    assert missing.exit_code == 1 and "no comment 999999" in missing.output


@pytest.mark.asyncio
async def test_the_same_link_pressed_twice_decides_once(daemon: Running) -> None:
    cid = await post_comment(daemon, parent=2, body=ANSWER)
    links = moderation_links(await moderation_email(daemon, "Ann", 1))

    first, second = await asyncio.gather(
        follow(daemon, links["approve"], "POST"), follow(daemon, links["approve"], "POST")
    )
    third = await press(daemon, links["approve"])

    pages = sorted([first[1], second[1]], key=lambda p: "Already" in p)
    assert first[0] == second[0] == 200
    assert "Done: the comment is approved." in pages[0]
    assert "Already approved." in pages[1] and "nothing was recorded" in pages[1]
    assert "Already approved." in third
    assert await decisions(daemon, cid) == [("pending", "approved", AUTHOR_EMAIL, "link")]
    _status, again = await follow(daemon, links["approve"])
    assert "This comment is already approved" in again and "<form" not in again
    await delivered(daemon)
    assert len(raw_mail_to(daemon, READER)) == 1


@pytest.mark.asyncio
async def test_the_confirm_page_shows_the_status_the_change_and_the_history(
    daemon: Running,
) -> None:
    await post_comment(daemon, parent=2, body=ANSWER)
    links = moderation_links(await moderation_email(daemon, "Ann", 1))
    _status, before = await follow(daemon, links["approve"])
    assert "This comment is waiting for moderation" in before
    assert "Approving it will publish it on the page and email" in before
    assert "Decisions so far" not in before

    await press(daemon, links["approve"])
    status, page = await follow(daemon, links["reject"])

    assert status == 200
    assert "This comment is published. Rejecting it will remove it from the page." in page
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.search(rf"Approved by {re.escape(AUTHOR_EMAIL)} \(you\) on {when} via link", page)
    assert '<form method="post">' in page
    assert "ann@example.com" not in page  # the commenter's address: never on a page
    _status, spam = await follow(daemon, links["spam"])
    assert "Marking it as spam will remove it from the page." in spam

    await press(daemon, links["reject"])
    _status, back = await follow(daemon, links["approve"])
    assert "This comment was rejected: it is not on the page." in back
    assert "Approving it will put it back on the page. Nobody is emailed about it" in back


@pytest.mark.asyncio
async def test_each_decision_names_the_moderator_whose_link_was_used(tmp_path: Path) -> None:
    async with started(tmp_path, moderation={"moderators": ["Boss <boss@example.net>"]}) as daemon:
        cid = await post_comment(daemon, parent=2, body=ANSWER)
        mails = await wait_for_mail(outbox_dir(daemon), 2)
        by_moderator = {
            m["To"].addresses[0].addr_spec: moderation_links(m)
            for m in of_kind(mails, "awaits moderation")
        }
        assert set(by_moderator) == {AUTHOR_EMAIL, "boss@example.net"}

        await press(daemon, by_moderator["boss@example.net"]["reject"])
        _status, page = await follow(daemon, by_moderator[AUTHOR_EMAIL]["approve"])

        assert await decisions(daemon, cid) == [("pending", "rejected", "boss@example.net", "link")]
        assert "Rejected by boss@example.net on" in page and "(you)" not in page


def _link_before_moderators(daemon: Running, comment_id: int, action: Action) -> str:
    """A link as mailbridge minted them before links named their moderator."""
    expires = datetime.now(UTC) + timedelta(days=3)
    payload = struct.pack(">IBI", comment_id, action.code, int(expires.timestamp()))
    mac = hmac.new(daemon.keyring.moderation, b"moderate\0" + payload, hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(payload + mac[:16]).decode().rstrip("=")
    host, port = daemon.http_address
    return f"http://{host}:{port}/moderate/{token}"


@pytest.mark.asyncio
async def test_a_link_from_before_still_works_and_records_the_moderator_as_unknown(
    daemon: Running,
) -> None:
    cid = await post_comment(daemon, parent=2, body=ANSWER)
    page = await press(daemon, _link_before_moderators(daemon, cid, Action.APPROVE))
    assert "Done: the comment is approved." in page
    assert "Approved by a moderator (not recorded: an older link) on" in page
    assert await decisions(daemon, cid) == [("pending", "approved", None, "link")]


@pytest.mark.asyncio
async def test_an_expired_link_names_the_command_that_decides_as_the_operator(
    daemon: Running,
) -> None:
    cid = await post_comment(daemon, parent=2, body=ANSWER)
    links = moderation_links(await moderation_email(daemon, "Ann", 1))
    past = datetime.now(UTC) - timedelta(minutes=1)
    token = make_moderation_token(daemon.keyring.moderation, cid, Action.APPROVE, past, 1)
    host, port = daemon.http_address

    status, page = await follow(daemon, f"http://{host}:{port}/moderate/{token}")
    assert status == 403
    assert f"mailbridge comment {cid} --approve (or --reject, --spam)" in page

    data_dir = str(daemon.settings.data_path)
    args = ["comment", str(cid), "--approve", "--data-dir", data_dir]
    # The operator's command runs with the daemon's configuration.
    same = {"MAILBRIDGE_NOTIFICATIONS_BATCH_WINDOW_SECONDS": "0", "MAILBRIDGE_AUTH_DNS": "off"}
    runner = CliRunner(env=same)
    done = await asyncio.to_thread(runner.invoke, cli, args)
    assert done.exit_code == 0, done.output
    assert f"Comment {cid}: pending -> approved." in done.output
    again = await asyncio.to_thread(runner.invoke, cli, args)
    assert f"Comment {cid} was already approved; nothing changed." in again.output
    assert await decisions(daemon, cid) == [("pending", "approved", None, "cli")]
    assert "(operator)" in again.output

    # The daemon sends what the command queued (it polls; here it is woken).
    daemon.worker.wake()
    await delivered(daemon)
    assert len(raw_mail_to(daemon, READER)) == 1
    _status, page = await follow(daemon, links["reject"])
    assert "Approved by the operator on" in page


# -- batched notifications (the default): a change of mind within or after the window


async def follow_the_thread(daemon: Running, email: str, clock: FakeClock) -> None:
    async def work(conn: aiosqlite.Connection) -> None:
        async with conn.execute("SELECT id FROM addresses WHERE email = ?", (email,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        await subscriptions.set_level(conn, int(row[0]), 1, Level.THREAD, "test", iso(clock.now()))

    await daemon.store.write(work)


@pytest.mark.asyncio
@pytest.mark.parametrize("window_closes_while_rejected", [False, True])
async def test_batched_readers_are_told_once_whatever_the_moderator_did(
    tmp_path: Path, window_closes_while_rejected: bool
) -> None:
    clock = FakeClock()
    async with batched_daemon(tmp_path, clock) as daemon:
        await follow_the_thread(daemon, FOLLOWER, clock)
        await post_comment(daemon, parent=2, body=ANSWER)
        links = moderation_links(await moderation_email(daemon, "Ann", 1))

        await press(daemon, links["approve"])
        await press(daemon, links["reject"])
        if window_closes_while_rejected:
            # Nothing goes out about a rejected comment...
            assert await window_closes(daemon, clock) == 0
            assert raw_mail_to(daemon, READER) == raw_mail_to(daemon, FOLLOWER) == []
        await press(daemon, links["approve"])
        # ...and once it is published again, what was held back goes out, once.
        assert await window_closes(daemon, clock) == 2
        assert await window_closes(daemon, clock) == 0

        [to_reader] = raw_mail_to(daemon, READER)
        [to_follower] = raw_mail_to(daemon, FOLLOWER)
        assert b"replied to your comment" in unfolded(to_reader)
        assert b"commented on" in unfolded(to_follower)


def unfolded(raw: bytes) -> bytes:
    """Quoted-printable soft line breaks removed (the words we look for are ASCII)."""
    return re.sub(rb"=\r?\n", b"", raw)


@pytest.mark.asyncio
async def test_a_decision_can_be_undone_from_its_confirmation_page(daemon: Running) -> None:
    import re

    from flows import follow, moderation_email, post_comment
    from support import moderation_links

    comment_id = await post_comment(daemon, parent=2, body="Undo me later.")
    links = moderation_links(await moderation_email(daemon, "Ann"))
    status, page = await follow(daemon, links["spam"], "POST")
    assert status == 200
    undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
    assert undo is not None and "Undo: put it back to pending" in page
    status, page = await follow(daemon, undo.group(1), "POST")
    assert status == 200 and "Undone: the comment is pending again." in page
    # Pressing it again (a double tap, the POST resent) changes nothing, and says that
    # it worked (it said "Not undone: it was decided again since").
    status, page = await follow(daemon, undo.group(1), "POST")
    assert status == 200 and "Already undone: the comment is pending again." in page
    assert "Not undone" not in page
    # A forged undo link is refused.
    status, _ = await follow(daemon, undo.group(1)[:-4] + "AAAA", "POST")
    assert status == 403
    listed = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["comment", str(comment_id), "--data-dir", str(daemon.settings.data_path)],
    )
    assert re.search(r"spam\s+pending\s+author@example.org\s+link", listed.output)


@pytest.mark.asyncio
async def test_an_undo_sent_again_after_a_newer_decision_changes_nothing(
    daemon: Running,
) -> None:
    """Approve, Undo, Approve again; then the browser resends the first Undo's POST
    (back, refresh): the newer approval stands, and the page says why."""
    cid = await post_comment(daemon, parent=2, body="Approved twice, undone once.")
    links = moderation_links(await moderation_email(daemon, "Ann"))
    page = await press(daemon, links["approve"])
    undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
    assert undo is not None
    assert "Undone: the comment is pending again." in await press(daemon, undo.group(1))
    await press(daemon, links["approve"])
    assert await status_of(daemon, cid) == "approved"

    page = await press(daemon, undo.group(1))
    assert "Not undone" in page and "by a newer decision" in page
    assert await status_of(daemon, cid) == "approved"
    host, port = daemon.http_address
    _status, thread_page = await follow(daemon, f"http://{host}:{port}/threads/{THREAD}")
    assert "Approved twice, undone once." in thread_page
    assert [d[:2] for d in await decisions(daemon, cid)] == [
        ("pending", "approved"),
        ("approved", "pending"),
        ("pending", "approved"),
    ]


@pytest.mark.asyncio
async def test_the_undo_button_survives_a_reload_and_its_link_opens_it_again(
    daemon: Running,
) -> None:
    """A phone reloads the done page (the POST sent again) or the author bookmarks it:
    the Undo button must still be there; it was gone ("Already approved", no button),
    and the undo link answered a GET with 405."""
    cid = await post_comment(daemon, parent=2, body="Undo me after a reload.")
    links = moderation_links(await moderation_email(daemon, "Ann"))
    await press(daemon, links["spam"])
    page = await press(daemon, links["spam"])  # the reload
    assert "Already spam." in page
    undo = re.search(r'<form method="post" action="(http[^"]+/moderate/undo/[^"]+)"', page)
    assert undo is not None and "Undo: put it back to pending" in page

    # The link under the button opens it again; the GET changes nothing.
    assert f'<a href="{undo.group(1)}">this link</a>' in page
    status, kept = await follow(daemon, undo.group(1))
    assert status == 200 and "Undo: put this comment back to pending?" in kept
    assert await status_of(daemon, cid) == "spam"
    assert "Undone: the comment is pending again." in await press(daemon, undo.group(1))
    status, kept = await follow(daemon, undo.group(1))
    assert status == 200 and "Already undone: the comment is pending again." in kept
    assert "<form" not in kept
    assert await status_of(daemon, cid) == "pending"
    # Decided again since: the old link offers nothing.
    await press(daemon, links["approve"])
    status, kept = await follow(daemon, undo.group(1))
    assert status == 200 and "Nothing to undo: it was decided again since." in kept
    assert "<form" not in kept


@pytest.mark.asyncio
async def test_an_expired_undo_link_says_where_to_decide_instead(daemon: Running) -> None:
    from mailbridge.tokens import make_undo_token

    cid = await post_comment(daemon, parent=2, body="Undone too late.")
    await moderation_email(daemon, "Ann")
    host, port = daemon.http_address
    gone = datetime.now(UTC) - timedelta(seconds=1)
    token = make_undo_token(daemon.keyring.moderation, cid, "pending", "approved", 1, gone, 1)
    for method in ("GET", "POST"):
        status, page = await follow(daemon, f"http://{host}:{port}/moderate/undo/{token}", method)
        assert status == 403 and "This link has expired." in page
        assert "An undo works for 30 days" in page and "/moderate." in page
    assert await status_of(daemon, cid) == "pending"


@pytest.mark.asyncio
async def test_a_comment_erased_at_its_writers_request_is_never_published_again(
    daemon: Running,
) -> None:
    """privacy.erased_comments = "remove": the erased comment left the page for good. A
    moderator's old Approve link, or the Undo of their Reject, published it again: an
    empty comment by "a former commenter", its readers notified of it."""
    from mailbridge.people import data as people

    writer = "erased.writer@example.net"
    cid = await post_comment(daemon, parent=2, body="Take me down.", email=writer)
    links = moderation_links(await moderation_email(daemon, "Ann"))
    page = await press(daemon, links["reject"])
    undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
    assert undo is not None
    await daemon.store.write(lambda c: people.erase(c, writer, True, datetime.now(UTC)))

    for link in (links["approve"], undo.group(1), links["trust"]):
        status, page = await follow(daemon, link, "POST")
        assert status == 410 and "was erased at its writer" in page, (link, page)
    status, page = await follow(daemon, undo.group(1))  # the kept link offers no button
    assert status == 410 and "was erased at its writer" in page
    assert await status_of(daemon, cid) == "rejected"
    host, port = daemon.http_address
    _status, thread_page = await follow(daemon, f"http://{host}:{port}/threads/{THREAD}")
    assert "a former commenter" not in thread_page
    await delivered(daemon)
    assert raw_mail_to(daemon, READER) == []


@pytest.mark.asyncio
async def test_replies_under_an_undone_approval_wait_with_it(tmp_path: Path) -> None:
    """A comment approved, a reply to it approved, then the first approval undone within
    the batch window: the reply's notification went out to the thread's followers
    anyway, quoting the comment just taken off the page. Now both wait, and go out
    once when the comment is published again."""
    clock = FakeClock()
    first, answer = "Words the author unpublished.", "A reply under those words."
    async with batched_daemon(tmp_path, clock) as daemon:
        await follow_the_thread(daemon, FOLLOWER, clock)
        cid = await post_comment(daemon, parent=2, body=first)
        links = moderation_links(await moderation_email(daemon, "Ann", 1))
        page = await press(daemon, links["approve"])
        undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
        assert undo is not None
        await post_comment(daemon, parent=cid, author="Bea", email="bea@example.net", body=answer)
        await press(daemon, moderation_links(await moderation_email(daemon, "Bea", 1))["approve"])
        assert "Undone" in await press(daemon, undo.group(1))

        await window_closes(daemon, clock)
        assert raw_mail_to(daemon, FOLLOWER) == []
        await press(daemon, links["approve"])
        await window_closes(daemon, clock)
        await window_closes(daemon, clock)
        [told] = raw_mail_to(daemon, FOLLOWER)
        assert first.encode() in unfolded(told) and answer.encode() in unfolded(told)
