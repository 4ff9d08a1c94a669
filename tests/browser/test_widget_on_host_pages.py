"""The widget on the pages real blogs serve, at a phone's width, in a real browser.

Each host page is served by a second HTTP server on another port of 127.0.0.1 (another
origin than mailbridge's), with the markup and headers a real blog sends: a strict
Content-Security-Policy, a dark theme of its own. The comments are the seed thread's
and a few published here as a hostile or a right-to-left commenter writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flows import post_comment
from support import (
    BIG,
    THREAD,
    db_rows,
    embedding_settings,
)

from mailbridge.app import Running
from mailbridge.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.requires_program("chromium", package="chromium")]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# A page's own strict policy: its scripts and styles from known places, no inline style.
STRICT_CSP = (
    "default-src 'self'; script-src {api}; connect-src {api}; style-src 'self'; img-src 'self'"
)

Host = Callable[..., str]  # the host fixture's page maker (tests/browser/conftest.py)


@pytest.fixture
def settings(tmp_path: Path, host_port: int) -> Settings:
    return embedding_settings(tmp_path, host_port)


async def published(daemon: Running, author: str, body: str) -> int:
    """A comment by ``author`` published in the seed thread (as a moderator would)."""
    comment = await post_comment(daemon, author=author, body=body)

    async def work(conn: Any) -> None:
        await conn.execute("UPDATE comments SET status = 'approved' WHERE id = ?", (comment,))

    await daemon.store.write(work)
    return comment


async def phone(browser: Any, url: str, comments: int = 243) -> Any:
    page = await browser.new_page(viewport=PHONE)
    await page.goto(url)
    await page.locator("#mailbridge article").nth(comments - 1).wait_for()
    return page


@pytest.mark.asyncio
async def test_show_more_tapped_twice_shows_each_comment_once(
    host: tuple[Running, Host], browser: Any
) -> None:
    """A double tap on "Show more comments" (a phone's impatient reader) asked for the
    same page twice and showed its 200 comments twice."""
    _daemon, page_for = host
    page = await phone(browser, page_for(thread=BIG), 200)
    asked: list[Any] = []
    page.on("request", lambda r: asked.append(r) if "after=" in r.url else None)
    more = page.get_by_role("button", name="Show more comments")
    await more.dblclick()
    articles = page.locator("#mailbridge article")
    await articles.nth(399).wait_for()
    for request in asked:  # every page asked for has been answered and shown
        assert await (await request.response()).finished() is None
    await more.wait_for()
    await page.evaluate("() => new Promise(requestAnimationFrame)")
    ids = await articles.evaluate_all("es => es.map(e => e.id)")
    assert len(ids) == 400 and len(set(ids)) == 400
    # Announced where the reader is (a live region beside the button), and once.
    said = page.locator("#mailbridge [role=status]", has_text="more comments shown")
    await said.wait_for()
    assert await said.inner_text() == "200 more comments shown above."


# What has the keyboard's focus, inside the widget's shadow root too: its id or text.
FOCUS = """() => { let e = document.activeElement;
  while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
  return e ? e.id || e.textContent : null; }"""


@pytest.mark.asyncio
async def test_show_more_pressed_with_the_keyboard_keeps_the_focus(
    host: tuple[Running, Host], browser: Any
) -> None:
    """Enter on "Show more comments" disabled the button while the page came, which
    took the keyboard's focus from it: the next Enter did nothing and Tab started again
    at the top of the page. The last page hides the button: the focus goes on."""
    _daemon, page_for = host
    page = await phone(browser, page_for(thread=BIG), 200)
    more = page.get_by_role("button", name="Show more comments")
    await more.focus()
    articles = page.locator("#mailbridge article")
    for shown in range(400, 1201, 200):  # bounded: five more pages of 50 conversations
        await page.keyboard.press("Enter")
        await articles.nth(shown - 1).wait_for()
        await page.evaluate("() => new Promise(requestAnimationFrame)")
        if shown < 1200:  # still on the button: Enter again asks for the next page
            assert await page.evaluate(FOCUS) == "Show more comments"
    # The last page hid the button: the focus is on the first comment it brought.
    assert await more.is_hidden()
    assert await page.evaluate(FOCUS) == await articles.nth(1000).get_attribute("id")


@pytest.mark.asyncio
async def test_cancel_reply_goes_back_to_the_comment_the_reader_was_at(
    host: tuple[Running, Host], browser: Any
) -> None:
    """Cancel put the form back above the comments and focused its comment field: on a
    phone the page jumped screens up from the comment being read, and a keyboard or
    screen reader user was sent back to the top of the thread."""
    _daemon, page_for = host
    page = await phone(browser, page_for())
    far = page.locator("#mailbridge article").nth(150)
    reply = far.locator(":scope > button.reply")
    await reply.click()
    await page.get_by_role("button", name="Cancel reply").click()
    assert await page.locator("#mailbridge section > div > form").count() == 1  # home again
    assert await page.evaluate(FOCUS) == "Reply"
    assert await reply.evaluate("e => e.matches(':focus')")
    assert await far.evaluate(IN_VIEW)


@pytest.mark.asyncio
async def test_a_page_with_a_strict_csp_gets_a_styled_widget_and_no_visible_trap(
    host: tuple[Running, Host], browser: Any
) -> None:
    """A blog whose Content-Security-Policy allows no inline style (style-src 'self',
    common) blocked the widget's <style>: the comments came unstyled and the honeypot
    field showed, labelled "Leave this empty"; a commenter who filled it in was told
    "Thank you" and their comment was thrown away."""
    _daemon, page_for = host
    page = await browser.new_page(viewport=PHONE)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    await page.goto(page_for(headers={"Content-Security-Policy": STRICT_CSP}))
    await page.locator("#mailbridge article").nth(242).wait_for()
    assert not await page.locator("#mailbridge input[name=website]").is_visible()
    send = page.locator("#mailbridge button.send")
    assert await send.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(11, 92, 173)"
    assert refused == []


@pytest.mark.asyncio
async def test_the_widget_proves_when_it_showed_the_form_under_a_strict_csp(
    host: tuple[Running, Host], browser: Any
) -> None:
    """The form's time is the server's (a signed token the widget asks for as it shows
    the form), not the "elapsed" a robot could claim; a comment sent without the token
    counts as a client's that proves nothing, so a person's capitals, one weak signal,
    went to the spam folder if the widget did not send it."""
    daemon, page_for = host
    page = await browser.new_page(viewport=PHONE)
    asked: list[tuple[str, str]] = []
    page.on("request", lambda r: asked.append((r.method, r.url)) if "/form" in r.url else None)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    await page.goto(page_for(headers={"Content-Security-Policy": STRICT_CSP}))
    await page.locator("#mailbridge article").nth(242).wait_for()
    await page.get_by_label("Name (shown)").first.fill("Loud Lou")
    await page.get_by_label("Email (never shown)").first.fill("lou@example.com")
    await page.get_by_label("Comment", exact=True).first.fill("THANK YOU SO MUCH FOR WRITING THIS")
    await page.wait_for_timeout(2_100)  # people take a moment (docs/spam.md)
    await page.get_by_role("button", name="Post comment").click()
    await page.locator("#mailbridge form [role=status]", has_text="Thank you").wait_for()
    assert await db_rows(daemon, "SELECT status FROM comments WHERE author = 'Loud Lou'") == [
        ("pending",)
    ]
    # Asked for by POST (no cache keeps one), once, for this thread; nothing refused.
    api = daemon.settings.site.public_url
    assert asked == [("POST", f"{api}/api/threads/{THREAD}/form")]
    assert refused == []


WIDE = "document.documentElement.scrollWidth"


@pytest.mark.asyncio
async def test_long_lines_and_names_stay_within_a_phone(
    host: tuple[Running, Host], browser: Any
) -> None:
    """An 80-letter name without a space, a code block's long line, a long link: each
    made the whole blog page scroll sideways on a phone (2,356 px wide at 390)."""
    daemon, page_for = host
    long_name = await published(daemon, "W" * 80, "```\n" + "x = 1; " * 60 + "\n```")
    await published(daemon, "Link", "https://example.org/" + "a" * 300)
    page = await phone(browser, page_for(), 245)
    assert await page.evaluate(WIDE) <= PHONE["width"]
    # The reply form's heading names them: "Reply to WWW…" wraps too.
    await page.locator(f"#mailbridge #comment-{long_name} > button.reply").click()
    await page.locator(f"#mailbridge #comment-{long_name} form").wait_for()
    assert await page.evaluate(WIDE) <= PHONE["width"]
    await page.get_by_role("button", name="Cancel reply").click()
    # Replying to the deepest comment puts the form five levels in: it fits too.
    deepest = page.locator("#mailbridge " + "ol " * 6 + "article").first
    await deepest.locator(":scope > button.reply").click()
    await deepest.locator("form").wait_for()
    assert await page.evaluate(WIDE) <= PHONE["width"]


@pytest.mark.asyncio
async def test_right_to_left_names_and_comments_read_right(
    host: tuple[Running, Host], browser: Any
) -> None:
    """A Hebrew comment was laid out left to right (its closing "!" at the start of
    the sentence, as its reader sees it), and a Hebrew name pulled the date after it
    into its own run: "7 · אבי כהן Dec 2026" where the day comes first (en-GB)."""
    daemon, page_for = host
    comment = await published(daemon, "אבי כהן", "שלום לכולם! תודה על הפוסט.")
    page = await browser.new_page(viewport=PHONE, locale="en-GB")
    await page.goto(page_for())
    article = page.locator(f"#mailbridge #comment-{comment}")
    await article.wait_for()
    body = article.locator(".body p")
    assert await body.evaluate("e => getComputedStyle(e).direction") == "rtl"
    # The date stays to the right of the name, whole, as in every other comment.
    author, date = article.locator(".author"), article.locator("time")
    assert (await date.inner_text())[0].isdigit()
    name_right = await author.evaluate("e => e.getBoundingClientRect().right")
    date_boxes = await date.evaluate("e => Array.from(e.getClientRects(), r => r.left)")
    assert len(date_boxes) == 1 and date_boxes[0] > name_right
    # A left-to-right comment beside it stays left to right.
    other = page.locator("#mailbridge #comment-2 .body p").first
    assert await other.evaluate("e => getComputedStyle(e).direction") == "ltr"
    # mailbridge's own thread page, read without scripts, the same.
    host_, port = daemon.http_address
    plain = await browser.new_page(viewport=PHONE, java_script_enabled=False)
    await plain.goto(f"http://{host_}:{port}/threads/{THREAD}")
    body = plain.locator(f"#comment-{comment} > .body p")
    assert await body.evaluate("e => getComputedStyle(e).direction") == "rtl"


IN_VIEW = "e => { const r = e.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight }"
FOCUSED = """() => { let e = document.activeElement;
    while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
    return e ? e.name : null; }"""


@pytest.mark.asyncio
async def test_on_a_right_to_left_blog_replies_indent_from_the_right(
    host: tuple[Running, Host], browser: Any
) -> None:
    """On a Hebrew or Arabic blog (<html dir="rtl">) the replies were indented from the
    left, where their lines end, with the thread's line on that side too: each reply
    started where its parent started, and nothing showed what answered what."""
    _daemon, page_for = host
    rtl = "<script>Object.assign(document.documentElement, {dir: 'rtl', lang: 'he'})</script>"
    page = await phone(browser, page_for(head=rtl))
    top = page.locator("#mailbridge section > ol > li > article").first
    reply = page.locator("#mailbridge section > ol > li > ol > li > article").first
    edges = "e => [e.getBoundingClientRect().left, e.getBoundingClientRect().right]"
    (top_left, top_right), (reply_left, reply_right) = [
        await top.evaluate(edges),
        await reply.evaluate(edges),
    ]
    assert reply_right < top_right - 8  # indented from the start of an RTL line
    assert reply_left == top_left
    line = await page.locator("#mailbridge ol ol").first.evaluate(
        "e => [getComputedStyle(e).borderRightWidth, getComputedStyle(e).borderLeftWidth]"
    )
    assert line == ["2px", "0px"]


@pytest.mark.asyncio
async def test_a_refused_reply_says_why_beside_the_form_and_keeps_the_text(
    host: tuple[Running, Host], browser: Any
) -> None:
    """Replying to a comment far down the thread, a refusal ("email is not a usable
    email address") was written at the top of the comments, screens away: on a phone
    nothing seemed to happen. It shows in the form, the field at fault is marked and
    focused, and what was typed stays."""
    _daemon, page_for = host
    page = await phone(browser, page_for())
    target = page.locator("#mailbridge article").nth(200)
    await target.locator(":scope > button.reply").click()
    form = target.locator("form")
    await form.get_by_label("Name (shown)").fill("Phone Pat")
    await form.get_by_label("Email (never shown)").fill("pat@@example.com")
    await form.get_by_label("Comment", exact=True).fill("A long reply, typed with thumbs.")
    await form.get_by_role("button", name="Post comment").click()
    error = form.locator("[role=status]", has_text="usable email address")
    await error.wait_for()
    assert await error.evaluate(IN_VIEW)
    email = form.get_by_label("Email (never shown)")
    assert await email.get_attribute("aria-invalid") == "true"
    assert await page.evaluate(FOCUSED) == "email"
    assert await form.get_by_label("Comment", exact=True).input_value() == (
        "A long reply, typed with thumbs."
    )
    # Put right, it goes, and the field is no longer marked.
    await email.fill("pat@example.com")
    await form.get_by_role("button", name="Post comment").click()
    await form.locator("[role=status]", has_text="Thank you").wait_for()
    assert await email.get_attribute("aria-invalid") is None


# The contrast ratio (WCAG) of an element's text against what is behind it: the first
# background that is not transparent, up through the widget's shadow host to the page.
# Any CSS colour (lch() too) is read back as sRGB through a canvas pixel, alpha apart.
CONTRAST_OF = """e => {
  const pixel = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  const rgb = c => { const a = c.match(/[\\d.]+/g); pixel.clearRect(0, 0, 1, 1);
    pixel.fillStyle = c; pixel.fillRect(0, 0, 1, 1);
    const [r, g, b] = pixel.getImageData(0, 0, 1, 1).data;
    return c.startsWith("rgba") || / \\/ /.test(c) ? [r, g, b, +a[a.length - 1]] : [r, g, b]; };
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  let n = e, back = null;
  while (n && !back) {
    const b = rgb(getComputedStyle(n).backgroundColor);
    if (b.length < 4 || b[3] > 0) back = b;
    n = n.parentElement || (n.getRootNode() && n.getRootNode().host);
  }
  back = back || [255, 255, 255];
  // A colour with alpha (the muted text, the borders) is drawn over the background.
  const f = rgb(getComputedStyle(e)[PROPERTY]);
  const fore = f.length < 4 ? f : f.slice(0, 3).map((v, i) => v * f[3] + back[i] * (1 - f[3]));
  const [a, z] = [lum(fore), lum(back)].sort((x, y) => y - x);
  return (a + 0.05) / (z + 0.05);
}"""
CONTRAST = CONTRAST_OF.replace("[PROPERTY]", ".color")
# A field's edge, which shows where to tap and type: 3:1 at least (WCAG 1.4.11).
EDGE_CONTRAST = CONTRAST_OF.replace("[PROPERTY]", ".borderTopColor")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("head", "scheme"),
    [
        ("<style>body { background: #111; color: #eee; }</style>", "light"),  # a dark theme
        ("", "dark"),  # a plain light page, read on a phone in dark mode
    ],
)
async def test_the_widget_reads_on_the_page_s_own_colours(
    host: tuple[Running, Host], browser: Any, head: str, scheme: str
) -> None:
    """The widget took its colours from the reader's system setting, not from the page:
    black comments on a dark blog, white ones on a light blog read in dark mode."""
    _daemon, page_for = host
    page = await browser.new_page(viewport=PHONE, color_scheme=scheme)
    await page.goto(page_for(head=head))
    await page.locator("#mailbridge article").nth(242).wait_for()
    for part in (".body p", ".author", "time", "textarea", "h2", "label", "button.reply"):
        ratio = await page.locator(f"#mailbridge {part}").first.evaluate(CONTRAST)
        assert ratio >= 4.5, (part, ratio)
    # The fields' edges were the text colour at 18%: 1.5:1, a form of faint boxes.
    for part in ("input[name=author]", "input[name=email]", "textarea", "select"):
        ratio = await page.locator(f"#mailbridge {part}").evaluate(EDGE_CONTRAST)
        assert ratio >= 3, (part, ratio)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("head", "scheme"),
    [
        ("", "light"),
        ("<style>:root { color-scheme: light dark; }</style>", "dark"),  # the dark accent
        ("<style>#mailbridge { --mb-accent: #ffd33d; }</style>", "light"),  # a light one
    ],
)
async def test_the_post_button_reads_on_its_accent(
    host: tuple[Running, Host], browser: Any, head: str, scheme: str
) -> None:
    """White text on the dark scheme's accent, #6cb6ff (a page declaring color-scheme
    read in dark mode), or on a site's light accent, was 2.2:1 or less."""
    _daemon, page_for = host
    page = await browser.new_page(viewport=PHONE, color_scheme=scheme)
    await page.goto(page_for(head=head))
    send = page.locator("#mailbridge button.send")
    await send.wait_for()
    assert await send.evaluate(CONTRAST) >= 4.5


# What a reader who set their browser's text to 200% (32 px) meets: rem and em double.
LARGE_TEXT = "<style>html { font-size: 200%; }</style>"
NARROW = {"width": 320, "height": 700}


@pytest.mark.asyncio
async def test_large_text_on_a_narrow_phone_keeps_the_form_on_screen(
    host: tuple[Running, Host], browser: Any
) -> None:
    """Each field's column was at least 12rem (384 px at 200%): on a 320 px phone the
    fields and the Post button ran off the screen's edge."""
    _daemon, page_for = host
    page = await browser.new_page(viewport=NARROW)
    await page.goto(page_for(head=LARGE_TEXT))
    await page.locator("#mailbridge article").nth(242).wait_for()
    assert await page.evaluate(WIDE) <= NARROW["width"]
    for part in ("input[name=author]", "input[name=email]", "textarea", "select", "button.send"):
        right = await page.locator(f"#mailbridge {part}").evaluate(
            "e => e.getBoundingClientRect().right"
        )
        assert right <= NARROW["width"], part


@pytest.mark.asyncio
async def test_large_text_on_a_narrow_phone_leaves_deep_replies_room(
    host: tuple[Running, Host], browser: Any
) -> None:
    """Five levels of 1.75rem left a reply five deep 14 px of a 320 px phone at 200%
    text: a letter a line."""
    _daemon, page_for = host
    page = await browser.new_page(viewport=NARROW)
    await page.goto(page_for(head=LARGE_TEXT))
    await page.locator("#mailbridge article").nth(242).wait_for()
    deepest = page.locator("#mailbridge " + "ol " * 6 + "article").first
    width = await deepest.evaluate("e => e.getBoundingClientRect().width")
    assert width >= NARROW["width"] / 2
    # On a wide screen the levels still indent as before.
    await page.set_viewport_size(DESKTOP)
    indent = await page.locator("#mailbridge ol ol").first.evaluate(
        "e => parseFloat(getComputedStyle(e).marginLeft)"
    )
    assert indent == 32  # 1rem at 200%


@pytest.mark.asyncio
async def test_a_double_tap_on_post_makes_one_comment(
    host: tuple[Running, Host], browser: Any
) -> None:
    daemon, page_for = host
    page = await phone(browser, page_for())
    await page.get_by_label("Name (shown)").first.fill("Double Tap")
    await page.get_by_label("Email (never shown)").first.fill("tap@example.com")
    await page.get_by_label("Comment", exact=True).first.fill("Once, please.")
    await page.wait_for_timeout(2_100)  # people take a moment (docs/spam.md)
    await page.get_by_role("button", name="Post comment").dblclick()
    await page.locator("#mailbridge form [role=status]", has_text="Thank you").wait_for()
    await page.wait_for_load_state("networkidle")
    assert await db_rows(daemon, "SELECT count(*) FROM comments WHERE author = 'Double Tap'") == [
        (1,)
    ]


@pytest.mark.asyncio
async def test_a_closed_thread_says_so_instead_of_offering_the_form(
    host: tuple[Running, Host], browser: Any
) -> None:
    """On a thread closed to new comments the form was offered all the same: a reader
    typed a whole comment on their phone to be told "closed" only when sending it."""
    daemon, page_for = host

    async def close(conn: Any) -> None:
        await conn.execute("UPDATE threads SET closed = 1 WHERE key = ?", (THREAD,))

    await daemon.store.write(close)
    page = await phone(browser, page_for())
    await page.locator("#mailbridge", has_text="closed to new comments").wait_for()
    assert not await page.locator("#mailbridge form").is_visible()
    assert await page.locator("#mailbridge button.reply").count() == 0
    # The comments are all there to read.
    assert await page.locator("#mailbridge article").count() == 243


@pytest.mark.asyncio
async def test_the_script_in_the_page_s_head_still_fills_the_container(
    host: tuple[Running, Host], browser: Any
) -> None:
    """A theme that puts scripts in <head> ran the widget before <div id="mailbridge">
    existed: it found no container and gave up, silently (with async, only on the
    loads where mailbridge answered before the page was parsed)."""
    _daemon, page_for = host
    blocking = '<script src="{api}/embed.js" data-thread="' + THREAD + '"></script>'
    page = await phone(browser, page_for(head=blocking, script=""))
    assert await page.locator("#mailbridge h2").inner_text() == "243 comments"


@pytest.mark.asyncio
async def test_when_the_connection_drops_nothing_typed_is_lost_and_it_says_so_in_place(
    host: tuple[Running, Host], browser: Any
) -> None:
    """On a phone at the end of 200 comments, a "Show more comments" that failed (the
    train entered a tunnel) said so at the top of the comments, screens away: the
    button seemed to do nothing. A comment that could not be sent keeps its text."""
    _daemon, page_for = host
    page = await phone(browser, page_for(thread=BIG), 200)
    await page.route("**/api/threads/**", lambda route: route.abort("internetdisconnected"))
    more = page.get_by_role("button", name="Show more comments")
    await more.click()
    said = page.locator("#mailbridge [role=status]", has_text="not available")
    await said.wait_for()
    assert await said.evaluate(IN_VIEW)
    assert await more.is_enabled()  # to try again
    # A comment sent without a connection: said in the form, the text kept.
    await page.get_by_label("Name (shown)").first.fill("Tunnel Tom")
    await page.get_by_label("Email (never shown)").first.fill("tom@example.com")
    await page.get_by_label("Comment", exact=True).first.fill("Written on the train.")
    await page.get_by_role("button", name="Post comment").first.click()
    await page.locator("#mailbridge form [role=status]", has_text="no connection").wait_for()
    assert await page.get_by_label("Comment", exact=True).first.input_value() == (
        "Written on the train."
    )
    # Back in signal, "Show more" works.
    await page.unroute("**/api/threads/**")
    await more.click()
    await page.locator("#mailbridge article").nth(399).wait_for()


@pytest.mark.asyncio
async def test_a_comment_posted_with_the_keyboard_that_fails_leaves_the_focus_on_why(
    host: tuple[Running, Host], browser: Any
) -> None:
    """Enter on Post disables the button while the comment is sent, which takes the
    focus from it: when the sending failed with no field at fault (no connection, too
    many comments), the focus was left at the page's start, far from the message."""
    daemon, page_for = host
    page = await phone(browser, page_for())
    await page.get_by_label("Name (shown)").first.fill("Tunnel Tom")
    await page.get_by_label("Email (never shown)").first.fill("tom@example.com")
    await page.get_by_label("Comment", exact=True).first.fill("Written on the train.")
    for answer in ("no connection", "last hour"):
        if answer == "no connection":
            await page.route("**/comments", lambda route: route.abort("internetdisconnected"))
        else:  # a refusal naming no field (429): the same writer over their hourly limit
            await page.unroute("**/comments")
            for n in range(daemon.settings.limits.messages_per_sender_per_hour):
                await post_comment(daemon, email="tom@example.com", body=f"Number {n}.")
        await page.get_by_role("button", name="Post comment").focus()
        await page.keyboard.press("Enter")
        await page.locator("#mailbridge form [role=status].error", has_text=answer).wait_for()
        assert await page.evaluate(FOCUS) == "mb-note", answer
        assert await page.get_by_label("Comment", exact=True).first.input_value() == (
            "Written on the train."
        )


@pytest.mark.asyncio
async def test_the_thread_page_without_scripts_fits_a_phone(
    host: tuple[Running, Host], browser: Any
) -> None:
    """mailbridge's own thread page, read without scripts (its <noscript> comments): a
    code block's long line or a long name made it scroll sideways on a phone."""
    daemon, _page_for = host
    await published(daemon, "N" * 80, "```\n" + "y = 2; " * 60 + "\n```")
    host_, port = daemon.http_address
    page = await browser.new_page(viewport=PHONE, java_script_enabled=False)
    await page.goto(f"http://{host_}:{port}/threads/{THREAD}")
    await page.locator("article.comment pre").first.wait_for()
    assert await page.evaluate(WIDE) <= PHONE["width"]


@pytest.mark.asyncio
async def test_counts_fill_a_list_page_of_more_than_a_hundred_posts(
    host: tuple[Running, Host], browser: Any
) -> None:
    """An archive page listing 150 posts: count.js asked for the first 100 only (the
    API's limit per request) and left the other 50 empty."""
    _daemon, page_for = host
    spans = "".join(f'<span data-mailbridge-count="post-{n}"></span>' for n in range(149))
    spans += f'<span data-mailbridge-count="{THREAD}"></span>'
    page = await browser.new_page(viewport=PHONE)
    await page.goto(page_for(script=spans + '<script src="{api}/count.js" async></script>'))
    last = page.locator(f'[data-mailbridge-count="{THREAD}"]')
    await last.filter(has_text="243 comments").wait_for()
    counts = page.locator("[data-mailbridge-count]")
    assert await counts.evaluate_all("es => es.filter(e => !e.textContent).length") == 0


@pytest.mark.asyncio
async def test_a_page_that_requires_trusted_types_shows_the_comments(
    host: tuple[Running, Host], browser: Any
) -> None:
    """A page whose policy requires Trusted Types (require-trusted-types-for 'script',
    a strict CSP's usual companion) refused the widget's innerHTML of each comment's
    sanitised HTML: the first comment threw, and no comment showed."""
    _daemon, page_for = host
    policy = STRICT_CSP + "; require-trusted-types-for 'script'; trusted-types mailbridge"
    page = await browser.new_page(viewport=PHONE)
    await page.goto(page_for(headers={"Content-Security-Policy": policy}))
    await page.locator("#mailbridge article").nth(242).wait_for()
    assert await page.locator("#mailbridge #comment-2 .body p").count() >= 1


@pytest.mark.asyncio
async def test_a_canonical_address_on_another_origin_still_gets_the_page_its_thread(
    host: tuple[Running, Host], browser: Any
) -> None:
    """A post served at one origin whose <link rel="canonical"> names another (the site
    without "www.", or its https address behind a proxy): the widget sent that address,
    mailbridge refused it as not a page of the site that asks, and the post had no
    comments at all. The page's own address is sent instead; the key, made from the
    path, is the same from either origin."""
    daemon, page_for = host
    canonical = '<link rel="canonical" href="https://www.blog.example/posts/moved/">'
    page = await browser.new_page(viewport=PHONE)
    url = page_for(head=canonical, thread="")
    await page.goto(url)
    await page.locator("#mailbridge h2", has_text="0 comments").wait_for()
    [(found,)] = await db_rows(daemon, "SELECT url FROM threads WHERE url LIKE ?", "%/posts/%")
    assert found == url


@pytest.mark.asyncio
async def test_two_widgets_and_a_script_included_twice(
    host: tuple[Running, Host], browser: Any
) -> None:
    """Two threads on one page (data-target), and a theme that includes the script a
    second time for the first: each container filled once, each with its own thread."""
    _daemon, page_for = host
    scripts = (
        '<div id="second"></div>'
        '<script src="{api}/embed.js" data-thread="{thread}" async></script>'
        '<script src="{api}/embed.js" data-thread="{thread}" async></script>'
        f'<script src="{{api}}/embed.js" data-thread="{BIG}" data-target="second" async></script>'
    )
    page = await browser.new_page(viewport=PHONE)
    await page.goto(page_for(script=scripts))
    await page.locator("#mailbridge article").nth(242).wait_for()
    await page.locator("#second article").nth(199).wait_for()
    assert await page.locator("#mailbridge h2").inner_text() == "243 comments"
    assert await page.locator("#mailbridge article").count() == 243
    assert await page.locator("#second h2").inner_text() == "1200 comments"
    assert await page.locator("#mailbridge form").count() == 1
