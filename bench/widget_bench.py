#!/usr/bin/env python3
"""Benchmark: the widget's first render in Chromium, against a bare innerHTML baseline.

For the sample thread (243 comments) and a generated 5,000-comment thread (its first
page: 15 conversations, 300 comments), each run loads a page from a second local
server (another origin, as a blog is) and waits until the last comment is in the
DOM. Two pages fetch the same JSON from the same mailbridge:

* ``widget``   -- the real tag: ``<script src=".../embed.js" data-thread=KEY>``
  (shadow DOM, form, Reply buttons, accessibility attributes);
* ``baseline`` -- an inline script that builds the nested HTML as one string from
  the JSON's ``html`` fields and assigns it with ``innerHTML`` (the least any
  client-side widget can do).

Prints the median milliseconds of --runs loads (default 7) and widget/baseline.
Needs Debian's chromium; talks only to 127.0.0.1.

    .venv/bin/python bench/widget_bench.py [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from programs import find_program  # noqa: E402
from support import free_port, import_seed, make_settings, no_dmarc_zone  # noqa: E402
from web_bench import BIG, SEED, big_thread  # noqa: E402

from mailbridge.app import running  # noqa: E402
from mailbridge.web.published import PAGE_COMMENTS  # noqa: E402

BASELINE = """<!doctype html><meta charset="utf-8"><title>baseline</title><div id="c"></div>
<script>
function tree(cs){return "<ol>"+cs.map(function(c){return "<li><article><b>"+c.author+
"</b>"+c.html+"</article>"+(c.replies.length?tree(c.replies):"")+"</li>"}).join("")+"</ol>"}
fetch("MB/api/threads/KEY/comments").then(function(r){return r.json()}).then(function(d){
document.getElementById("c").innerHTML=tree(d.comments)});
</script>"""
WIDGET = """<!doctype html><meta charset="utf-8"><title>widget</title><div id="mailbridge"></div>
<script src="MB/embed.js" data-thread="KEY" async></script>"""


async def main(runs: int) -> None:
    chromium = find_program("chromium")
    if chromium is None:
        sys.exit("needs chromium: apt-get install chromium")
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site_port, http_port = free_port(), free_port()
        origin = f"http://127.0.0.1:{site_port}"
        settings = make_settings(
            Path(tmp),
            http={"listen": f"127.0.0.1:{http_port}"},
            site={"public_url": f"http://127.0.0.1:{http_port}", "allowed_origins": [origin]},
        )
        await import_seed(settings)
        await import_seed(settings, big_thread(Path(tmp)))
        mb = f"http://127.0.0.1:{http_port}"

        async def page(request: web.Request) -> web.Response:
            template = WIDGET if request.match_info["kind"] == "widget" else BASELINE
            body = template.replace("MB", mb).replace("KEY", request.match_info["key"])
            return web.Response(text=body, content_type="text/html")

        app = web.Application()
        app.router.add_get("/{kind}/{key}", page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", site_port).start()
        try:
            async with running(settings, resolver=no_dmarc_zone()), async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=chromium, args=["--headless", "--no-sandbox"]
                )
                print(
                    f"{'thread':<16} {'comments':>8} {'baseline ms':>12} "
                    f"{'widget ms':>10} {'ratio':>7}"
                )
                # The big thread's first page: 20-comment conversations up to PAGE_COMMENTS.
                for key, shown in ((SEED, 243), (BIG, PAGE_COMMENTS // 20 * 20)):
                    timings: dict[str, list[float]] = {"baseline": [], "widget": []}
                    for _ in range(runs):
                        for kind in ("baseline", "widget"):
                            tab = await browser.new_page()
                            start = time.perf_counter()
                            await tab.goto(f"{origin}/{kind}/{key}")
                            await tab.locator("article").nth(shown - 1).wait_for(timeout=60_000)
                            timings[kind].append((time.perf_counter() - start) * 1000)
                            await tab.close()
                    base = statistics.median(timings["baseline"])
                    widget = statistics.median(timings["widget"])
                    print(
                        f"{key[:16]:<16} {shown:>8} {base:>12.1f} {widget:>10.1f} "
                        f"{widget / base:>6.2f}x"
                    )
                await browser.close()
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
