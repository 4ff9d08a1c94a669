"""A comment trashed, marked as spam or unapproved in wp-admin long after it was
approved (a detail seen later, a complaint), against a real WordPress. Only comments
mirrored or decided in the last 15 minutes are read again at every poll; the others
waited for the full sync (``full_sync_minutes``, an hour), shown meanwhile on the
thread's page here, which every notification links to, and quoted to the thread's
followers under any answer to them.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import aiohttp
import pytest
from support import FakeClock
from wordpress_proxy import daemon_and_bridge
from wordpress_site import Admin, Site

from mailbridge.app import Running
from mailbridge.models import Thread


async def page_of(daemon: Running, slug: str) -> str:
    """The thread's page and its comments as the widget reads them, as a browser gets them."""
    host, port = daemon.http_address
    base = f"http://{host}:{port}"
    path = Thread(id=0, key=slug, title="", url="", author="", author_address_id=None).path
    async with aiohttp.ClientSession() as session:
        texts = []
        for url in (f"{base}{path}", f"{base}/api{path}/comments"):
            async with session.get(url) as response:
                assert response.status == 200, url
                texts.append(await response.text())
    return "\n".join(texts)


@pytest.mark.asyncio
async def test_an_old_comment_trashed_or_spammed_in_wp_admin_leaves_the_page_within_two_polls(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    slug = "late-" + secrets.token_hex(4)
    post = await admin.post(slug, "Late decisions")
    words = ("Call Ann on 555 0100.", "Buy cheap watches.", "Not so sure now.", "Kept words.")
    made = [
        await admin.comment(
            post=post["id"], author_name=f"Reader {n}", author_email=f"r{n}@example.org",
            content=text, status="approved",
        )
        for n, text in enumerate(words)
    ]  # fmt: skip
    clock = FakeClock()
    async with daemon_and_bridge(tmp_path, wordpress_site, wordpress_site.url, slug, clock) as (
        daemon,
        bridge,
    ):
        await bridge.run_once()
        shown = await page_of(daemon, slug)
        assert all(text in shown for text in words)
        clock.advance(20 * 60)  # past the 15 minutes, not the hour
        await bridge.run_once()

        await admin.call("POST", f"/comments/{made[0]['id']}", {"status": "trash"})
        await admin.call("POST", f"/comments/{made[1]['id']}", {"status": "spam"})
        await admin.call("POST", f"/comments/{made[2]['id']}", {"status": "hold"})
        for _ in range(2):  # within two polls, not at the full sync
            await bridge.run_once()
        shown = await page_of(daemon, slug)
        assert [text in shown for text in words] == [False, False, False, True]
