"""The moderation email's HTML part on a phone, in light and dark mode (issue 10)."""

from __future__ import annotations

from typing import Any

import pytest
from flows import moderation_email, post_comment
from support import ROOT, html_body

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
