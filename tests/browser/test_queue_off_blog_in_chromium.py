"""Bulk Approve on the queue page of comments on a post closed in WordPress, on a 320 px
phone, light and dark: the page says "Not on the blog", naming them (an 80-character
name and an Arabic one wrap and stay isolated), within the screen and readable. The post
is closed as the bridge's posts check leaves it. Screenshots under test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from contrast import LOW_CONTRAST
from flows import post_comment, signed_in_on_a_phone
from support import ROOT, free_port, make_settings

from mailbridge.app import Running
from mailbridge.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.requires_program("chromium", package="chromium")]

ARTIFACTS = ROOT / "test-artifacts"
WIDTH = 320


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    port = free_port()
    return make_settings(
        tmp_path,
        http={"listen": f"127.0.0.1:{port}"},
        site={"public_url": f"http://127.0.0.1:{port}"},
        spam={"enabled": False},
    )


async def closed_in_wordpress(daemon: Running, comment_id: int) -> None:
    async def work(conn: Any) -> None:
        [(thread,)] = await conn.execute_fetchall(
            "SELECT thread_id FROM comments WHERE id = ?", (comment_id,)
        )
        await conn.execute("INSERT INTO wp_posts (post_id, thread_id) VALUES (7, ?)", (thread,))
        await conn.execute("INSERT INTO wp_state (key, value) VALUES ('post_open:7', '0')")

    await daemon.store.write(work)


@pytest.mark.asyncio
@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_bulk_approve_says_not_on_the_blog_at_320_px(
    daemon: Running, browser: Any, scheme: str
) -> None:
    long_name = "W" * 80
    first = await post_comment(daemon, author=long_name, body="Late, but thank you.")
    await post_comment(daemon, author="نور الهدى", body="شكرا جزيلا على هذا المقال")
    await closed_in_wordpress(daemon, first)
    page = await signed_in_on_a_phone(daemon, browser, WIDTH)
    await page.emulate_media(color_scheme=scheme)
    await page.get_by_label("Select all").check()
    await page.get_by_role("button", name="Approve selected").click()
    notice = page.get_by_role("status").filter(has_text="Not on the blog")
    await notice.wait_for()
    said = await notice.inner_text()
    assert "comments are closed on their posts in WordPress" in said
    assert long_name in said and "نور الهدى" in said
    assert await notice.locator("bdi", has_text="نور الهدى").count() == 1
    # Within the phone's screen (the long name wraps), and readable.
    assert await page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    wide = await page.evaluate(
        f"""() => [...document.querySelectorAll("main *")]
              .filter(e => e.getBoundingClientRect().right > {WIDTH + 1})
              .map(e => e.tagName + ": " + e.textContent.slice(0, 40))"""
    )
    assert wide == []
    assert await page.evaluate(LOW_CONTRAST) == []
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"queue-not-on-the-blog-{scheme}.png"
    await page.screenshot(path=str(shot), full_page=True)
