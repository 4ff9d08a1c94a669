"""The moderation queue on a phone (issue 10): sign in with the emailed link, select
all, approve at once; screenshots saved under test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from contrast import LOW_CONTRAST
from flows import moderation_email, outbox_dir, post_comment, signed_in_on_a_phone
from support import (
    ROOT,
    THREAD,
    free_port,
    make_settings,
    moderation_links,
    read_maildir,
    text_body,
    until,
)

from mailbridge.app import Running
from mailbridge.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.requires_program("chromium", package="chromium")]

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    port = free_port()
    return make_settings(
        tmp_path,
        http={"listen": f"127.0.0.1:{port}"},
        site={"public_url": f"http://127.0.0.1:{port}"},
        # Long links read as spam; these comments must wait in the queue.
        spam={"enabled": False},
    )


@pytest.mark.asyncio
async def test_sign_in_and_approve_several_on_a_phone(daemon: Running, browser: Any) -> None:
    for n in range(3):
        await post_comment(daemon, parent=2, body=f"Waiting comment **{n}**.")
    await moderation_email(daemon, "Ann", 3)
    page = await signed_in_on_a_phone(daemon, browser)
    await page.get_by_role("heading", name="3 comments waiting").wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "queue-phone.png"), full_page=True)
    await page.get_by_label("Select all").check()
    assert await page.locator("input[name=comment]:checked").count() == 3
    await page.get_by_role("button", name="Approve selected").click()
    await page.get_by_text("Done: 3 comments approved.").wait_for()
    await page.get_by_role("heading", name="0 comments waiting").wait_for()
    await page.screenshot(path=str(ARTIFACTS / "queue-phone-done.png"), full_page=True)


LONG_URL = "https://example.com/" + "a1b2c3d4e5" * 30
LONG_NAME = "W" * 80  # the longest name the comment API takes, unbroken


@pytest.mark.asyncio
async def test_long_names_unbroken_urls_and_rtl_fit_a_phone(daemon: Running, browser: Any) -> None:
    first = await post_comment(
        daemon, author=LONG_NAME, parent=2, body=f"See {LONG_URL} for the study."
    )
    await post_comment(daemon, author="نور", body="شكرا جزيلا على هذا المقال " + LONG_URL)
    await post_comment(daemon, author=LONG_NAME[:-1] + "X", email="x@example.com", body="Hi.")
    await moderation_email(daemon, "نور", 3)
    page = await signed_in_on_a_phone(daemon, browser)
    await page.get_by_role("heading", name="3 comments waiting").wait_for()
    # The first approved: its name and link appear in "Decided", then answered.
    await page.locator(f"input[name=comment][value='{first}']").check()
    await page.get_by_role("button", name="Approve selected").click()
    await page.get_by_text("Done: 1 comment approved.").wait_for()
    await post_comment(daemon, parent=first, body="An answer to the long one.")
    await page.reload()
    await page.get_by_role("heading", name="3 comments waiting").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "queue-phone-long.png"), full_page=True)
    wide = await page.evaluate(
        """() => [...document.querySelectorAll("main *")]
              .filter(e => e.getBoundingClientRect().right > 391)
              .map(e => e.tagName + ": " + e.textContent.slice(0, 40))"""
    )
    assert wide == []
    # An Arabic comment reads right to left (its punctuation where its writer put it).
    arabic = page.locator(".body", has_text="شكرا جزيلا")
    assert await arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.asyncio
async def test_a_mistaken_spam_is_undone_on_a_phone_and_its_link_kept(
    daemon: Running, browser: Any
) -> None:
    """Spam tapped by mistake: the done page's Undo, then the kept undo link opened
    again later says it was undone already (not "decided since"), on a phone."""
    await post_comment(daemon, parent=2, body="Not spam at all.")
    links = moderation_links(await moderation_email(daemon, "Ann"))
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(links["spam"])
    await page.get_by_role("button", name="Spam").click()
    await page.get_by_role("heading", name="Done: the comment is spam.").wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    kept = await page.get_by_role("link", name="this link").get_attribute("href")
    assert kept is not None and "/moderate/undo/" in kept
    await page.get_by_role("button", name="Undo: put it back to pending").click()
    await page.get_by_role("heading", name="Undone: the comment is pending again.").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "undo-phone.png"), full_page=True)
    await page.goto(kept)  # the bookmark, later
    await page.get_by_role(
        "heading", name="Already undone: the comment is pending again."
    ).wait_for()
    assert await page.get_by_role("button").count() == 0


@pytest.mark.asyncio
async def test_select_all_leaves_what_may_be_private_to_be_ticked_once_read(
    daemon: Running, browser: Any
) -> None:
    # A busy author approves the lot from their phone: the comment with a number in it
    # is not among "all"; it waits, saying why, until ticked on its own.
    for n in range(2):
        await post_comment(daemon, parent=2, body=f"Waiting comment **{n}**.")
    private = await post_comment(daemon, parent=2, body="Call me on 0151 496 0123 tonight.")
    await moderation_email(daemon, "Ann", 3)
    page = await signed_in_on_a_phone(daemon, browser)
    await page.get_by_role("heading", name="3 comments waiting").wait_for()
    await page.get_by_text("not those that may reveal personal details").wait_for()
    await page.get_by_label("Select all").check()
    assert await page.locator("input[name=comment]:checked").count() == 2
    assert not await page.locator(f"input[name=comment][value='{private}']").is_checked()
    await page.get_by_role("button", name="Approve selected").click()
    await page.get_by_text("Done: 2 comments approved.").wait_for()
    await page.get_by_role("heading", name="1 comment waiting").wait_for()
    await page.get_by_text("it may reveal personal details: a phone number").wait_for()
    await page.locator(f"input[name=comment][value='{private}']").check()
    await page.get_by_role("button", name="Approve selected").click()
    await page.get_by_text("Done: 1 comment approved.").wait_for()


@pytest.mark.asyncio
async def test_what_a_press_did_is_said_at_the_top_and_in_the_title(
    daemon: Running, browser: Any
) -> None:
    """An Undo pressed under "Decided" said "Undone: ..." below the whole queue: on a
    phone, with a dozen comments waiting, screens down, and in a page whose title (what
    a screen reader announces as it comes back) said only "Moderation queue (12)"."""
    for n in range(12):
        await post_comment(daemon, parent=2, body=f"Waiting comment {n}, long enough " * 4)
    # Ten have emails of their own; past ten pending the rest wait for the digest
    # (moderation.mode "auto", the default). All twelve are in the queue.
    await moderation_email(daemon, "Ann", 10)
    page = await signed_in_on_a_phone(daemon, browser)
    await page.get_by_role("heading", name="12 comments waiting").wait_for()
    await page.locator("input[name=comment]").first.check()
    await page.get_by_role("button", name="Spam").click()
    await page.get_by_text("Done: 1 comment marked as spam.").wait_for()
    assert (await page.title()).startswith("Done: 1 comment marked as spam · Moderation queue")
    # Each Undo says whose comment it puts back (a list of buttons read them all alike).
    await page.get_by_role("button", name="Undo: back to pending (the comment by Ann)").click()
    said = page.get_by_role("status").filter(has_text="Undone: the comment is back")
    await said.wait_for()
    box = await said.bounding_box()  # on the screen as the page comes back
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 844
    assert (await page.title()).startswith("Undone: the comment is back where it was · ")


# Every target a thumb taps, with its size: links that stand alone (a link inside a
# sentence or a comment's text is exempt, WCAG 2.5.8), buttons, fields, and a checkbox
# by its label (the label is what is tapped).
TARGETS = """() => [...document.querySelectorAll("a, button, input, select, textarea")]
  .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== "hidden")
  .filter(e => e.tagName !== "A" || e.parentElement.textContent.trim() === e.textContent.trim())
  .map(e => e.type === "checkbox" && e.closest("label") ? e.closest("label") : e)
  .map(e => { const r = e.getBoundingClientRect();
    return [e.tagName, e.textContent.trim().slice(0, 30) || e.name, r.width, r.height]; })"""


@pytest.mark.asyncio
async def test_every_target_on_the_pages_fits_a_thumb(daemon: Running, browser: Any) -> None:
    """The site's link atop every page was 20 px tall, under the 44 px a thumb needs."""
    for n in range(2):
        await post_comment(daemon, parent=2, body=f"Waiting comment **{n}**.")
    page = await signed_in_on_a_phone(daemon, browser)
    await page.get_by_role("heading", name="2 comments waiting").wait_for()
    small = [t for t in await page.evaluate(TARGETS) if min(t[2:]) < 44]
    # A checkbox's label may be one line of text (26 px): 24 px is WCAG's least, with
    # nothing else to tap within 24 px of it.
    assert [t for t in small if t[0] != "LABEL" or min(t[2:]) < 24] == [], small
    await page.get_by_label("Select all").check()
    await page.get_by_role("button", name="Approve selected").click()
    await page.get_by_role("heading", name="0 comments waiting").wait_for()
    assert [t for t in await page.evaluate(TARGETS) if min(t[2:]) < 44] == []
    host, port = daemon.http_address
    for path in ("/", "/privacy", "/moderate", f"/threads/{THREAD}"):
        await page.goto(f"http://{host}:{port}{path}")
        assert [t for t in await page.evaluate(TARGETS) if min(t[2:]) < 44] == [], path


