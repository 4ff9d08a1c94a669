"""Comments closed on a post in WordPress, as its owner closes them: by hand in
wp-admin, or by age (*Automatically close comments on posts older than*), against a
real WordPress. The thread closes here too: an emailed reply is answered as any
closed thread's and filed nowhere, the comment API says closed (the widget reads it),
and opening comments there opens the thread here again.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from flows import approve, follow, moderation_email, outbox_dir
from integration.test_moderation_by_reply import DMARC, KEY, answer
from integration.test_web_bad_input import admin_token
from scraping import samples, scrape
from senderauth.mailkit import sign, zone
from support import (
    AUTHOR_EMAIL,
    db_value,
    make_settings,
    moderation_links,
    no_dmarc_zone,
    of_kind,
    read_maildir,
    reply_address,
    reply_to_notification,
    smtp_send,
)
from wordpress_proxy import (
    Proxy,
    answer_by_email,
    answered,
    bridge_for,
    daemon_and_bridge,
    proxy_for,
)
from wordpress_site import Admin, Site

from mailbridge.app import Running, running
from mailbridge.cli import cli
from mailbridge.store import threads

CLOSED = "250 2.0.0 Received, but not posted: this conversation is closed to new comments."


async def a_thread(admin: Admin, slug: str, days_old: int = 0) -> int:
    """A post with Reader's comment; the post ``days_old`` days old."""
    published = (datetime.now(UTC) - timedelta(days=days_old)).strftime("%Y-%m-%dT%H:%M:%S")
    post = await admin.call(
        "POST", "/posts", {"title": "Closing", "slug": slug, "status": "publish",
                           "comment_status": "open", "date_gmt": published},
    )  # fmt: skip
    await admin.comment(
        post=post["id"], author_name="Reader", author_email="reader@example.org",
        content="A first comment.", status="approved",
    )  # fmt: skip
    return int(post["id"])


async def thread_json(daemon: Running, slug: str) -> str:
    """The comment API's answer, as the widget's browser gets it."""
    host, port = daemon.http_address
    url = f"http://{host}:{port}/api/threads/{slug}/comments"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.text()


async def web_comment(daemon: Running, slug: str) -> tuple[int, str]:
    host, port = daemon.http_address
    url = f"http://{host}:{port}/api/threads/{slug}/comments"
    body = {"author": "Web", "email": "web@example.com", "body": "From the widget."}
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, await response.text()


@contextmanager
def closing_old_posts(site: Site, days: int) -> Iterator[None]:
    """Settings, Discussion: "Automatically close comments on posts older than" (not in
    the REST API: set as wp-admin's form does, through WordPress's own PHP)."""

    def options(on: int) -> None:
        code = (
            f'require "{site.directory}/wordpress/wp-load.php"; '
            f'update_option("close_comments_for_old_posts", {on}); '
            f'update_option("close_comments_days_old", {days});'
        )
        subprocess.run(["php", "-r", code], check=True, timeout=60, capture_output=True)

    options(1)
    try:
        yield
    finally:
        options(0)  # the WordPress is the session's: the other tests' posts are new ones


