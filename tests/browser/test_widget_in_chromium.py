"""The embed widget on a blog of another origin, in a real browser (issue 9).

A static "Hugo-like" post page is served by a second HTTP server on another port
(mailbridge's demo site); the widget loads from mailbridge, shows the 243 comments
nested, posts a comment and a reply in place, the moderation email reaches the
Maildir, and approval makes the comment appear on reload. Keyboard-only posting,
dark mode, and a site whose origin is not allowed (no thread is created). Screenshots
at phone and desktop width are saved under test-artifacts/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from flows import moderation_email
from support import (
    BIG,
    ROOT,
    THREAD,
    big_thread,
    db_rows,
    embedding_settings,
    free_port,
    import_seed,
    local,
    moderation_links,
    no_dmarc_zone,
)

from mailbridge.app import Running, running
from mailbridge.embed.demo import demo_site_running
from mailbridge.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.requires_program("chromium", package="chromium")]

ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
# A form sent under two seconds after the reader started writing is scored as a
# robot's (docs/spam.md): the tests write like people.
HUMAN_MS = 2_100
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def demo_port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, demo_port: int) -> Settings:
    return embedding_settings(tmp_path, demo_port)


@pytest_asyncio.fixture
async def blog(settings: Settings, demo_port: int) -> AsyncIterator[tuple[Running, str]]:
    """mailbridge, and the demo blog on another origin."""
    await import_seed(settings)
    async with (
        running(settings, resolver=no_dmarc_zone()) as daemon,
        demo_site_running(settings, f"127.0.0.1:{demo_port}"),
    ):
        yield daemon, f"http://127.0.0.1:{demo_port}"


def shot(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)


async def thread_keys(daemon: Running) -> set[str]:
    async def work(conn: Any) -> set[str]:
        async with conn.execute("SELECT key FROM threads") as cur:
            return {str(row[0]) for row in await cur.fetchall()}

    return set(await daemon.store.read(work))


@pytest.mark.asyncio
async def test_the_widget_on_another_origin_shows_posts_and_replies(
    blog: tuple[Running, str], browser: Any
) -> None:
    daemon, site = blog
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{site}/posts/{THREAD}/")
    comments = page.locator("#mailbridge article")
    await comments.nth(242).wait_for()
    assert await comments.count() == 243
    assert await page.locator("#mailbridge h2").inner_text() == "243 comments"
    assert await page.locator("#mailbridge " + "ol " * 6 + "article").count() >= 1
    await page.screenshot(path=shot("widget-phone.png"), full_page=False)

    # A new top-level comment.
    await page.get_by_label("Name (shown)").first.fill("Widget Ann")
    await page.get_by_label("Email (never shown)").first.fill("ann@example.com")
    await page.get_by_label("Comment", exact=True).first.fill("Posted from the *widget*.")
    await page.wait_for_timeout(HUMAN_MS)  # people take a moment; robots do not
    await page.get_by_role("button", name="Post comment").click()
    status = page.locator("#mailbridge form [role=status]")  # the form's own, beside it
    await status.filter(has_text="will appear once the author approves it").wait_for()
    assert "confirm your address" in await status.inner_text()

    # A reply, in place under comment 2.
    await page.locator("#comment-2 > button.reply").click()
    form = page.locator("#comment-2 form")
    await form.wait_for()
    assert await page.locator("#mailbridge form h3").inner_text() == "Reply to Reader 002"
    await form.get_by_label("Name (shown)").fill("Widget Bob")
    await form.get_by_label("Email (never shown)").fill("bob@example.com")
    await form.get_by_label("Comment", exact=True).fill("A reply in place.")
    await form.get_by_label("Emails").select_option("none")
    await page.wait_for_timeout(HUMAN_MS)
    await form.get_by_role("button", name="Post comment").click()
    await status.filter(has_text="will appear once").wait_for()
    assert "confirm your address" not in await status.inner_text()

    # The moderation emails arrive; approving makes the comments appear on reload.
    for author in ("Widget Ann", "Widget Bob"):
        moderation = await moderation_email(daemon, author)
        approve = local(moderation_links(moderation)["approve"], daemon.http_address)
        response = await page.request.post(approve)
        assert response.status == 200
    await page.reload()
    await comments.nth(244).wait_for()
    assert await page.locator("#mailbridge h2").inner_text() == "245 comments"
    reply = page.locator("#comment-2 + ol article", has_text="A reply in place.")
    assert await reply.count() == 1
    assert await page.locator("#mailbridge em", has_text="widget").count() == 1
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=shot("widget-desktop.png"), full_page=False)
    assert "@example" not in await page.locator("#mailbridge section").inner_text()


@pytest.mark.asyncio
async def test_posting_with_the_keyboard_only(blog: tuple[Running, str], browser: Any) -> None:
    daemon, site = blog
    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(f"{site}/posts/{THREAD}/")
    await page.locator("#mailbridge article").nth(242).wait_for()
    focused = "() => { let e = document.activeElement; while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement; return e ? (e.name || e.textContent) : null; }"  # noqa: E501
    for _ in range(10):  # bounded: the form is the widget's first stop
        await page.keyboard.press("Tab")
        if await page.evaluate(focused) == "author":
            break
    assert await page.evaluate(focused) == "author"
    await page.keyboard.type("Keyboard Kim")
    await page.keyboard.press("Tab")
    await page.keyboard.type("kim@example.com")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Typed without a mouse.")
    await page.keyboard.press("Tab")  # the emails choice
    await page.keyboard.press("Tab")  # the honeypot is skipped: the button
    assert await page.evaluate(focused) == "Post comment"
    await page.wait_for_timeout(HUMAN_MS)
    await page.keyboard.press("Enter")
    await page.locator("#mailbridge [role=status]").filter(has_text="will appear once").wait_for()
    await moderation_email(daemon, "Keyboard Kim")


@pytest.mark.asyncio
async def test_a_clock_set_back_while_writing_and_the_hidden_field(
    blog: tuple[Running, str], browser: Any
) -> None:
    daemon, site = blog
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{site}/posts/{THREAD}/")
    await page.locator("#mailbridge article").first.wait_for()
    # The honeypot as autofill and password managers meet it: off their lists.
    trap = page.locator("#mailbridge .trap input")
    attributes = await trap.evaluate(
        "e => [e.name, e.getAttribute('autocomplete'), e.tabIndex, e.closest('[aria-hidden]')"
        " && e.closest('[aria-hidden]').getAttribute('aria-hidden'),"
        " e.hasAttribute('data-1p-ignore'), e.getAttribute('data-lpignore')]"
    )
    name, autocomplete, tabindex, hidden, one_password, lastpass = attributes
    assert name not in ("website", "url", "homepage", "site", "name", "email")
    assert (autocomplete, tabindex, hidden, one_password, lastpass) == (
        "off",
        -1,
        "true",
        True,
        "true",
    )
    await page.get_by_label("Name (shown)").first.fill("Skewed Sam")
    await page.get_by_label("Email (never shown)").first.fill("sam@example.com")
    # The phone's clock is set back an hour (a time sync) while the reader writes.
    await page.evaluate(
        "() => { const now = Date.now; Date.now = () => now.call(Date) - 3600000; }"
    )
    await page.get_by_label("Comment", exact=True).first.fill("Written across a time sync.")
    await page.wait_for_timeout(HUMAN_MS)
    await page.get_by_role("button", name="Post comment").click()
    status = page.locator("#mailbridge form [role=status]")
    await status.filter(has_text="will appear once").wait_for()
    await moderation_email(daemon, "Skewed Sam")


@pytest.mark.asyncio
async def test_a_filled_hidden_field_keeps_the_comment_and_promises_no_email(
    blog: tuple[Running, str], browser: Any
) -> None:
    daemon, site = blog
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{site}/posts/{THREAD}/")
    await page.locator("#mailbridge article").first.wait_for()
    await page.get_by_label("Name (shown)").first.fill("Filled Fay")
    await page.get_by_label("Email (never shown)").first.fill("fay@example.com")
    await page.get_by_label("Comment", exact=True).first.fill("An extension filled a field.")
    # What an over-eager extension does: the hidden field gets a value.
    await page.locator("#mailbridge .trap input").evaluate("e => { e.value = 'x'; }")
    await page.wait_for_timeout(HUMAN_MS)
    await page.get_by_role("button", name="Post comment").click()
    status = page.locator("#mailbridge form [role=status]")
    await status.filter(has_text="will appear once").wait_for()
    # No confirmation goes out for a comment in the spam folder (until it is rescued).
    assert "email" not in await status.inner_text()
    rows = await db_rows(daemon, "SELECT status FROM comments WHERE author = 'Filled Fay'")
    assert rows == [("spam",)]


@pytest.mark.asyncio
async def test_dark_pages_get_a_dark_widget(blog: tuple[Running, str], browser: Any) -> None:
    _daemon, site = blog
    page = await browser.new_page(viewport=PHONE, color_scheme="dark")
    await page.goto(f"{site}/posts/{THREAD}/")
    await page.locator("#mailbridge article").first.wait_for()
    colour = await page.locator("#mailbridge textarea").evaluate(
        "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]"
    )
    text, background = colour
    assert text != background
    assert text in ("rgb(255, 255, 255)",) or text.startswith("rgb(2")  # light text
    await page.screenshot(path=shot("widget-phone-dark.png"))
    # The demo page sets --mb-accent on the container: the site's colour is used.
    button = page.locator("#mailbridge button.send")
    assert await button.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(138, 63, 252)"


@pytest.mark.asyncio
async def test_count_script_fills_a_list_page(blog: tuple[Running, str], browser: Any) -> None:
    _daemon, site = blog
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{site}/")
    await page.locator(f'[data-mailbridge-count="{THREAD}"]', has_text="243 comments").wait_for()


@pytest.mark.asyncio
async def test_a_site_that_is_not_allowed_gets_no_thread(
    blog: tuple[Running, str], browser: Any, settings: Settings
) -> None:
    daemon, _site = blog
    other = free_port()
    before = await thread_keys(daemon)
    async with demo_site_running(settings, f"127.0.0.1:{other}"):
        page = await browser.new_page(viewport=PHONE)
        await page.goto(f"http://127.0.0.1:{other}/posts/hello-world/")
        status = page.locator("#mailbridge [role=status]")
        await status.filter(has_text="not").wait_for()
    assert await thread_keys(daemon) == before
    # The allowed site's new post creates its thread on first view.
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{_site}/posts/hello-world/")
    await page.locator("#mailbridge h2", has_text="0 comments").wait_for()
    assert len(await thread_keys(daemon)) == len(before) + 1


@pytest.mark.asyncio
async def test_a_form_sent_at_robot_speed_goes_to_spam(
    blog: tuple[Running, str], browser: Any
) -> None:
    daemon, site = blog
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{site}/posts/{THREAD}/")
    await page.locator("#mailbridge article").first.wait_for()
    await page.get_by_label("Name (shown)").first.fill("Fast Bot")
    await page.get_by_label("Email (never shown)").first.fill("bot@example.net")
    await page.get_by_label("Comment", exact=True).first.fill("Great post.")
    await page.get_by_role("button", name="Post comment").click()  # at once
    await page.locator("#mailbridge [role=status]").filter(has_text="Thank you").wait_for()

    async def statuses(conn: Any) -> list[str]:
        async with conn.execute(
            "SELECT status, held_reason FROM comments WHERE author = 'Fast Bot'"
        ) as cur:
            return [f"{r[0]}: {r[1]}" for r in await cur.fetchall()]

    [found] = await daemon.store.read(statuses)
    assert found.startswith("spam: spam score") and "under two seconds" in found


IN_VIEW = "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }"


async def open_linked(browser: Any, url: str, comment_id: int) -> tuple[Any, Any]:
    """A phone-width tab opened at ``url#comment-ID``: the tab, once that comment is
    shown and scrolled into view, and the comment."""
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{url}#comment-{comment_id}")
    target = page.locator(f"#mailbridge #comment-{comment_id}")
    await target.wait_for()
    await page.wait_for_function("scrollY > 0")
    assert await target.evaluate(IN_VIEW)
    return page, target


@pytest.mark.asyncio
async def test_a_link_to_one_comment_brings_it_into_view(
    blog: tuple[Running, str], browser: Any
) -> None:
    """Notification emails link to post#comment-ID. The widget's comments live in a
    shadow root, which the browser's own scrolling to #comment-ID cannot reach."""
    daemon, site = blog
    last = int(
        (await db_rows(daemon, "SELECT max(id) FROM comments WHERE status = 'approved'"))[0][0]
    )
    page, target = await open_linked(browser, f"{site}/posts/{THREAD}/", last)
    assert "linked" in (await target.get_attribute("class") or "")
    await page.screenshot(path=shot("widget-linked-comment.png"))
    # A link to no comment of this thread (or a rejected one) shows the thread as usual.
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{site}/posts/{THREAD}/#comment-999999")
    await page.locator("#mailbridge article").nth(242).wait_for()
    assert await page.locator("#mailbridge h2").inner_text() == "243 comments"


