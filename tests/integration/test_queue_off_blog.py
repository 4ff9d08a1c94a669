"""Bulk Approve on the queue page, of comments on a post closed in WordPress: they are
published on this site's page of the conversation only (WordPress takes no comment on
the post), and the page said "Done: 2 comments approved." and no more, while the
single Approve's page and the spam folder's "Not spam: publish" say "Not on the blog".
The queue page now says it too, naming them. The post is closed as the bridge's posts
check leaves it (wp_posts, wp_state), as in test_spam_folder_page.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from flows import csrf, jar, post_comment, signed_in, url
from support import started

from mailbridge.app import Running


async def closed_in_wordpress(daemon: Running, comment_id: int) -> None:
    async def work(conn: Any) -> None:
        [(thread,)] = await conn.execute_fetchall(
            "SELECT thread_id FROM comments WHERE id = ?", (comment_id,)
        )
        await conn.execute("INSERT INTO wp_posts (post_id, thread_id) VALUES (7, ?)", (thread,))
        await conn.execute("INSERT INTO wp_state (key, value) VALUES ('post_open:7', '0')")

    await daemon.store.write(work)


@pytest.mark.asyncio
async def test_bulk_approve_on_a_post_closed_in_wordpress_says_not_on_the_blog(
    tmp_path: Path,
) -> None:
    async with started(tmp_path) as daemon:
        ids = [
            await post_comment(daemon, author=f"Late{n}", body=f"A late word, {n}.")
            for n in range(2)
        ]
        async with aiohttp.ClientSession(cookie_jar=jar()) as session:
            page = await signed_in(daemon, session)
            # Rejected: nothing published, nothing to say about the blog.
            form = [("csrf", csrf(page)), ("action", "reject"), ("comment", str(ids[1]))]
            async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
                page = await r.text()
            assert "Not on the blog" not in page
            await closed_in_wordpress(daemon, ids[0])
            more = await post_comment(daemon, author="Late2", body="Another late word.")
            form = [("csrf", csrf(page)), ("action", "approve")]
            form += [("comment", str(i)) for i in (ids[0], more)]
            async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
                assert r.status == 200
                page = await r.text()
    assert "Done: 2 comments approved." in page
    notice = page.split("<strong>Not on the blog:</strong>", 1)[1].split("</div>", 1)[0]
    assert notice.startswith(" comments are closed on their posts in WordPress")
    assert "<bdi>Late0</bdi>" in notice and "<bdi>Late2</bdi>" in notice
    assert "Late1" not in notice