@pytest.mark.asyncio
async def test_comments_closed_in_wp_admin_close_the_thread_here(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    slug = "closing-by-hand-" + secrets.token_hex(4)
    post_id = await a_thread(admin, slug)
    async with daemon_and_bridge(
        tmp_path, wordpress_site, wordpress_site.url, slug, posts_check_minutes=0
    ) as (daemon, bridge):
        await bridge.run_once()
        note = await answered(admin, post_id, bridge, daemon, "Reader", "reader@example.org")
        assert '"closed":false' in await thread_json(daemon, slug)

        await admin.call("POST", f"/posts/{post_id}", {"comment_status": "closed"})
        await bridge.run_once()
        late = reply_to_notification(note, "One more thing, if I may.")
        code = await smtp_send(daemon, "reader@example.org", reply_address(note), late.as_bytes())
        assert code.startswith(CLOSED), code
        assert await db_value(daemon, "SELECT count(*) FROM comments") == 2
        assert '"closed":true' in await thread_json(daemon, slug)
        status, answer = await web_comment(daemon, slug)
        assert status == 403 and "closed to new comments" in answer

        await admin.call("POST", f"/posts/{post_id}", {"comment_status": "open"})
        await bridge.run_once()
        assert '"closed":false' in await thread_json(daemon, slug)
    assert len(await admin.comments(post_id)) == 2  # nothing pushed there


@pytest.mark.asyncio
async def test_comments_closed_by_age_close_the_thread_here(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # The post's comment_status stays "open" in the REST API: WordPress closes old
    # posts' comments only where it decides whether its form is shown or a comment is
    # taken (comments_open()).
    admin = Admin(wordpress_site)
    slug = "closing-by-age-" + secrets.token_hex(4)
    post_id = await a_thread(admin, slug, days_old=30)
    async with daemon_and_bridge(
        tmp_path, wordpress_site, wordpress_site.url, slug, posts_check_minutes=0
    ) as (daemon, bridge):
        await bridge.run_once()
        note = await answered(admin, post_id, bridge, daemon, "Reader", "reader@example.org")
        with closing_old_posts(wordpress_site, days=14):
            post = await admin.call("GET", f"/posts/{post_id}", context="edit")
            assert post["comment_status"] == "open"
            await bridge.run_once()
            late = reply_to_notification(note, "One more thing, if I may.")
            code = await smtp_send(
                daemon, "reader@example.org", reply_address(note), late.as_bytes()
            )
            assert code.startswith(CLOSED), code
            assert '"closed":true' in await thread_json(daemon, slug)
        await bridge.run_once()
        assert '"closed":false' in await thread_json(daemon, slug)
    assert len(await admin.comments(post_id)) == 2


@pytest.mark.asyncio
async def test_a_thread_imported_closed_follows_its_post_open_in_wordpress(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # The site's WXR was imported while the post's comments were closed; they are open
    # in WordPress when the bridge first asks. Only a change seen there was followed,
    # so the thread stayed closed here for good: every emailed reply refused, "closed"
    # in the widget, while the blog's own form took comments. WordPress rules now, and
    # the admin API says so rather than closing what the next check would open.
    admin = Admin(wordpress_site)
    slug = "closing-imported-" + secrets.token_hex(4)
    post_id = await a_thread(admin, slug)
    async with daemon_and_bridge(
        tmp_path, wordpress_site, wordpress_site.url, slug, posts_check_minutes=0
    ) as (daemon, bridge):
        # As `mailbridge import` leaves the post exported with comments closed.
        imported = {"title": "Closing", "url": "", "author": "", "author_address_id": None}
        await daemon.store.write(
            lambda c: threads.upsert_thread(
                c, key=slug, now="2026-11-01T00:00:00+00:00", closed=True, **imported
            )
        )
        await bridge.run_once()
        assert '"closed":false' in await thread_json(daemon, slug)
        note = await answered(admin, post_id, bridge, daemon, "Reader", "reader@example.org")
        late = reply_to_notification(note, "Glad it is open again.")
        code = await smtp_send(daemon, "reader@example.org", reply_address(note), late.as_bytes())
        assert "awaits moderation" in code, code

        host, port = daemon.http_address
        token = await admin_token(daemon)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://{host}:{port}/api/admin/threads/{slug}/close",
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):  # fmt: skip
            assert response.status == 409
            refusal = await response.json()
        assert refusal["code"] == "thread_in_wordpress"
        assert f"is WordPress post {post_id}: close its comments there" in refusal["message"]
        await bridge.run_once()
        assert '"closed":false' in await thread_json(daemon, slug)

        await admin.call("POST", f"/posts/{post_id}", {"comment_status": "closed"})
        await bridge.run_once()
        assert '"closed":true' in await thread_json(daemon, slug)


def creates(proxy: Proxy) -> list[str]:
    """The comments the bridge asked WordPress to create (not its questions whether a
    post takes comments, which name ``mailbridge=comments_open``)."""
    return [
        r for r in proxy.seen
        if r.startswith("POST ") and re.search(r"/comments(&|$)", r) and "comments_open" not in r
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_a_comment_approved_after_its_post_closed_waits_for_it_to_open(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # Held here as it may reveal a phone number (kept out of wp-admin until approved),
    # the post closed in WordPress meanwhile, then approved here: WordPress refuses it
    # for as long as the post is closed. It was tried hourly for ever, counted as
    # failing; now it waits for the post to take comments again, and then goes.
    admin = Admin(wordpress_site)
    slug = "closing-held-" + secrets.token_hex(4)
    post_id = await a_thread(admin, slug)
    settings = make_settings(tmp_path, moderation={"moderators": [AUTHOR_EMAIL]})
    async with (
        proxy_for(wordpress_site) as (proxy, url),
        running(settings, resolver=no_dmarc_zone()) as daemon,
        bridge_for(
            tmp_path, wordpress_site, url, slug, daemon, posts_check_minutes=0, poll_seconds=0.1
        ) as bridge,
    ):
        await bridge.run_once()
        note = await answered(admin, post_id, bridge, daemon, "Reader", "reader@example.org")
        await answer_by_email(
            daemon, note, "Call me on +44 20 7946 0958 about it.", "reader@example.org"
        )
        moderation = await moderation_email(daemon, "Reader")
        await admin.call("POST", f"/posts/{post_id}", {"comment_status": "closed"})
        await bridge.run_once()
        await approve(daemon, moderation)
        await bridge.run_once()
        assert len(creates(proxy)) == 1  # refused: 403 rest_comment_closed
        for _ in range(3):  # past the old backoff (0.2 s, 0.4 s, 0.8 s)
            await asyncio.sleep(1)
            await bridge.run_once()
        assert len(creates(proxy)) == 1  # not asked again while the post stays closed
        status = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", str(daemon.settings.data_path)],
            env={
                "MAILBRIDGE_WORDPRESS_SITE_URL": url,
                "MAILBRIDGE_WORDPRESS_USER": wordpress_site.user,
                "MAILBRIDGE_WORDPRESS_APP_PASSWORD": wordpress_site.app_password,
            },
        )  # fmt: skip
        assert "changes waiting to go to WordPress: 0" in status.output, status.output
        assert "failing:" not in status.output
        assert "as their post takes none (closed, a draft, in the trash): 1" in status.output
        # Nor the documented alert's gauge: it would fire for as long as the post is closed.
        _code, _type, text = await scrape(daemon)
        assert samples(text)["mailbridge_wordpress_pushes_waiting"][()] == 0

        await admin.call("POST", f"/posts/{post_id}", {"comment_status": "open"})
        await bridge.run_once()  # sees the post open
        await bridge.run_once()
        assert len(creates(proxy)) == 2
    shown = [c for c in await admin.comments(post_id) if "7946" in c["content"]["raw"]]
    assert [(c["author_name"], c["status"]) for c in shown] == [("Reader", "approved")]


@pytest.mark.asyncio
async def test_a_reply_come_before_the_bridge_saw_the_close_is_tried_once_a_change(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # The post closed in WordPress; a reply by email comes before the bridge asks about
    # the post again (posts_check_minutes): WordPress refuses it held, refuses it again
    # once approved here (one try for that change), and takes it when the post opens.
    admin = Admin(wordpress_site)
    slug = "closing-late-" + secrets.token_hex(4)
    post_id = await a_thread(admin, slug)
    settings = make_settings(tmp_path, moderation={"moderators": [AUTHOR_EMAIL]})
    async with (
        proxy_for(wordpress_site) as (proxy, url),
        running(settings, resolver=no_dmarc_zone()) as daemon,
    ):
        async with bridge_for(
            tmp_path, wordpress_site, url, slug, daemon, posts_check_minutes=60, poll_seconds=0.1
        ) as bridge:
            await bridge.run_once()
            note = await answered(admin, post_id, bridge, daemon, "Reader", "reader@example.org")
            await admin.call("POST", f"/posts/{post_id}", {"comment_status": "closed"})
            late = reply_to_notification(note, "One more thing, if I may.")
            code = await smtp_send(
                daemon, "reader@example.org", reply_address(note), late.as_bytes()
            )
            assert "awaits moderation" in code, code  # not closed here yet
            await bridge.run_once()
            assert len(creates(proxy)) == 1
            assert '"closed":true' in await thread_json(daemon, slug)
            await approve(daemon, await moderation_email(daemon, "Reader"))
            for _ in range(3):
                await bridge.run_once()
                await asyncio.sleep(1)
            assert len(creates(proxy)) == 2  # the approval tried once, no more
        await admin.call("POST", f"/posts/{post_id}", {"comment_status": "open"})
        async with bridge_for(
            tmp_path, wordpress_site, url, slug, daemon, posts_check_minutes=60
        ) as bridge:  # a restart: every post asked at its first poll
            await bridge.run_once()
            await bridge.run_once()
    assert len(creates(proxy)) == 3
    shown = [c for c in await admin.comments(post_id) if "One more thing" in c["content"]["raw"]]
    assert [(c["author_name"], c["status"]) for c in shown] == [("Reader", "approved")]


async def emailed(daemon: Running, note: EmailMessage, words: str, n: int) -> None:
    """Reader's ``n``th answer to ``note`` by email (its own Message-ID)."""
    reply = reply_to_notification(note, words, message_id=f"<reply-{n}@client.example>")
    code = await smtp_send(daemon, "reader@example.org", reply_address(note), reply.as_bytes())
    assert code.startswith("250"), code


@pytest.mark.asyncio
async def test_a_moderator_approving_on_a_post_closed_there_is_told_it_stays_off_the_blog(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # Three emailed replies wait: one in wp-admin already (held there), two kept out of
    # it as they show a phone number. The post's comments close in WordPress. Approved
    # here, the first is approved there too; the others, from the moderation email's
    # link and by a reply, are published here only (WordPress refuses their creation):
    # the moderator was told "approved" and no more, the rest in the log and 'mailbridge
    # status', which a moderator on a phone never reads.
    admin = Admin(wordpress_site)
    slug = "closing-told-" + secrets.token_hex(4)
    post_id = await a_thread(admin, slug)
    settings = make_settings(tmp_path, moderation={"moderators": [AUTHOR_EMAIL]})
    words = ("A first thought.", "Call me on +44 20 7946 0958.", "Or on +44 20 7946 0959.")
    async with (
        running(settings, resolver=zone(KEY, records=DMARC)) as daemon,
        bridge_for(
            tmp_path, wordpress_site, wordpress_site.url, slug, daemon, posts_check_minutes=0
        ) as bridge,
    ):
        await bridge.run_once()
        note = await answered(admin, post_id, bridge, daemon, "Reader", "reader@example.org")
        for n, text in enumerate(words):
            await emailed(daemon, note, text, n)
            await moderation_email(daemon, "Reader", count=2 + n)
        await bridge.run_once()  # the first created there, held
        mails = of_kind(read_maildir(outbox_dir(daemon)), "awaits moderation")
        there, by_link, by_reply = (
            next(m for m in mails if text in m.get_body(("plain",)).get_content()) for text in words
        )
        _status, page = await follow(daemon, moderation_links(by_link)["approve"])
        assert "Not on the blog" not in page  # open there: it would go

        await admin.call("POST", f"/posts/{post_id}", {"comment_status": "closed"})
        await bridge.run_once()
        status, page = await follow(daemon, moderation_links(there)["approve"], "POST")
        assert status == 200 and "Not on the blog" not in page  # approved there too
        status, page = await follow(daemon, moderation_links(by_link)["approve"])
        assert status == 200
        assert "<strong>Not on the blog:</strong> comments are closed on this post in " in page
        status, page = await follow(daemon, moderation_links(by_link)["approve"], "POST")
        assert status == 200 and "Done: the comment is approved." in page
        assert "<strong>Not on the blog:</strong> comments are closed on this post in " in page

        rcpt = by_reply["Reply-To"].addresses[0].addr_spec
        result = await smtp_send(daemon, AUTHOR_EMAIL, rcpt, sign(answer(by_reply, "approve"), KEY))
        assert result.startswith("250 2.0.0 Done: comment "), result
        assert "is approved; comments are closed on its post in WordPress, so it is " in result
        assert "published here only: it goes to the blog if the post takes comments" in result
        await bridge.run_once()
    there_now = await admin.comments(post_id)
    assert [[c["status"] for c in there_now if text in c["content"]["raw"]] for text in words] == [
        ["approved"],
        [],
        [],
    ]