@pytest.mark.asyncio
async def test_a_link_into_a_later_page_of_a_big_thread(
    blog: tuple[Running, str], browser: Any, settings: Settings, tmp_path: Path
) -> None:
    """A big thread shows 50 conversations, then "Show more": a linked comment further
    on is loaded with every conversation before it, in order, and shown."""
    daemon, _site = blog
    await import_seed(settings, big_thread(tmp_path))
    tops = await db_rows(
        daemon,
        "SELECT c.id FROM comments c JOIN threads t ON t.id = c.thread_id"
        " WHERE t.key = ? AND c.parent_id IS NULL ORDER BY c.id",
        BIG,
    )
    replies = await db_rows(
        daemon, "SELECT id FROM comments WHERE parent_id = ? ORDER BY id", tops[199][0]
    )
    wanted = int(replies[2][0])  # the last reply in conversation 200 (page 4 of 6)
    host, port = daemon.http_address
    page, _target = await open_linked(browser, f"http://{host}:{port}/threads/{BIG}", wanted)
    conversations = page.locator("#mailbridge section > ol > li > article")
    assert await conversations.count() == 200  # every one up to it, in one answer
    more = page.get_by_role("button", name="Show more comments")
    assert await more.is_visible()
    # Following another link further on, on the same page, loads up to that one too.
    later = int(tops[279][0])
    await page.evaluate(f"location.hash = '#comment-{later}'")
    await page.locator(f"#mailbridge #comment-{later}").wait_for()
    assert await conversations.count() == 280
    await page.wait_for_function(
        f"""() => {{ const e = document.querySelector('#mailbridge').shadowRoot
            .getElementById('comment-{later}'); const r = e.getBoundingClientRect();
            return r.top >= 0 && r.top < innerHeight; }}"""
    )
    # And back to one already shown: no request, just there.
    await page.evaluate(f"location.hash = '#comment-{wanted}'")
    await page.wait_for_function(
        f"""() => document.querySelector('#mailbridge').shadowRoot
            .getElementById('comment-{wanted}').classList.contains('linked')"""
    )
    assert await conversations.count() == 280
