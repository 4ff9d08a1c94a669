"""A post whose title is not in Latin letters, against a real WordPress: its slug is
WordPress's percent-encoding of the title (``%d0%9f%d1%80...``), and the thread here
is keyed by it, as an import of the site's WXR keys it. The links to the thread in
mailbridge's emails must reach that thread.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import aiohttp
import pytest
from flows import raw_mail_to
from support import local
from wordpress_proxy import answered, daemon_and_bridge
from wordpress_site import Admin, Site


@pytest.mark.asyncio
async def test_the_emailed_link_to_a_cyrillic_posts_thread_opens_it(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    post = await admin.call(
        "POST", "/posts", {"title": "Привет, мир", "status": "publish", "comment_status": "open"}
    )
    assert post["slug"].startswith("%d0%9f%d1%80")  # WordPress's own slug for it
    await admin.comment(
        post=post["id"], author_name="Reader 0", author_email="r0@example.org",
        content="Первый комментарий.", status="approved",
    )  # fmt: skip
    # In wordpress.posts as wp-admin shows the slug: the operator's way of naming it.
    async with daemon_and_bridge(tmp_path, wordpress_site, wordpress_site.url, "привет-мир") as (
        daemon,
        bridge,
    ):
        await bridge.run_once()
        await answered(admin, post["id"], bridge, daemon)
        (raw,) = raw_mail_to(daemon, "r0@example.org")
        # As the mail client shows the text and the HTML (quoted-printable undone).
        shown = "".join(
            part.get_content()
            for part in message_from_bytes(raw, policy=default).walk()
            if part.get_content_type() in ("text/plain", "text/html")
        )
        links = set(re.findall(r"https?://[^\s\"<>]+/threads/[^\s\"<>#]+", shown))
        assert links, shown
        async with aiohttp.ClientSession() as session:
            for link in links:
                async with session.get(local(link, daemon.http_address)) as page:
                    assert page.status == 200, (link, await page.text())
                    assert "Первый комментарий." in await page.text()
