"""Comments closed on a post in WordPress, as its owner closes them: by hand in
wp-admin, or by age (*Automatically close comments on posts older than*), against a
real WordPress. The thread closes here too: an emailed reply is answered as any
closed thread's and filed nowhere, the comment API says closed (the widget reads it),
and opening comments there opens the thread here again.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from support import (
    db_value,
    make_settings,
    no_dmarc_zone,
    reply_address,
    reply_to_notification,
    smtp_send,
)
from wordpress_proxy import answered, bridge_for
from wordpress_site import Admin, Site, wordpress_site  # noqa: F401 - the fixture

from mailbridge.app import Running, running

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
    wordpress_site: Site,  # noqa: F811
) -> None:
    admin = Admin(wordpress_site)
    slug = "closing-by-hand-" + secrets.token_hex(4)
    post_id = await a_thread(admin, slug)
    async with (
        running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon,
        bridge_for(
            tmp_path, wordpress_site, wordpress_site.url, slug, daemon, posts_check_minutes=0
        ) as bridge,
    ):
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
    wordpress_site: Site,  # noqa: F811
) -> None:
    # The post's comment_status stays "open" in the REST API: WordPress closes old
    # posts' comments only where it decides whether its form is shown or a comment is
    # taken (comments_open()).
    admin = Admin(wordpress_site)
    slug = "closing-by-age-" + secrets.token_hex(4)
    post_id = await a_thread(admin, slug, days_old=30)
    async with (
        running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon,
        bridge_for(
            tmp_path, wordpress_site, wordpress_site.url, slug, daemon, posts_check_minutes=0
        ) as bridge,
    ):
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
