"""The widget and the pages for readers the first accessibility audit left out: a site in
another language, old iPhones, thumbs, dark mode, screen readers jumping by heading.

The blog pages are test_widget_on_host_pages.py's (another loopback origin), for a
site whose language is French.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect
from support import BIG, THREAD, embedding_settings

from mailbridge.app import Running
from mailbridge.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.requires_program("chromium", package="chromium")]


PHONE = {"width": 390, "height": 844}
Host = Callable[..., str]  # the host fixture's page maker (tests/browser/conftest.py)
# The host page's <html lang=en> taken away, as on a theme that never set one.
NO_LANG = "<script>document.documentElement.removeAttribute('lang')</script>"


@pytest.fixture
def settings(tmp_path: Path, host_port: int) -> Settings:
    plain = embedding_settings(tmp_path, host_port)
    return dataclasses.replace(plain, site=dataclasses.replace(plain.site, language="fr"))


async def shown(browser: Any, url: str, **options: Any) -> Any:
    page = await browser.new_page(viewport=PHONE, **options)
    await page.goto(url)
    await page.locator("#mailbridge article").nth(242).wait_for()
    return page


@pytest.mark.asyncio
async def test_the_site_s_language_is_said_on_its_pages_and_in_the_widget(
    host: tuple[Running, Host], browser: Any
) -> None:
    """Every page said lang="en", a French blog's too, and the widget on a page without
    a lang of its own said none: a screen reader read French comments with the sounds
    of the reader's own language, and the dates came in the browser's language."""
    daemon, page_for = host
    page = await shown(browser, page_for(head=NO_LANG))
    section = page.locator("#mailbridge section")
    assert await section.get_attribute("lang") == "fr"
    date = await page.locator("#mailbridge time").first.inner_text()
    assert date == "24 déc. 2012", date
    # A page that says its language keeps it: the widget adds none of its own.
    german = "<script>document.documentElement.lang = 'de'</script>"
    page = await shown(browser, page_for(head=german))
    assert await page.locator("#mailbridge section").get_attribute("lang") is None
    assert await page.locator("#mailbridge time").first.inner_text() == "24. Dez. 2012"
    # mailbridge's own pages, as the browser gets them.
    host_, port = daemon.http_address
    async with aiohttp.ClientSession() as session:
        for path in (f"/threads/{THREAD}", "/privacy", "/moderate"):
            async with session.get(f"http://{host_}:{port}{path}") as response:
                raw = await response.read()
            assert raw.splitlines()[1] == b'<html lang="fr">', path


# What Safari 13 (iOS 13) lacks of what the widget uses, taken away before it runs: a
# MediaQueryList that is no EventTarget (only addListener), no replaceChildren, no
# constructed stylesheets, no Trusted Types.
SAFARI_13 = """
Object.defineProperty(MediaQueryList.prototype, "addEventListener", { value: undefined });
Object.defineProperty(MediaQueryList.prototype, "removeEventListener", { value: undefined });
for (const kind of [Element, Document, DocumentFragment]) delete kind.prototype.replaceChildren;
window.CSSStyleSheet = function () { throw new TypeError("Illegal constructor"); };
delete window.trustedTypes;
"""


@pytest.mark.asyncio
async def test_on_an_old_iphone_the_widget_shows_the_thread_and_takes_a_comment(
    host: tuple[Running, Host], browser: Any
) -> None:
    """matchMedia(...).addEventListener threw on Safari before 14: an iPhone on iOS 13
    got an empty box where the comments go; on a closed thread replaceChildren threw."""
    daemon, page_for = host
    page = await browser.new_page(viewport=PHONE)
    await page.add_init_script(SAFARI_13)
    await page.goto(page_for(head="<style>body { color: #111; }</style>"))
    await page.locator("#mailbridge article").nth(242).wait_for()
    # Styled by its <style> (no constructed sheet), the honeypot out of sight.
    assert not await page.locator("#mailbridge .trap").is_visible()
    # The dark accent still follows a theme that follows the reader's scheme.
    assert not await page.locator("#mailbridge section.on-dark").count()
    await page.evaluate("document.body.style.color = '#eee'")
    await page.emulate_media(color_scheme="dark")
    await page.locator("#mailbridge section.on-dark").wait_for()
    form = page.locator("#mailbridge form")
    await form.get_by_label("Name (shown)").fill("Old Phone")
    await form.get_by_label("Email (never shown)").fill("old.phone@example.com")
    await form.get_by_label("Comment", exact=True).fill("Written on an iPhone 6s, still going.")
    await form.get_by_role("button", name="Post comment").click()
    await form.locator("[role=status]", has_text="Thank you").wait_for()

    async def close(conn: Any) -> None:
        await conn.execute("UPDATE threads SET closed = 1 WHERE key = ?", (THREAD,))

    await daemon.store.write(close)
    page = await browser.new_page(viewport=PHONE)
    await page.add_init_script(SAFARI_13)
    await page.goto(page_for())
    await page.locator("#mailbridge", has_text="closed to new comments").wait_for()
    assert await page.locator("#mailbridge article").count() == 243


@pytest.mark.asyncio
async def test_the_fields_keep_their_edges_where_their_colour_cannot_be_computed(
    host: tuple[Running, Host], browser: Any
) -> None:
    """The fields' edge colour is color-mix(), which Safari before 16.2 (iOS 15) cannot
    compute: the whole border was dropped, and the form was fields without edges. A
    site's --mb-border that does not compute does the same in any browser."""
    _daemon, page_for = host
    page = await browser.new_page(viewport=PHONE)
    await page.goto(
        page_for(head="<style>#mailbridge { --mb-border: color-mix(nonsense); }</style>")
    )
    await page.locator("#mailbridge article").nth(242).wait_for()
    for part in ("input[name=author]", "input[name=email]", "textarea", "select", "form"):
        edge = await page.locator(f"#mailbridge {part}").evaluate(
            "e => [getComputedStyle(e).borderTopStyle, getComputedStyle(e).borderTopWidth]"
        )
        assert edge == ["solid", "1px"], part


