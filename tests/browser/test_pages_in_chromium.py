"""The pages in a real browser (Debian's chromium, driven by Playwright).

Without Debian's chromium these tests are skipped, naming the package; CI installs it
and sets REQUIRE_EXTERNAL_TOOLS=1, which turns a missing browser into a failure
(tests/programs.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flows import moderation_email, post_comment
from support import ROOT, THREAD, free_port, make_settings, moderation_links

from mailbridge.app import Running
from mailbridge.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.requires_program("chromium", package="chromium")]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Links in emails must work as clicked, so the public URL is the real address."""
    port = free_port()
    return make_settings(
        tmp_path,
        http={"listen": f"127.0.0.1:{port}"},
        site={"public_url": f"http://127.0.0.1:{port}"},
    )


@pytest.mark.asyncio
async def test_thread_page_reads_as_a_nested_thread(daemon: Running, page) -> None:  # type: ignore[no-untyped-def]
    host, port = daemon.http_address
    response = await page.goto(f"http://{host}:{port}/threads/{THREAD}")
    assert response.status == 200
    assert await page.title() == (
        "Attachment Theory and the Healing Psychotherapy Relationship · Example Blog"
    )
    # The page runs the embed widget: the same rendering as on the blog (shadow DOM,
    # which Playwright's CSS selectors pierce).
    await page.locator("#mailbridge article").nth(242).wait_for()
    assert await page.locator("#mailbridge article").count() == 243
    # Replies sit inside their parent's list, five levels below the top.
    deepest = page.locator("#mailbridge " + "ol " * 6 + "article")
    assert await deepest.count() >= 1
    text = await page.locator("#mailbridge section").inner_text()
    assert "@example.org" not in text
    # Links to a comment land on it.
    first = page.locator("#mailbridge article").first
    assert (await first.get_attribute("id")).startswith("comment-")


@pytest.mark.asyncio
async def test_moderator_approves_with_one_tap(daemon: Running, page) -> None:  # type: ignore[no-untyped-def]
    await post_comment(daemon, parent=2, body="Approve me <b>please</b>")
    approve = moderation_links(await moderation_email(daemon, "Ann", 1))["approve"]
    await page.set_viewport_size({"width": 390, "height": 844})  # on a phone
    await page.goto(approve)  # exactly as the moderator taps it
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    await page.screenshot(path=str(ROOT / "test-artifacts" / "moderation-link-phone.png"))
    assert await page.locator("h1").inner_text() == "Approve this comment?"
    assert "Approve me <b>please</b>" in await page.locator(".card").inner_text()
    await page.get_by_role("button", name="Approve").click()
    await page.wait_for_load_state()
    assert (await page.locator("h1").inner_text()).startswith("Done: the comment is approved")
    await page.get_by_role("link", name="see it in the thread").click()
    await page.wait_for_load_state()
    mine = page.locator("#mailbridge article", has_text="Approve me <b>please</b>")
    await mine.wait_for()


@pytest.mark.asyncio
async def test_a_hebrew_comment_reads_right_to_left_on_the_confirm_page(
    daemon: Running, page
) -> None:  # type: ignore[no-untyped-def]
    """The page an Approve link opens laid a Hebrew comment (and the Hebrew comment it
    answers) out left to right: aligned left, its "!" and "?" at its start. The queue
    and the moderation email already read it right to left."""
    hebrew = "תודה על המאמר! האם יש עוד?"
    first = await post_comment(daemon, parent=2, author="מרים כהן", body=hebrew)
    links = moderation_links(await moderation_email(daemon, "מרים כהן", 1))
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(links["approve"])
    said = page.locator(".card .body", has_text=hebrew)
    assert await said.evaluate("e => getComputedStyle(e).direction") == "rtl"
    # The name is isolated: its direction does not pull the date beside it.
    name = page.locator(".card strong bdi", has_text="מרים כהן")
    assert await name.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
    await page.get_by_role("button", name="Approve").click()
    await page.wait_for_load_state()
    # An answer to it quotes it right to left too.
    await post_comment(daemon, parent=first, author="Bob", body="I agree.")
    links = moderation_links(await moderation_email(daemon, "Bob", 2))
    await page.goto(links["reject"])
    quoted = page.locator("blockquote", has_text="תודה")
    assert await quoted.evaluate("e => getComputedStyle(e).direction") == "rtl"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "label", "button", "typed"),
    [
        # Addresses the browser's own check lets through and mailbridge refuses.
        ("/moderate", "Your moderator address", "Email me a sign-in link", "ann.@example.org"),
        ("/privacy", "Your email address", "Email me a link", "ann@gmail"),
    ],
)
async def test_a_refused_address_is_kept_marked_and_explained(
    daemon: Running, page, path: str, label: str, button: str, typed: str
) -> None:  # type: ignore[no-untyped-def]
    """The sign-in and privacy forms answered a refused address with "That is not an
    email address." above an empty field, marked nowhere: a screen reader user heard
    nothing of it (the page reloads) and had to type the address again, not told why."""
    host, port = daemon.http_address
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"http://{host}:{port}{path}")
    await page.get_by_label(label).fill(typed)
    await page.get_by_role("button", name=button).click()
    await page.get_by_role("alert").wait_for()
    field = page.get_by_label(label)
    assert await field.input_value() == typed
    assert await field.get_attribute("aria-invalid") == "true"
    said = await field.evaluate(
        "e => document.getElementById(e.getAttribute('aria-describedby')).textContent"
    )
    assert said.startswith("That is not an email address: ") and len(said) > 40
    assert await page.evaluate("document.activeElement.id") == "email"


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/moderate", "/privacy"])
async def test_the_address_forms_fit_a_320_px_phone(daemon: Running, page, path: str) -> None:  # type: ignore[no-untyped-def]
    """The address field was 100% wide plus its padding and border: on a 320 px screen
    its right edge was cut off and the page scrolled sideways."""
    host, port = daemon.http_address
    await page.set_viewport_size({"width": 320, "height": 640})
    await page.goto(f"http://{host}:{port}{path}")
    right = await page.locator("input[type=email]").evaluate("e => e.getBoundingClientRect().right")
    assert right <= 320
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320


@pytest.mark.asyncio
async def test_the_pages_follow_the_reader_s_text_size(daemon: Running, page) -> None:  # type: ignore[no-untyped-def]
    """A reader who set their browser's text size to 32 px (a low-vision author at their
    desk) got mailbridge's pages at 17 px: the body's size was fixed in pixels."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Page.enable")
    await cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
    await post_comment(daemon, parent=2, body="Approve me.")
    approve = moderation_links(await moderation_email(daemon, "Ann", 1))["approve"]
    host, port = daemon.http_address
    await page.set_viewport_size({"width": 320, "height": 640})
    for url in (f"http://{host}:{port}/threads/{THREAD}", approve, f"http://{host}:{port}/privacy"):
        await page.goto(url)
        size = await page.evaluate("getComputedStyle(document.body).fontSize")
        assert size == "34px", url  # 17 px at the default 16, as the reader scaled it
        # And still within a 320 px phone: buttons were at least 12rem, 384 px here.
        assert await page.evaluate("document.documentElement.scrollWidth") <= 320, url
