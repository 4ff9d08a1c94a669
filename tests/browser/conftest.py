"""One Chromium for the browser tests: Debian's, driven by Playwright, headless."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from programs import find_program
from support import THREAD, big_thread, free_port, import_seed, no_dmarc_zone

from mailbridge.app import Running, running
from mailbridge.settings import Settings

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


Host = Callable[..., str]


@pytest.fixture
def host_port() -> int:
    return free_port()


@pytest_asyncio.fixture
async def host(
    settings: Settings, host_port: int, tmp_path: Path
) -> AsyncIterator[tuple[Running, Host]]:
    """mailbridge with the seed thread and the big thread, and ``page(head=..., thread=...,
    headers=...)``, which serves a blog post carrying the widget and returns its URL."""
    await import_seed(settings)
    await import_seed(settings, big_thread(tmp_path))
    pages: dict[str, tuple[str, dict[str, str]]] = {}
    api = settings.site.public_url

    def page(
        head: str = "",
        thread: str = THREAD,
        headers: dict[str, str] | None = None,
        script: str = '<script src="{api}/embed.js" data-thread="{thread}" async></script>',
    ) -> str:
        name = f"post-{len(pages)}"
        pages[name] = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>A post</title>{head.replace('{api}', api)}</head>"
            '<body><h1>A post</h1><div id="mailbridge"></div>'
            + script.format(api=api, thread=thread)
            + "</body></html>",
            {k: v.format(api=api) for k, v in (headers or {}).items()},
        )
        return f"http://127.0.0.1:{host_port}/posts/{name}/"

    async def serve(request: web.Request) -> web.Response:
        body, headers = pages[request.match_info["name"]]
        return web.Response(text=body, content_type="text/html", headers=headers)

    app = web.Application()
    app.router.add_get("/posts/{name}/", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", host_port).start()
    try:
        async with running(settings, resolver=no_dmarc_zone()) as daemon:
            yield daemon, page
    finally:
        await runner.cleanup()
