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
from support import THREAD, embedding_settings

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
