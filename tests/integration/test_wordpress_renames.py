"""A post renamed in WordPress (its title, and the slug wp-admin offers with it), then
its old slug given to a new post, against a real WordPress. The thread here follows
the post: its new title and key in the emails sent from then on, while the links of
the emails sent before still reach it and their replies are still filed; the new post
gets a thread of its own.
"""

from __future__ import annotations

import json
import re
import secrets
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from flows import form_token, raw_mail_to
from support import db_rows, local, make_settings, no_dmarc_zone, until
from wordpress_proxy import (
    Fault,
    answer_by_email,
    answered,
    bridge_for,
    daemon_and_bridge,
    mail_to,
    proxy_for,
)
from wordpress_site import Admin, Site

from mailbridge.app import running
from mailbridge.bridges.wordpress import renames
from mailbridge.bridges.wordpress.client import WpPost
from mailbridge.clock import SystemClock
from mailbridge.importer import import_file


def shown(raw: bytes) -> str:
    """An email as its reader's client shows it: the subject, the text and the HTML."""
    message = message_from_bytes(raw, policy=default)
    return str(message["Subject"]) + "".join(
        part.get_content()
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    )


def thread_links(raw: bytes) -> set[str]:
    return set(re.findall(r"https?://[^\s\"<>]+/threads/[^\s\"<>#]+", shown(raw)))


