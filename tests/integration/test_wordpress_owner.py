"""What a WordPress site's owner does in wp-admin, and what the bridge makes of it,
against a real WordPress: a post moved to the trash, comments closed, Approve and
Reply on a held comment, a comment deleted on both sides at once; WordPress down
for a while; the same words sent twice; posts that are not bridged. Most run the
bridge's rounds one at a time (tests/wordpress_proxy.py: bridge_for), so what one
round does is seen whole.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from flows import post_comment, raw_mail_to
from support import (
    db_rows,
    db_value,
    make_settings,
    no_dmarc_zone,
    until,
)
from wordpress_proxy import (
    a_post,
    answer,
    answer_by_email,
    answered,
    bridge_for,
    daemon_and_bridge,
    daemon_for,
    equals,
    mail_to,
    proxy_for,
)
from wordpress_site import Admin, Site

from mailbridge.app import Running, running
from mailbridge.bridges.wordpress.client import WordPressDown
from mailbridge.models import Channel, Decider
from mailbridge.tokens import Action


@pytest.mark.asyncio
async def test_a_post_trashed_in_wp_admin_takes_its_comments_off(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # Trashing a post marks its comments 'post-trashed' (put back when the post is
    # restored): read by ID, that is a status the bridge must take, not a bad answer.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 2)
    async with proxy_for(wordpress_site) as (_proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug, full_sync_minutes=0.005) as (
            daemon
        ):
            await until(
                "the thread mirrored",
                lambda: equals(db_value(daemon, "SELECT count(*) FROM comments"), 2),
            )
            await admin.call("DELETE", f"/posts/{post_id}")  # to the trash, not for good
            await until(
                "its comments off the page here",
                lambda: equals(
                    db_value(daemon, "SELECT count(*) FROM comments WHERE status = 'rejected'"), 2
                ),
            )
            await until(
                "a complete poll after it",
                lambda: equals(
                    db_value(daemon, "SELECT value FROM wp_state WHERE key = 'failing_since'"), ""
                ),
            )


@pytest.mark.asyncio
async def test_comments_closed_there_refuse_that_comment_only(
    tmp_path: Path,
    wordpress_site: Site,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # WordPress answers 403 rest_comment_closed to a comment on a post whose comments
    # were closed (or closed by age: "Automatically close comments on posts older
    # than"): that post's refusal, not the credentials'.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    caplog.set_level(logging.WARNING, logger="mailbridge.bridges")
    async with proxy_for(wordpress_site) as (proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "the thread mirrored",
                lambda: equals(db_value(daemon, "SELECT count(*) FROM comments"), 1),
            )

            async def asked_once() -> bool:
                # The bridge's first look at the post answered (a request after its
                # probe): closed before it, the post closes the thread here at once,
                # and the comment below is refused here, never pushed.
                probes = [n for n, line in enumerate(proxy.seen) if "comments_open" in line]
                return bool(probes) and len(proxy.seen) > probes[0] + 1

            await until("the post's first check", asked_once)
            await admin.call("POST", f"/posts/{post_id}", {"comment_status": "closed"})
            late = await post_comment(
                daemon, slug, author="Ed", email="ed@example.com", body="Too late?"
            )
            error = await until(
                "the refusal recorded",
                lambda: db_value(
                    daemon, "SELECT last_error FROM wp_push WHERE comment_id = ?", late
                ),
            )
            bridge_error = await db_value(
                daemon, "SELECT count(*) FROM wp_state WHERE key = 'last_error'"
            )
            # Closed here at once, before the post's turn to be asked comes round.
            closed = "SELECT closed FROM threads WHERE key = ?"
            assert await until("closed here", lambda: db_value(daemon, closed, slug)) == 1
    assert "403 rest_comment_closed" in error
    assert bridge_error == 0  # the bridge itself never failed: polls went on
    assert "wordpress.app_password" not in caplog.text
    assert f"comment {late} not pushed: WordPress answered 403 rest_comment_closed" in caplog.text


@pytest.mark.asyncio
async def test_what_waited_out_an_outage_goes_as_soon_as_wordpress_is_back(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # WordPress down is the site's failure, not the comment's: the bridge's backoff
    # spaces the tries, and the first poll that gets through brings the comment along
    # (it was put off by its own backoff too, up to an hour after WordPress was back).
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    async with (
        proxy_for(wordpress_site) as (proxy, url),
        running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon,
        bridge_for(tmp_path, wordpress_site, url, slug, daemon) as bridge,
    ):
        assert await bridge.run_once() == 1
        await post_comment(daemon, slug, author="Fay", email="fay@example.com", body="Hi.")
        proxy.faults += answer(503, "<html>Service Unavailable</html>", "text/html", 3)
        for _ in range(3):
            with pytest.raises(WordPressDown):
                await bridge.run_once()
        await bridge.run_once()  # WordPress is back
    mine = [c for c in await admin.comments(post_id) if c["author_name"] == "Fay"]
    assert len(mine) == 1 and mine[0]["status"] == "hold"


@pytest.mark.asyncio
async def test_a_comment_deleted_on_both_sides_at_once(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # Deleted for good in wp-admin, and deleted here before a poll saw it: trashing it
    # there finds nothing (404), which is what was wanted, not a failure of the bridge.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 2)
    async with daemon_and_bridge(tmp_path, wordpress_site, wordpress_site.url, slug) as (
        daemon,
        bridge,
    ):
        await bridge.run_once()
        mirrored = "SELECT wp_id, comment_id FROM wp_comments WHERE comment_id IS NOT NULL"
        wp_id, local_id = (await db_rows(daemon, mirrored))[0]
        await admin.call("DELETE", f"/comments/{wp_id}", force="true")
        assert await daemon.service.delete(local_id)
        await bridge.run_once()
        await bridge.run_once()
        assert await db_value(daemon, "SELECT count(*) FROM wp_push") == 0
        tomb = "SELECT wp_status FROM wp_comments WHERE wp_id = ?"
        assert await db_value(daemon, tomb, wp_id) == "deleted"
    assert len(await admin.comments(post_id)) == 1


@pytest.mark.asyncio
async def test_approve_and_reply_in_wp_admin_notifies_the_one_answered(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # wp-admin's "Approve and Reply" on a held comment: the comment is approved and the
    # owner's answer published at once. The answer is new (above the cursor), its
    # parent is not (held so far): the parent must be mirrored first, or the answer
    # lands at the top of the thread and the person answered is never told.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    gil = await admin.comment(
        post=post_id, author_name="Gil", author_email="gil@example.org",
        content="Is there a part two?", status="hold",
    )  # fmt: skip
    async with daemon_and_bridge(tmp_path, wordpress_site, wordpress_site.url, slug) as (
        daemon,
        bridge,
    ):
        assert await bridge.run_once() == 1  # Reader 0's; Gil's is held there
        await admin.call("POST", f"/comments/{gil['id']}", {"status": "approved"})
        await admin.comment(
            post=post_id, parent=gil["id"], author_name="Owner",
            author_email="owner@example.com", content="Yes, next week.", status="approved",
        )  # fmt: skip
        await bridge.run_once()
        parents = await db_rows(
            daemon,
            "SELECT c.author, p.author FROM comments c LEFT JOIN comments p ON p.id = c.parent_id "
            "ORDER BY c.id",
        )
        assert parents == [("Reader 0", None), ("Gil", None), ("Owner", "Gil")]
        mails = await until(
            "Gil's notification",
            lambda: mail_to(daemon, "gil@example.org"),
        )
    assert "Yes, next week." in mails[0].get_body(("plain",)).get_content()


@pytest.mark.asyncio
async def test_approve_and_reply_on_an_emailed_reply_emails_its_writer(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # The emailed reply is pending here and held there. "Approve and Reply" in wp-admin
    # approves it and publishes the answer at once; the next poll saw the answer (new)
    # before the approval (read by ID after): it published the answer under a comment
    # still pending here, which tells nobody, and its writer never heard of it.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    async with daemon_and_bridge(tmp_path, wordpress_site, wordpress_site.url, slug) as (
        daemon,
        bridge,
    ):
        await bridge.run_once()
        note = await answered(admin, post_id, bridge, daemon)
        await answer_by_email(daemon, note, "Could you say more about the second point?")
        await bridge.run_once()
        held = next(c for c in await admin.comments(post_id) if c["status"] == "hold")
        await admin.call("POST", f"/comments/{held['id']}", {"status": "approved"})
        await admin.comment(
            post=post_id, parent=held["id"], author_name="Owner",
            author_email="owner@example.com", content="Gladly: it is about timing.",
            status="approved",
        )  # fmt: skip
        await bridge.run_once()
        await until("the answer emailed", lambda: raw_answer(daemon, b"it is about timing."))


@pytest.mark.asyncio
async def test_an_approval_in_wp_admin_during_a_poll_is_applied_once(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # The owner approves an emailed reply (held there) while a poll reads the new
    # comments. Read before the recheck by ID, the listing still had it held; applied
    # after the recheck had seen it approved, it put the reply back to pending here
    # (comment.unpublished, its notifications withdrawn), and the next poll approved it
    # again: three decisions for one tap, as CI saw in test_wordpress_live.py.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    async with (
        proxy_for(wordpress_site) as (proxy, url),
        running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon,
        bridge_for(tmp_path, wordpress_site, url, slug, daemon) as bridge,
    ):
        await bridge.run_once()
        note = await answered(admin, post_id, bridge, daemon)
        await answer_by_email(daemon, note, "Could you say more about the second point?")
        # Pushed between two polls, as the daemon's bridge pushes as soon as it is told:
        # the next poll's listing has it (above the last comment it read).
        await bridge.push_once()
        held = next(c for c in await admin.comments(post_id) if c["status"] == "hold")

        async def approved_behind_the_listing(request: web.Request) -> web.Response | None:
            # The new comments' listing (no include=): answered as it was, then approved.
            if request.method != "GET" or "include" in request.query:
                return None
            listed = await proxy.forward(request)
            await admin.call("POST", f"/comments/{held['id']}", {"status": "approved"})
            return listed

        proxy.faults.append(approved_behind_the_listing)
        await bridge.run_once()
        await bridge.run_once()
        assert not proxy.faults  # the approval came in the middle of a poll
        decided = await db_rows(
            daemon,
            "SELECT d.previous, d.status FROM moderation_decisions d JOIN wp_comments w "
            "ON w.comment_id = d.comment_id WHERE w.wp_id = ?",
            held["id"],
        )
        assert decided == [("pending", "approved")]


@pytest.mark.asyncio
async def test_an_emailed_reply_edited_and_approved_in_wp_admin_goes_out_as_edited(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # The owner corrects an emailed reply held in wp-admin (a typo, a name, a number)
    # and approves it. The poll applied the approval, which emails the person
    # answered at once, and only then the edit: they got the words taken out.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    async with daemon_and_bridge(tmp_path, wordpress_site, wordpress_site.url, slug) as (
        daemon,
        bridge,
    ):
        await bridge.run_once()
        note = await answered(admin, post_id, bridge, daemon)
        await answer_by_email(daemon, note, "Thanks. Say hello to Margaret Hollis for me.")
        await bridge.run_once()
        held = next(c for c in await admin.comments(post_id) if c["status"] == "hold")
        await admin.call(
            "POST", f"/comments/{held['id']}",
            {"content": "Thanks. Say hello to her for me.", "status": "approved"},
        )  # fmt: skip
        await bridge.run_once()
        told = await until("the owner told", lambda: shown_to(daemon, "owner@example.com"))
    assert "Say hello to her for me." in told
    assert "Hollis" not in told


async def shown_to(daemon: Running, address: str) -> str:
    """The text and HTML of the mail to ``address``, as a mail client shows them."""
    return "".join(
        part.get_content()
        for raw in raw_mail_to(daemon, address)
        for part in message_from_bytes(raw, policy=default).walk()
        if part.get_content_type() in ("text/plain", "text/html")
    )


async def raw_answer(daemon: Running, words: bytes) -> bool:
    """Whether a notification to Reader 0 has ``words``, as its file in the Maildir."""
    return any(words in raw for raw in raw_mail_to(daemon, "r0@example.org"))


@pytest.mark.asyncio
async def test_a_comment_trashed_in_wp_admin_soon_after_approval_is_not_announced(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # Approved in wp-admin, trashed a minute later (rude, or someone's number in it).
    # Comments approved on both sides were read again only at the full sync (an hour),
    # so the notification of it, batched, went out when its window closed.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    settings = make_settings(tmp_path, notifications={"batch_window_seconds": 600})
    async with (
        running(settings, resolver=no_dmarc_zone()) as daemon,
        bridge_for(tmp_path, wordpress_site, wordpress_site.url, slug, daemon) as bridge,
    ):
        await bridge.run_once()
        first = (await admin.comments(post_id))[0]
        rude = await admin.comment(
            post=post_id, parent=first["id"], author_name="Rude",
            author_email="rude@example.net", content="Something rude.", status="approved",
        )  # fmt: skip
        await bridge.run_once()
        waiting = (
            "SELECT count(*) FROM pending_notifications p JOIN comments c ON c.id = p.comment_id "
            "WHERE c.author = 'Rude' AND p.withdrawn_at IS NULL"
        )
        assert await db_value(daemon, waiting) == 1  # to Reader 0, in 600 s
        await admin.call("POST", f"/comments/{rude['id']}", {"status": "trash"})
        await bridge.run_once()
        status = "SELECT status FROM comments WHERE author = 'Rude'"
        assert await db_value(daemon, status) == "rejected"
        assert await db_value(daemon, waiting) == 0


@pytest.mark.asyncio
async def test_the_same_words_twice_are_two_comments_here_one_there(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # Someone sends the same answer twice (the first seemed lost). WordPress refuses the
    # second as a duplicate of the first (409): that is not the first's lost answer, and
    # must not take over its link: rejecting the repeat here trashed the first there.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    async with daemon_and_bridge(tmp_path, wordpress_site, wordpress_site.url, slug) as (
        daemon,
        bridge,
    ):
        await bridge.run_once()
        said = {"author": "Hal", "email": "hal@example.com", "body": "Count me in."}
        first = await post_comment(daemon, slug, **said)
        await bridge.run_once()
        again = await post_comment(daemon, slug, **said)
        await bridge.run_once()
        linked = "SELECT wp_id FROM wp_comments WHERE comment_id = ?"
        wp_first = await db_value(daemon, linked, first)
        assert wp_first is not None
        assert await db_value(daemon, linked, again) is None
        decider = Decider(Channel.CLI, None)
        await daemon.service.moderate(first, Action.APPROVE, decider)
        await daemon.service.moderate(again, Action.REJECT, decider)
        await bridge.run_once()
        await bridge.run_once()
        assert await db_value(daemon, "SELECT count(*) FROM wp_push") == 0
    mine = [c for c in await admin.comments(post_id) if c["author_name"] == "Hal"]
    assert [(c["id"], c["status"]) for c in mine] == [(wp_first, "approved")]


@pytest.mark.asyncio
async def test_held_comments_of_posts_not_bridged_are_not_watched(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # With wordpress.posts, the rest of the site is not bridged: its held comments were
    # watched all the same, and read again by ID at every poll, for ever once approved
    # there (never mirrored, so never settled): a growing load on a busy site.
    admin = Admin(wordpress_site)
    _post, slug = await a_post(admin, 1)
    other = await admin.post("other-" + secrets.token_hex(4), "Not bridged")
    held = await admin.comment(
        post=other["id"], author_name="Ivy", author_email="ivy@example.org",
        content="Held elsewhere.", status="hold",
    )  # fmt: skip
    async with proxy_for(wordpress_site) as (proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "a complete poll",
                lambda: equals(
                    db_value(daemon, "SELECT count(*) FROM wp_state WHERE key = 'last_ok_at'"), 1
                ),
            )
            await admin.call("POST", f"/comments/{held['id']}", {"status": "approved"})
            proxy.seen.clear()
            await asyncio.sleep(0.5)  # several polls
            assert await db_value(daemon, "SELECT count(*) FROM comments") == 1
    asked = [parse_qs(urlsplit(s.split()[1]).query).get("include", [""])[0] for s in proxy.seen]
    assert [a for a in asked if str(held["id"]) in a.split(",")] == []