@pytest.mark.asyncio
async def test_the_pages_read_in_dark_mode(daemon: Running, browser: Any) -> None:
    """The moderation emails were dark in dark mode; the pages their links open were
    white, the queue the author reads at night too."""
    comment = await post_comment(daemon, parent=2, body="Waiting in the dark.")
    approve = moderation_links(await moderation_email(daemon, "Ann", 1))["approve"]

    async def held(conn: Any) -> None:  # its Approve page shows the yellow notice
        await conn.execute("UPDATE comments SET held_reason = 'two links' WHERE id = ?", (comment,))

    await daemon.store.write(held)
    page = await signed_in_on_a_phone(daemon, browser)
    await page.emulate_media(color_scheme="dark")
    await page.get_by_role("heading", name="1 comment waiting").wait_for()
    host, port = daemon.http_address
    for where in ("queue", approve, "/", "/privacy", "/moderate", f"/threads/{THREAD}"):
        if where != "queue":
            await page.goto(where if where.startswith("http") else f"http://{host}:{port}{where}")
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(13, 17, 23)", where
        assert await page.evaluate(LOW_CONTRAST) == [], where
        if where == approve:
            await page.get_by_text("Held for a closer look").wait_for()


@pytest.mark.asyncio
async def test_the_privacy_page_s_targets_fit_a_thumb(daemon: Running, browser: Any) -> None:
    """A commenter's own data page: "Download all of it (JSON)" was a 26 px line."""
    await post_comment(daemon, parent=2, body="Mine.")
    host, port = daemon.http_address
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(f"http://{host}:{port}/privacy")
    await page.get_by_label("Your email address").fill("ann@example.com")
    await page.get_by_role("button", name="Email me a link").click()
    await page.get_by_role("heading").first.wait_for()

    async def link() -> str | None:
        for mail in read_maildir(outbox_dir(daemon)):
            if "Your data" in str(mail["Subject"]):
                found = re.search(r"(http\S+/privacy/[\w-]+)", text_body(mail))
                return found.group(1) if found else None
        return None

    await page.goto(await until("the privacy link", link, seconds=20))
    await page.get_by_role("link", name="Download all of it (JSON)").wait_for()
    assert [t for t in await page.evaluate(TARGETS) if min(t[2:]) < 44] == []


