"""The spam folder on a 320 px phone (docs/spam.md): from the queue page to the folder,
one comment rescued, several deleted for good; a comment with a script and a name in
Arabic shown safely. Screenshots saved under test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from contrast import LOW_CONTRAST
from flows import post_comment, signed_in_on_a_phone
from support import ROOT, db_value, free_port, make_settings

from mailbridge.app import Running
from mailbridge.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.requires_program("chromium", package="chromium")]

ARTIFACTS = ROOT / "test-artifacts"
SPAMMY = "Check out my channel!!! http://spam.example/watch subscribe please"
WIDTH = 320


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Links in emails must work as clicked, so the public URL is the real address."""
    port = free_port()
    return make_settings(
        tmp_path,
        http={"listen": f"127.0.0.1:{port}"},
        site={"public_url": f"http://127.0.0.1:{port}"},
    )


async def spam(daemon: Running, author: str, body: str, email: str) -> int:
    cid = await post_comment(daemon, parent=2, author=author, email=email, body=body)
    assert await db_value(daemon, "SELECT status FROM comments WHERE id = ?", cid) == "spam"
    return cid


def card(page: Any, cid: int) -> Any:
    return page.locator(".card", has=page.locator(f"input[name=comment][value='{cid}']"))


@pytest.mark.asyncio
async def test_rescue_one_and_delete_several_at_320_px(daemon: Running, browser: Any) -> None:
    person = await spam(daemon, "Reader", f"Great post, {SPAMMY}", "reader@example.net")
    script = '<script>window.pwned = 1</script><img src=x onerror="window.pwned=2">'
    hostile = await spam(daemon, "Mallory", f"{script} {SPAMMY}", "mallory@example.net")
    arabic = await spam(daemon, "نور الهدى", f"شكرا جزيلا {SPAMMY}", "noor@example.net")
    robot = await spam(daemon, "R" * 80, f"{SPAMMY} " + "x" * 300, "robot@example.net")
    page = await signed_in_on_a_phone(daemon, browser, WIDTH)
    await page.get_by_role("link", name="Spam (4)").click()
    await page.get_by_role("heading", name="Spam: 4 comments").wait_for()
    # Fits the phone: no sideways scrolling, every element within the screen.
    assert await page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    wide = await page.evaluate(
        f"""() => [...document.querySelectorAll("main *")]
              .filter(e => e.getBoundingClientRect().right > {WIDTH + 1})
              .map(e => e.tagName + ": " + e.textContent.slice(0, 40))"""
    )
    assert wide == []
    # The script is text: it never ran, and the image's handler is gone.
    assert await page.evaluate("window.pwned") is None
    assert "<script>window.pwned" in await card(page, hostile).inner_text()
    # The Arabic comment reads right to left; its name is isolated from the words around.
    body = card(page, arabic).locator(".body")
    assert await body.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert await card(page, arabic).locator("bdi", has_text="نور الهدى").count() == 1
    # Why each is there, and no address anywhere on the page.
    assert await card(page, person).get_by_text("Why: spam score").count() == 1
    text = await page.locator("main").inner_text()
    assert "@example.net" not in text
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "spam-folder-phone.png"), full_page=True)

    # Rescue one into the queue.
    await card(page, person).locator("input[name=comment]").check()
    await page.get_by_role("button", name="Not spam: to the queue").click()
    await page.get_by_text("Not spam: 1 comment back in the queue.").wait_for()
    await page.get_by_role("heading", name="Spam: 3 comments").wait_for()

    # Delete the other three: select all, confirm, deleted.
    await page.get_by_label("Select all").check()
    assert await page.locator("input[name=comment]:checked").count() == 3
    await page.get_by_role("button", name="Delete for good").click()
    await page.get_by_role("heading", name="Delete 3 comments for good?").wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    await page.screenshot(path=str(ARTIFACTS / "spam-folder-phone-delete.png"), full_page=True)
    await page.get_by_role("button", name="Delete 3 for good").click()
    await page.get_by_text("Deleted for good: 3 comments.").wait_for()
    await page.get_by_text("The spam folder is empty.").wait_for()
    assert (await page.title()).startswith("Deleted for good: 3 comments · Spam (0)")

    # The rescued comment waits in the queue.
    await page.get_by_role("link", name="← The queue").click()
    await page.get_by_role("heading", name="1 comment waiting").wait_for()
    assert await page.locator(f"input[name=comment][value='{person}']").count() == 1
    await page.screenshot(path=str(ARTIFACTS / "spam-folder-phone-queue.png"), full_page=True)
    for gone in (hostile, arabic, robot):
        assert await db_value(daemon, "SELECT count(*) FROM comments WHERE id = ?", gone) == 0