@pytest.mark.asyncio
async def test_a_post_renamed_in_wordpress_is_followed_and_its_old_links_still_work(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    old = "renamed-" + secrets.token_hex(4)
    new = old + "-now"
    post = await admin.post(old, "A first title")
    await admin.comment(
        post=post["id"], author_name="Reader 0", author_email="r0@example.org",
        content="A first comment.", status="approved",
    )  # fmt: skip
    async with daemon_and_bridge(
        tmp_path, wordpress_site, wordpress_site.url, old, posts_check_minutes=0
    ) as (daemon, bridge):
        await bridge.run_once()
        before = await answered(admin, post["id"], bridge, daemon)
        (sent_before,) = raw_mail_to(daemon, "r0@example.org")
        assert {link.rsplit("/", 1)[1] for link in thread_links(sent_before)} == {old}

        await admin.call("POST", f"/posts/{post['id']}", {"title": "A better title", "slug": new})
        await bridge.run_once()
        assert await db_rows(daemon, "SELECT key, title FROM threads") == [(new, "A better title")]
        async with aiohttp.ClientSession() as session:
            for link in thread_links(sent_before):  # the emails sent before still reach it
                async with session.get(local(link, daemon.http_address)) as page:
                    assert page.status == 200, link
                    assert page.url.path == f"/threads/{new}"
                    text = await page.text()
                    assert "A better title" in text and "A first comment." in text
        await answer_by_email(daemon, before, "Answered from the email sent before.")

        first = next(c for c in await admin.comments(post["id"]) if c["author_name"] == "Reader 0")
        await admin.comment(
            post=post["id"], parent=first["id"], author_name="Owner",
            author_email="owner@example.com", content="And a second answer.", status="approved",
        )  # fmt: skip
        await bridge.run_once()
        await until("the second notification", lambda: _count(daemon, 2))
        sent_after = next(r for r in raw_mail_to(daemon, "r0@example.org") if r != sent_before)
        assert "A better title" in shown(sent_after)
        assert {link.rsplit("/", 1)[1] for link in thread_links(sent_after)} == {new}

        # The old slug is free in WordPress: a new post takes it, and a thread of its own.
        other = await admin.post(old, "Another post")
        assert other["slug"] == old
        await admin.comment(
            post=other["id"], author_name="Reader 1", author_email="r1@example.org",
            content="On the other post.", status="approved",
        )  # fmt: skip
        await bridge.run_once()
        placed = await db_rows(
            daemon,
            "SELECT t.key, c.body FROM comments c JOIN threads t ON t.id = c.thread_id "
            "WHERE c.body IN ('A first comment.', 'On the other post.') ORDER BY c.id",
        )
        assert placed == [
            (new, "A first comment."), (f"{old}-{other['id']}", "On the other post."),
        ]  # fmt: skip
        async with (
            aiohttp.ClientSession() as session,
            session.get(local(next(iter(thread_links(sent_before))), daemon.http_address)) as page,
        ):
            assert page.url.path == f"/threads/{new}"  # still the renamed post's
        answer = "SELECT t.key, c.status FROM comments c JOIN threads t ON t.id = c.thread_id "
        rows = await db_rows(daemon, answer + "WHERE c.body LIKE 'Answered%'")
        assert rows == [(new, "pending")]  # filed, under the renamed post's thread


async def _count(daemon: object, wanted: int) -> bool:
    return len(await mail_to(daemon, "r0@example.org")) >= wanted  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_title_from_wordpress_cannot_turn_an_email_around_or_fill_it(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    """A title is anyone's with a post to write on the blog: a bidi override in it
    (the rest of each sentence that names the post read backwards, "exe.TXT" for
    "TXT.exe") and a title of thousands of characters reach neither the emails nor
    the thread's page; the words stay."""
    admin = Admin(wordpress_site)
    slug = "titled-" + secrets.token_hex(4)
    post = await admin.post(slug, "A plain title")
    await admin.comment(
        post=post["id"], author_name="Reader 0", author_email="r0@example.org",
        content="A first comment.", status="approved",
    )  # fmt: skip
    hostile = "Read this \u202eTXT.exe\u202c now" + " and more" * 500
    async with daemon_and_bridge(
        tmp_path, wordpress_site, wordpress_site.url, slug, posts_check_minutes=0
    ) as (daemon, bridge):
        await bridge.run_once()
        await admin.call("POST", f"/posts/{post['id']}", {"title": hostile})
        await bridge.run_once()
        ((title,),) = await db_rows(daemon, "SELECT title FROM threads")
        assert title.startswith("Read this TXT.exe now and more")
        assert len(title) <= 200 and "\u202e" not in title and "\u202c" not in title
        await answered(admin, post["id"], bridge, daemon)
        (sent,) = raw_mail_to(daemon, "r0@example.org")
        seen = shown(sent)
        assert "Read this TXT.exe now and more" in seen
        assert "\u202e" not in seen and " and more" * 30 not in seen
        async with (
            aiohttp.ClientSession() as session,
            session.get(local(f"http://x/threads/{slug}", daemon.http_address)) as page,
        ):
            body = await page.read()
        assert page.status == 200
        assert b"Read this TXT.exe now and more" in body
        assert "\u202e".encode() not in body and (" and more" * 30).encode() not in body


@pytest.mark.asyncio
async def test_a_slug_or_link_no_wordpress_gives_is_not_taken(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    """The posts check's answer is the site's to write, and a site taken over (or
    anything at wordpress.site_url) may answer what WordPress never would: a slug with
    a line break, '/' and '..' in it, thousands of characters long, and a javascript:
    link. The thread keeps its key and its link; the page's "Read the post" stays the
    post's own address."""
    admin = Admin(wordpress_site)
    slug = "hostile-" + secrets.token_hex(4)
    post = await admin.post(slug, "A post")
    await admin.comment(
        post=post["id"], author_name="Reader 0", author_email="r0@example.org",
        content="A first comment.", status="approved",
    )  # fmt: skip
    crafted = [
        ("../../moderate/spam\r\nwordpress: a line the site wrote", "javascript:alert(1)//"),
        ("a" * 5000, "data:text/html,<script>alert(1)</script>"),
    ]

    def answering(bad_slug: str, bad_link: str) -> Fault:
        async def rewrite(request: web.Request) -> web.StreamResponse | None:
            if request.query.get("rest_route") != "/wp/v2/posts" or "include" not in request.query:
                return None
            answer = await proxy.forward(request)
            assert answer.body is not None
            posts = json.loads(bytes(answer.body))  # type: ignore[arg-type]
            for one in posts:
                one["slug"], one["link"] = bad_slug, bad_link
            return web.json_response(posts)

        return rewrite

    async with (
        proxy_for(wordpress_site) as (proxy, url),
        running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon,
        bridge_for(tmp_path, wordpress_site, url, slug, daemon, posts_check_minutes=0) as bridge,
    ):
        await bridge.run_once()
        [(key, link)] = await db_rows(daemon, "SELECT key, url FROM threads")
        assert key == slug and link.startswith("http")
        for bad_slug, bad_link in crafted:
            proxy.faults.append(answering(bad_slug, bad_link))
            await bridge.run_once()
            assert not proxy.faults  # the posts check asked, and was answered so
            assert await db_rows(daemon, "SELECT key, url FROM threads") == [(slug, link)]
        async with (
            aiohttp.ClientSession() as session,
            session.get(local(f"http://x/threads/{slug}", daemon.http_address)) as page,
        ):
            body = await page.text()
        assert page.status == 200
        assert f'href="{link}"' in body and "javascript:" not in body and "data:" not in body


@pytest.mark.asyncio
async def test_a_post_first_seen_with_such_a_slug_is_keyed_by_its_id(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    post = await admin.post("first-seen-" + secrets.token_hex(4), "A post")
    await admin.comment(
        post=post["id"], author_name="Reader 0", author_email="r0@example.org",
        content="A first comment.", status="approved",
    )  # fmt: skip

    async def crafted(request: web.Request) -> web.StreamResponse | None:
        # The post on first sight, then in the posts check's list: the same answer.
        if request.query.get("rest_route") not in (f"/wp/v2/posts/{post['id']}", "/wp/v2/posts"):
            return None
        answer = await proxy.forward(request)
        assert answer.body is not None
        found = json.loads(bytes(answer.body))  # type: ignore[arg-type]
        for one in found if isinstance(found, list) else [found]:
            one["slug"], one["link"] = "../x\r\ny", "javascript:alert(1)//"
        return web.json_response(found)

    async with (
        proxy_for(wordpress_site) as (proxy, url),
        running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon,
        bridge_for(tmp_path, wordpress_site, url, "", daemon, posts=[str(post["id"])]) as bridge,
    ):
        proxy.faults += [crafted, crafted]
        await bridge.run_once()
        assert not proxy.faults
        rows = await db_rows(daemon, "SELECT key, url FROM threads")
        assert rows == [(str(post["id"]), "")]
        assert await db_rows(daemon, "SELECT body FROM comments") == [("A first comment.",)]


def wxr_of(path: Path, slug: str, post_id: int, comment_id: int, words: str) -> Path:
    """WordPress's export of one post (``slug``, ``post_id``) with one approved comment."""
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/">
<channel><title>B</title>
<item><title>A first title</title><link>https://blog.example.org/{slug}/</link>
<wp:post_id>{post_id}</wp:post_id><wp:post_name>{slug}</wp:post_name>
<wp:post_type>post</wp:post_type>
<wp:comment><wp:comment_id>{comment_id}</wp:comment_id>
<wp:comment_author>Reader</wp:comment_author>
<wp:comment_author_email>reader@example.org</wp:comment_author_email>
<wp:comment_date_gmt>2026-01-02 10:00:00</wp:comment_date_gmt>
<wp:comment_content>{words}</wp:comment_content>
<wp:comment_approved>1</wp:comment_approved><wp:comment_parent>0</wp:comment_parent>
</wp:comment></item></channel></rss>
"""
    )
    return path


@pytest.mark.asyncio
async def test_a_wxr_naming_a_renamed_posts_old_slug_imports_into_its_thread(
    tmp_path: Path,
) -> None:
    """The blog's export made before the post was renamed, imported again (``--again``,
    or a copy downloaded before): it made a second thread under the old slug, every
    comment twice, and the links of every email sent before (sent on, 301, to the
    renamed thread) opened that frozen copy instead. Another post given the old slug
    since gets its own thread, ``SLUG-ID``, as the bridge keys it."""
    settings = make_settings(tmp_path)
    before = wxr_of(tmp_path / "before.xml", "first-slug", 7, 11, "A first comment.")
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        await import_file(daemon.store, before, SystemClock())

        async def renamed_there(conn: Any) -> str | None:  # as the bridge's posts check does
            [(thread_id,)] = await conn.execute_fetchall("SELECT id FROM threads")
            await conn.execute(
                "INSERT INTO wp_posts (post_id, thread_id) VALUES (7, ?)", (thread_id,)
            )
            post = WpPost(7, "second-slug", "A better title", "https://blog.example.org/s/", True)
            return await renames.follow(conn, thread_id, post)

        assert await daemon.store.write(renamed_there) == "first-slug"
        again = await import_file(daemon.store, before, SystemClock(), again=True)
        assert again.threads_created == 0 and again.comments_added == 0
        other = wxr_of(tmp_path / "other.xml", "first-slug", 8, 12, "On the other post.")
        await import_file(daemon.store, other, SystemClock())
        placed = await db_rows(
            daemon,
            "SELECT t.key, c.body FROM comments c JOIN threads t ON t.id = c.thread_id "
            "ORDER BY c.id",
        )
        assert placed == [
            ("second-slug", "A first comment."),
            ("first-slug-8", "On the other post."),
        ]
        host, port = daemon.http_address
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{host}:{port}/threads/first-slug") as page,
        ):
            assert page.url.path == "/threads/second-slug"
            assert "A first comment." in await page.text()


@pytest.mark.asyncio
async def test_a_comment_written_while_its_post_was_renamed_is_taken(tmp_path: Path) -> None:
    """A reader opens the thread's page (a notification's link) and writes; meanwhile the
    post is renamed in WordPress (as authors fix a slug just after publishing). Their
    widget posts to the old key: 404 "no thread 'first-slug'", again on every retry,
    until they reloaded the page."""
    settings = make_settings(tmp_path)
    before = wxr_of(tmp_path / "before.xml", "first-slug", 7, 11, "A first comment.")
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        await import_file(daemon.store, before, SystemClock())
        host, port = daemon.http_address
        api = f"http://{host}:{port}/api/threads/first-slug"
        token = form_token(daemon, "first-slug")  # the widget's, a minute before
        async with aiohttp.ClientSession() as session:

            async def renamed_there(conn: Any) -> str | None:
                [(thread_id,)] = await conn.execute_fetchall("SELECT id FROM threads")
                await conn.execute(
                    "INSERT INTO wp_posts (post_id, thread_id) VALUES (7, ?)", (thread_id,)
                )
                post = WpPost(7, "second-slug", "Renamed", "https://blog.example.org/s/", True)
                return await renames.follow(conn, thread_id, post)

            assert await daemon.store.write(renamed_there) == "first-slug"
            comment = {"author": "Bea", "email": "bea@example.org", "body": "Written slowly.",
                       "form": token}  # fmt: skip
            async with session.post(f"{api}/comments", json=comment) as r:
                assert r.status == 202, await r.text()
                assert (await r.json())["status"] == "pending"
            async with session.post(f"http://{host}:{port}/api/threads/gone/comments",
                                    json=comment) as r:  # fmt: skip
                assert r.status == 404 and (await r.json())["error"] == "no thread 'gone'"
        rows = await db_rows(
            daemon,
            "SELECT t.key, c.status, coalesce(c.held_reason, '') FROM comments c "
            "JOIN threads t ON t.id = c.thread_id WHERE c.author = 'Bea'",
        )
        assert rows == [("second-slug", "pending", "")]