@pytest.mark.asyncio
async def test_an_arabic_comment_under_decided_reads_right_to_left(
    daemon: Running, browser: Any
) -> None:
    """Under "Decided" (where the spam folder's catch is undone) a comment in Arabic was
    laid out left to right, its "!" at its start, and the name was not isolated."""
    arabic = "شكرا جزيلا على هذا المقال!"
    cid = await post_comment(daemon, author="نور الهدى", email="noor@example.net", body=arabic)
    await moderation_email(daemon, "نور الهدى")
    page = await signed_in_on_a_phone(daemon, browser)
    await page.locator(f"input[name=comment][value='{cid}']").check()
    await page.get_by_role("button", name="Spam").click()
    await page.get_by_text("Done: 1 comment marked as spam.").wait_for()
    decided = page.locator(".card", has=page.locator(f"input[name=comment][value='{cid}']"))
    excerpt = decided.get_by_text(arabic)
    assert await excerpt.evaluate("e => getComputedStyle(e).direction") == "rtl"
    name = decided.get_by_text("نور الهدى", exact=True).first
    assert await name.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"


@pytest.mark.asyncio
async def test_not_on_the_blog_reads_in_dark_mode(daemon: Running, browser: Any) -> None:
    """The Approve page's "Not on the blog" (a WordPress post closed there, 813d6de)
    kept a light yellow of its own while the page turned dark (01d9a38): the page's
    light text on it, 1.1:1, unreadable on a phone at night, as the moderator decides."""
    comment = await post_comment(daemon, parent=2, body="Approved on a closed post.")
    approve = moderation_links(await moderation_email(daemon, "Ann", 1))["approve"]

    async def closed_in_wordpress(conn: Any) -> None:  # as the bridge's posts check leaves it
        [(thread,)] = await conn.execute_fetchall(
            "SELECT thread_id FROM comments WHERE id = ?", (comment,)
        )
        await conn.execute("INSERT INTO wp_posts (post_id, thread_id) VALUES (7, ?)", (thread,))
        await conn.execute("INSERT INTO wp_state (key, value) VALUES ('post_open:7', '0')")

    await daemon.store.write(closed_in_wordpress)
    page = await signed_in_on_a_phone(daemon, browser)
    await page.emulate_media(color_scheme="dark")
    await page.goto(approve)
    await page.get_by_text("Not on the blog:").wait_for()
    assert await page.evaluate(LOW_CONTRAST) == []
    await page.get_by_role("button", name="Approve").click()
    await page.get_by_text("Done: the comment is approved.").wait_for()
    await page.get_by_text("Not on the blog:").wait_for()
    assert await page.evaluate(LOW_CONTRAST) == []