@pytest.mark.asyncio
async def test_the_folders_links_fit_a_thumb_and_it_reads_in_dark_mode(
    daemon: Running, browser: Any
) -> None:
    """The folder's page came the same day as the pages' 44 px targets (d02a5ea, 5e04146)
    and missed them: '← The queue', 'Select all', 'Back to the spam folder' (and 'Older
    spam') were 20 px tall lines on a phone. Its dark mode was right."""
    targets = """() => [...document.querySelectorAll("a, button, input, select, textarea")]
      .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== "hidden")
      .filter(e => e.tagName !== "A" || e.parentElement.textContent.trim() === e.textContent.trim())
      .map(e => e.type === "checkbox" && e.closest("label") ? e.closest("label") : e)
      .map(e => { const r = e.getBoundingClientRect();
        return [e.tagName, e.textContent.trim().slice(0, 30) || e.name, r.width, r.height]; })"""
    held = await spam(daemon, "Reader", f"Call me on +44 20 7946 0958 {SPAMMY}", "r@example.net")
    await spam(daemon, "Robot", SPAMMY, "robot@example.net")
    page = await signed_in_on_a_phone(daemon, browser, WIDTH)
    await page.emulate_media(color_scheme="dark")
    await page.get_by_role("link", name="Spam (2)").click()
    await page.get_by_role("heading", name="Spam: 2 comments").wait_for()
    assert await page.evaluate(LOW_CONTRAST) == []
    assert [t for t in await page.evaluate(targets) if min(t[2:]) < 44] == []
    await card(page, held).locator("input[name=comment]").check()
    await page.get_by_role("button", name="Delete for good").click()
    await page.get_by_role("button", name="Delete").first.wait_for()
    assert await page.evaluate(LOW_CONTRAST) == []
    assert [t for t in await page.evaluate(targets) if min(t[2:]) < 44] == []


@pytest.mark.asyncio
async def test_a_publish_from_the_folder_is_undone_there_at_320_px(
    daemon: Running, browser: Any
) -> None:
    """ "Not spam: publish" tapped by mistake, on a phone in dark mode: the page it comes
    back to offers that comment's Undo (a thumb's size, readable), which puts it back."""
    mistake = await spam(daemon, "Robot", SPAMMY, "robot@example.net")
    page = await signed_in_on_a_phone(daemon, browser, WIDTH)
    await page.emulate_media(color_scheme="dark")
    await page.get_by_role("link", name="Spam (1)").click()
    await card(page, mistake).locator("input[name=comment]").check()
    await page.get_by_role("button", name="Not spam: publish").click()
    await page.get_by_text("Not spam: 1 comment published.").wait_for()
    undo = page.get_by_role("button", name="Undo: back to spam (the comment by Robot)")
    await undo.wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert await page.evaluate(LOW_CONTRAST) == []
    box = await undo.bounding_box()
    assert box is not None and min(box["width"], box["height"]) >= 44
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "spam-folder-phone-undo.png"), full_page=True)
    await undo.click()
    await page.get_by_text("Undone: the comment is back where it was.").wait_for()
    assert await db_value(daemon, "SELECT status FROM comments WHERE id = ?", mistake) == "spam"