@pytest.mark.asyncio
async def test_a_screen_reader_jumps_from_comment_to_comment(
    host: tuple[Running, Host], browser: Any
) -> None:
    """The comments had no headings: a screen reader could only read the thread line
    by line, names, dates and Reply buttons run together, or tab from Reply to Reply."""
    _daemon, page_for = host
    page = await shown(browser, page_for())
    # Each comment an article named by who wrote it and whom it answers, the name its
    # heading, a level deeper for each level of replies (h6 at most).
    conversation = page.locator("#mailbridge li", has=page.locator("#comment-2")).first
    await expect(conversation).to_match_aria_snapshot(
        """
        - article "Comment by Reader 001":
          - heading "Reader 001" [level=3]
          - time: Dec 24, 2012
          - paragraph: Hi Joseph,
          - button "Reply to Reader 001"
        - list:
          - listitem:
            - article "Reply by Reader 002 to Reader 001":
              - heading "Reader 002" [level=4]
              - time: Dec 24, 2012
            - list:
              - listitem:
                - article "Reply by Reader 003 to Reader 002":
                  - heading "Reader 003" [level=5]
                - list:
                  - listitem:
                    - article "Reply by Reader 004 to Reader 003":
                      - heading "Reader 004" [level=6]
        """
    )
    # The thread's comments, one heading each, under the widget's own "243 comments".
    widget = page.locator("#mailbridge")
    assert await widget.get_by_role("heading", level=2).inner_text() == "243 comments"
    authors = widget.locator("article").get_by_role("heading")
    assert await authors.count() == 243
    conversations = await widget.locator("section > ol > li").count()
    # Level 3: each conversation's first comment, and the form's "Leave a comment".
    assert await widget.get_by_role("heading", level=3).count() == conversations + 1


@pytest.mark.asyncio
async def test_the_thread_page_without_scripts_has_the_same_headings(
    host: tuple[Running, Host], browser: Any
) -> None:
    """The comments the thread page renders for readers without JavaScript had no
    headings either."""
    daemon, _page_for = host
    context = await browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = await context.new_page()
    host_, port = daemon.http_address
    await page.goto(f"http://{host_}:{port}/threads/{THREAD}")
    first = page.locator("article.comment").first
    await expect(first).to_match_aria_snapshot(
        """
        - article "Comment by Reader 001":
          - heading "Reader 001" [level=2]
          - link "2012-12-24"
          - paragraph: Hi Joseph,
          - article "Reply by Reader 002 to Reader 001":
            - heading "Reader 002" [level=3]
        """
    )
    await context.close()


# Each of the widget's targets (in its shadow root) with its size; links in a comment's
# text are inline, exempt (WCAG 2.5.8).
WIDGET_TARGETS = """() => [...document.getElementById("mailbridge").shadowRoot
    .querySelectorAll("button, input, select, textarea")]
  .filter(e => e.getClientRects().length)
  .map(e => { const r = e.getBoundingClientRect();
    return [e.textContent.trim() || e.name, r.width, r.height]; })"""


@pytest.mark.asyncio
async def test_every_target_of_the_widget_fits_a_thumb(
    host: tuple[Running, Host], browser: Any
) -> None:
    """Reply was 27 px tall on a blog's 16 px text, the fields 31 px, Post 38: under
    the 44 px a thumb needs, on the phones most comments are written on."""
    _daemon, page_for = host
    page = await browser.new_page(viewport=PHONE)
    await page.goto(page_for(thread=BIG))
    await page.locator("#mailbridge article").nth(199).wait_for()
    await page.locator("#mailbridge button.reply").nth(3).click()  # Cancel reply shows
    small = [t for t in await page.evaluate(WIDGET_TARGETS) if min(t[1:]) < 44]
    assert small == []
    seen = {t[0] for t in await page.evaluate(WIDGET_TARGETS)}
    assert {"Reply", "Post comment", "Cancel reply", "Show more comments"} <= seen
    # Not a longer thread for it: the next comment starts as close under a Reply as
    # it did under the 27 px button and its 16 px margin.
    gap = await page.locator("#mailbridge section").evaluate(
        """s => { const [one, two] = s.querySelectorAll("article");
          const top = e => e.getBoundingClientRect().top;
          return top(two) - top(one.querySelector(".reply")); }"""
    )
    assert gap <= 27 + 16 + 8, gap
