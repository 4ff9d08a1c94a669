"""One Chromium for the browser tests: Debian's, driven by Playwright, headless."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from programs import find_program

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """The browser; a module's requires_program mark has skipped it when chromium is missing."""
    chromium = find_program("chromium")
    assert chromium is not None
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            yield instance
        finally:
            await instance.close()


@pytest_asyncio.fixture
async def page(browser: Any) -> Any:
    return await browser.new_page()
