"""The moderation email's HTML part on a phone, in light and dark mode (issue 10)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from contrast import LOW_CONTRAST
from flows import approve, moderation_email, outbox_dir, post_comment, reply_notification
from support import (
    AUTHOR_EMAIL,
    ROOT,
    html_body,
    read_maildir,
    reply_address,
    reply_to_notification,
    smtp_send,
    started,
    until,
)

from mailbridge.app import Running

pytestmark = [pytest.mark.browser, pytest.mark.requires_program("chromium", package="chromium")]

ARTIFACTS = ROOT / "test-artifacts"


@pytest.mark.asyncio
@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_moderation_email_reads_on_a_phone(
    daemon: Running, browser: Any, scheme: str
) -> None:
    long_word = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3
    await post_comment(daemon, parent=2, body=f"A *long* answer with {long_word} in it.")
    html = html_body(await moderation_email(daemon, "Ann"))
    page = await browser.new_page(viewport={"width": 390, "height": 844}, color_scheme=scheme)
    await page.set_content(html)
    # Nothing wider than the phone: no sideways scrolling to reach a button.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    for name in ("Approve", "Reject", "Spam", "Approve and trust this person"):
        button = page.get_by_role("link", name=name, exact=True)
        box = await button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390 and box["height"] >= 36
    colours = await page.evaluate(
        "[getComputedStyle(document.body).color, getComputedStyle(document.body).backgroundColor]"
    )
    text, background = colours
    assert text != background
    if scheme == "dark":
        assert background == "rgb(13, 17, 23)" and text == "rgb(230, 237, 243)"
    else:
        assert background == "rgb(255, 255, 255)"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(
        path=str(ARTIFACTS / f"moderation-email-phone-{scheme}.png"), full_page=True
    )


# What commenters write that a phone's 390 px cannot hold as it is: a name with no
# space to break at, a link longer than the screen, a code block's long line.
LONG_NAME = "Maximilian-Alexander-Konstantin-von-Hohenzollern-Sigmaringen"
WIDE = (
    "See https://example.com/" + "a-very-long-path-segment-without-spaces" * 4 + " first.\n\n"
    "```\nresult = some_function_call(argument_one, argument_two, argument_three, more)\n```"
)

# A first comment with a long link scores as spam (no moderation email): not the point here.
NO_SPAM_SCORE = {"enabled": False}


async def _digest_html(tmp_path: Path) -> str:
    moderation = {"mode": "digest", "digest_minutes": 0.02}
    async with started(tmp_path, moderation=moderation, spam=NO_SPAM_SCORE) as daemon:
        await post_comment(daemon, parent=2, author=LONG_NAME, body=WIDE)
        await post_comment(daemon, parent=2, body="A second one, short.")

        async def digest() -> list[EmailMessage]:
            return [
                m
                for m in read_maildir(outbox_dir(daemon))
                if "2 new comments await" in str(m["Subject"])
            ]

        [found] = await until("the digest", digest, seconds=20)
        return html_body(found)


@pytest.mark.asyncio
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("kind", ["moderation email", "digest"])
async def test_long_names_links_and_code_stay_within_a_phone(
    tmp_path: Path, browser: Any, scheme: str, kind: str
) -> None:
    # A code block's line or a long name made the whole email 900-1,100 px wide: the
    # phone's mail app zoomed it out to fit, every line of it too small to read.
    if kind == "digest":
        html = await _digest_html(tmp_path)
    else:
        async with started(tmp_path, spam=NO_SPAM_SCORE) as daemon:
            await post_comment(daemon, parent=2, author=LONG_NAME, body=WIDE)
            html = html_body(await moderation_email(daemon, LONG_NAME))
    page = await browser.new_page(viewport={"width": 390, "height": 844}, color_scheme=scheme)
    await page.set_content(html)
    too_wide = await page.evaluate(
        "[...document.body.querySelectorAll('*')]"
        ".filter(e => e.getBoundingClientRect().right > 390).map(e => e.tagName)"
    )
    assert too_wide == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    # Nothing was cut to fit: the code line and the name are all there.
    text = await page.evaluate("document.body.innerText")
    assert "argument_three, more)" in text and LONG_NAME in text


@pytest.mark.asyncio
async def test_a_hebrew_comment_and_quote_read_right_to_left(tmp_path: Path, browser: Any) -> None:
    # Without dir="auto" a Hebrew comment was laid out left to right: aligned left,
    # its closing "!" and "?" shown at its start, a mixed line in the wrong order.
    hebrew = "תודה על המאמר! האם יש עוד?"
    async with started(tmp_path, spam=NO_SPAM_SCORE) as daemon:
        first = await post_comment(daemon, parent=2, author="מרים כהן", body=hebrew)
        await approve(daemon, await moderation_email(daemon, "מרים כהן"))
        await post_comment(daemon, parent=first, author="Bob", body="I agree with Miriam.")
        own = html_body(await moderation_email(daemon, "מרים כהן"))
        answer = html_body(await moderation_email(daemon, "Bob", count=3))
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.set_content(own)
    said = page.get_by_text(hebrew, exact=True)
    assert await said.evaluate("e => getComputedStyle(e).direction") == "rtl"
    # The name is isolated: its direction does not reorder " <address> wrote ...".
    name = page.get_by_text("מרים כהן", exact=True)
    assert await name.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
    await page.set_content(answer)
    quoted = page.locator("blockquote")
    assert await quoted.evaluate("e => getComputedStyle(e).direction") == "rtl"
    name = page.get_by_text("מרים כהן", exact=True)
    assert await name.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"


@pytest.mark.asyncio
async def test_every_part_of_the_moderation_email_reads_in_dark_mode(
    daemon: Running, browser: Any
) -> None:
    # The quoted comment it answers and the attachments line kept their light-mode
    # grey (#656d76) on the dark background: 3.6:1, the context hard to read at night.
    note = await reply_notification(daemon)
    reply = reply_to_notification(note, "Here is the photo I mentioned.")
    reply.add_attachment(
        b"\x89PNG\r\n\x1a\n" + b"\0" * 2048, maintype="image", subtype="png", filename="garden.png"
    )
    answer = await smtp_send(
        daemon, "reader002.4a549d@example.org", reply_address(note), bytes(reply)
    )
    assert answer.startswith("250")
    html = html_body(await moderation_email(daemon, "Reader 002", 3))
    assert "garden.png" in html and "<blockquote" in html and "What was cut" in html
    for scheme in ("light", "dark"):
        page = await browser.new_page(viewport={"width": 390, "height": 844}, color_scheme=scheme)
        await page.set_content(html)
        assert await page.evaluate(LOW_CONTRAST) == [], scheme


async def commenter_notification(tmp_path: Path, bodies: list[str], marker: str) -> EmailMessage:
    """What reader 002 is sent when ``bodies`` answer their comment: a notification for
    one, a digest of them for more (their batching window open); the one with ``marker``."""
    window = {"batch_window_seconds": 1 if len(bodies) > 1 else 0}
    async with started(tmp_path, spam=NO_SPAM_SCORE, notifications=window) as daemon:
        for n, body in enumerate(bodies):
            await post_comment(daemon, parent=2, body=body)
            await approve(daemon, await moderation_email(daemon, "Ann", n + 1))

        async def told() -> list[EmailMessage]:
            return [
                m
                for m in read_maildir(outbox_dir(daemon))
                if m["To"].addresses[0].addr_spec == "reader002.4a549d@example.org"
                and marker in html_body(m)
            ]

        [notification] = await until("the notification", told, seconds=20)
    return notification


@pytest.mark.asyncio
@pytest.mark.parametrize("batched", [False, True])
async def test_a_reply_notification_stays_within_a_phone(
    tmp_path: Path, browser: Any, batched: bool
) -> None:
    # The commenter told of an answer reads it on their phone too: a long link or a
    # code line in the answer made their notification (or digest) 900 px wide.
    bodies = [WIDE, "And a short one."] if batched else [WIDE]
    notification = await commenter_notification(tmp_path, bodies, "argument_three")
    assert ("2 new comments" in html_body(notification)) is batched
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.set_content(html_body(notification))
    too_wide = await page.evaluate(
        "[...document.body.querySelectorAll('*')]"
        ".filter(e => e.getBoundingClientRect().right > 390).map(e => e.tagName)"
    )
    assert too_wide == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.asyncio
@pytest.mark.parametrize("batched", [False, True])
async def test_the_commenter_s_notification_reads_in_dark_mode(
    tmp_path: Path, browser: Any, batched: bool
) -> None:
    """The moderation emails had a dark scheme; what commenters get did not: a white
    page at night, its grey lines and links meant for white."""
    bodies = ["See [the study](https://example.org/study) on this.", "Thank you, both."]
    notification = await commenter_notification(
        tmp_path, bodies if batched else bodies[:1], "the study"
    )
    html = html_body(notification)
    assert ("2 new comments" in html) is batched
    page = await browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    await page.set_content(html)
    assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == (
        "rgb(13, 17, 23)"
    )
    assert await page.evaluate(LOW_CONTRAST) == []
    link = page.get_by_role("link", name="the study")
    assert await link.evaluate("e => getComputedStyle(e).color") == "rgb(108, 182, 255)"


# What each email's reader taps: the links drawn as buttons.
BUTTONS = """[...document.querySelectorAll("a")]
  .filter(a => getComputedStyle(a).display === "inline-block")
  .map(a => [a.textContent.trim(), a.getBoundingClientRect().height])"""


def raw_html_parts(daemon: Running) -> dict[str, bytes]:
    """Each email in the Maildir by subject: its HTML part as the mail app gets it
    (the bytes once the transfer encoding is undone; no parsing of the HTML)."""
    found = {}
    for path in sorted((outbox_dir(daemon) / "new").iterdir()):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/html":
                found[str(message["Subject"])] = part.get_payload(decode=True)
    return found


@pytest.mark.asyncio
async def test_every_email_says_its_language_and_its_buttons_fit_a_thumb(
    tmp_path: Path, browser: Any
) -> None:
    """No email's <html> named its language: a screen reader on a phone set to another
    language read the whole email in that language's voice; then every one said "en",
    a French blog's too (site.language). The privacy link's button was 43 px tall and
    the spam report's 40, under the 44 px a thumb needs. Every text reads in light and
    dark mode."""
    kinds = ("awaits moderation", "Confirm:", "Re: ", "went to spam", "Your data", "queue")
    french = {"language": "fr-CA"}
    async with started(tmp_path, spam={"report_hours": 0.0004}, site=french) as daemon:
        await post_comment(daemon, parent=2, body="Thank you.", notify="replies")
        await approve(daemon, await moderation_email(daemon, "Ann"))
        await post_comment(daemon, author="Spammer", body="Check out my channel!!! "
                           "http://spam.example/watch subscribe please")  # fmt: skip
        host, port = daemon.http_address
        async with aiohttp.ClientSession() as session:
            for path, address in (("/privacy", "ann@example.com"), ("/moderate", AUTHOR_EMAIL)):
                async with session.post(f"http://{host}:{port}{path}", data={"email": address}):
                    pass

        async def every_kind() -> dict[str, bytes] | None:
            parts = raw_html_parts(daemon)
            return parts if all(any(k in s for s in parts) for k in kinds) else None

        parts = await until("every kind of email", every_kind, seconds=20)
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    for subject, html in parts.items():
        assert html.splitlines()[1].startswith(b'<html lang="fr-CA">'), subject
        await page.set_content(html.decode())
        for text, height in await page.evaluate(BUTTONS):
            assert height >= 44, (subject, text, height)
    # Every text reads in dark mode too: the sign-in email's grey line ("The link works
    # for 15 minutes") kept its light-mode #656d76 on the dark canvas, 3.5:1.
    for scheme in ("light", "dark"):
        page = await browser.new_page(viewport={"width": 390, "height": 844}, color_scheme=scheme)
        for subject, html in parts.items():
            await page.set_content(html.decode())
            assert await page.evaluate(LOW_CONTRAST) == [], (scheme, subject)
            # Dark in dark mode, each of them: the confirmation and the notification
            # a commenter gets were white pages at night.
            lightness = await page.evaluate(BODY_LIGHTNESS)
            assert (lightness < 0.1) is (scheme == "dark"), (scheme, subject)


# The body's background as relative luminance, 0 (black) to 1 (white).
BODY_LIGHTNESS = """(() => { const [r, g, b] = getComputedStyle(document.body).backgroundColor
    .match(/[\\d.]+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; })()"""


def test_every_html_email_template_names_the_site_s_language_and_can_be_dark() -> None:
    """The emails the test above cannot make in one run (digests, a refusal) too."""
    for template in sorted((ROOT / "templates" / "email").glob("*.html.j2")):
        text = template.read_text()
        assert '<html lang="{{ language }}">' in text.splitlines()[1], template.name
        assert '<meta name="color-scheme" content="light dark">' in text, template.name
        assert "@media (prefers-color-scheme: dark)" in text, template.name


@pytest.mark.asyncio
async def test_the_digest_s_buttons_say_whose_comment_they_decide(
    tmp_path: Path, browser: Any
) -> None:
    """A screen reader's list of links read "Approve, Reject, Spam, Approve, Reject,
    Spam": nothing said which comment each decided. And they were 40 px tall."""
    html = await _digest_html(tmp_path)
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.set_content(html)
    for author in (LONG_NAME, "Ann"):
        for name in (f"Approve the comment by {author}", f"Reject the comment by {author}",
                     f"Mark the comment by {author} as spam"):  # fmt: skip
            assert await page.get_by_role("link", name=name, exact=True).count() == 1, name
    for text, height in await page.evaluate(BUTTONS):
        assert height >= 44, (text, height)


@pytest.mark.asyncio
async def test_the_spam_report_reads_an_arabic_comment_right_to_left(
    tmp_path: Path, browser: Any
) -> None:
    """A comment in another script than its post is the spam report's likeliest rescue
    (the score counts the script), and the report laid it out left to right: its "!"
    at its start, its link in the middle, the name unisolated ("نور on “Post”")."""
    arabic = "شكرا جزيلا على هذا المقال! http://spam.example/watch"
    async with started(tmp_path, spam={"report_hours": 0.0004}) as daemon:  # every 1.4 s
        await post_comment(daemon, author="نور الهدى", email="noor@example.net", body=arabic)

        async def report() -> bytes | None:
            parts = raw_html_parts(daemon) if (outbox_dir(daemon) / "new").exists() else {}
            return next((h for s, h in parts.items() if "went to spam" in s), None)

        html = await until("the spam report", report, seconds=20)
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.set_content(html.decode())
    said = page.get_by_text("شكرا جزيلا", exact=False).last
    assert await said.evaluate("e => getComputedStyle(e).direction") == "rtl"
    name = page.get_by_text("نور الهدى", exact=True)
    assert await name.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
