#!/usr/bin/env python3
"""Benchmark: reading a published thread, against a trivial handler with the same bytes.

In one process and one run, for the sample thread (243 comments) and a generated
5,000-comment thread (250 top-level comments with 19 replies each, so one page of
the default paging, conversations up to 300 comments, holds 15 of them), its JSON
(``json``: the API's first page) and its HTML page (``page``: ``/threads/{key}``,
paged the same way):

* ``cold``   -- the first GET after a start: the version row, the tree from SQLite,
  rendering every comment and encoding the JSON (both caches emptied each time);
* ``changed`` -- the first GET after a change (an approval): the same, but the
  per-process render cache already holds the other comments' HTML;
* ``repeat`` -- a GET of an unchanged thread: one indexed row, then cached bytes;
* ``304``    -- revalidation with If-None-Match;
* ``baseline`` -- a trivial aiohttp handler on the same loop returning the very same
  bytes (the floor for aiohttp on this machine).

Each line prints requests per second and the ratio to the baseline measured in the
same run. Real daemon (mailbridge.app.running) on 127.0.0.1 free ports, real aiohttp
client over one keep-alive connection; bounded by --seconds per measurement.

    .venv/bin/python bench/web_bench.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support import import_seed, make_settings, no_dmarc_zone  # noqa: E402

from mailbridge import render  # noqa: E402
from mailbridge.app import running  # noqa: E402

SEED = "attachment-theory-healing-relationship"
BIG = "generated-5000"


def big_thread(path: Path, top: int = 250, replies: int = 19) -> Path:
    comments: list[dict[str, Any]] = []
    next_id = 1
    text = (
        "A comment of ordinary length, with *some emphasis*, a link to "
        "https://example.org/page and a second paragraph.\n\nThanks for writing this."
    )
    for t in range(top):
        parent = next_id
        comments.append(
            {"id": parent, "parent": None, "depth": 0, "author": f"Reader {t}",
             "email": f"r{t}@example.org", "created": "2020-01-01T00:00:00+00:00",
             "body": f"{t}: {text}"}
        )  # fmt: skip
        next_id += 1
        for r in range(replies):
            comments.append(
                {"id": next_id, "parent": parent, "depth": 1, "author": f"Replier {r}",
                 "email": f"x{t}.{r}@example.org", "created": "2020-01-02T00:00:00+00:00",
                 "body": f"{t}.{r}: {text}"}
            )  # fmt: skip
            next_id += 1
    document = {
        "post": {"key": BIG, "title": "Generated", "author": "A", "email": "a@example.org",
                 "url": "https://blog.example.org/g/", "published": "2020-01-01T00:00:00+00:00",
                 "body": "."},
        "comments": comments,
    }  # fmt: skip
    file = path / "big.json"
    file.write_text(json.dumps(document))
    return file


async def rate(session: aiohttp.ClientSession, url: str, seconds: float, **kw: Any) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and done < 100_000:
        async with session.get(url, **kw) as resp:
            await resp.read()
        done += 1
    return done / (time.perf_counter() - start)


async def first_reads(
    session: aiohttp.ClientSession, url: str, clear: Any, seconds: float, cold: bool
) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and done < 10_000:
        clear()
        if cold:
            render.CACHE.clear()  # a cold start renders every comment again
        async with session.get(url) as resp:
            await resp.read()
        done += 1
    return done / (time.perf_counter() - start)


async def main(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp))
        await import_seed(settings)
        await import_seed(settings, big_thread(Path(tmp)))
        async with running(settings, resolver=no_dmarc_zone()) as daemon:
            host, port = daemon.http_address
            base = f"http://{host}:{port}"
            published = _published(daemon)
            print(f"{'thread':<16} {'what':<15} {'bytes':>9} {'req/s':>9} {'vs baseline':>12}")
            for key, kind in ((SEED, "json"), (SEED, "page"), (BIG, "json"), (BIG, "page")):
                url = (
                    f"{base}/api/threads/{key}/comments"
                    if kind == "json"
                    else f"{base}/threads/{key}"
                )
                headers = {"Accept-Encoding": "identity"}
                async with aiohttp.ClientSession(headers=headers) as session:
                    async with session.get(url) as resp:
                        body = await resp.read()
                        etag = resp.headers["ETag"]
                    baseline = await _baseline_rate(body, seconds)
                    cold = await first_reads(session, url, published.forget, seconds, True)
                    first = await first_reads(session, url, published.forget, seconds, False)
                    repeat = await rate(session, url, seconds)
                    not_modified = await rate(
                        session, url, seconds, headers={"If-None-Match": etag}
                    )
                for what, value in (("baseline", baseline), ("cold", cold), ("changed", first),
                                    ("repeat", repeat), ("304", not_modified)):  # fmt: skip
                    print(
                        f"{key[:16]:<16} {kind + ' ' + what:<15} {len(body):>9,} {value:>9.1f} "
                        f"{value / baseline:>11.3f}x"
                    )


def _published(daemon: Any) -> Any:
    """The running app's PublishedThreads (to empty its byte cache for first reads)."""
    import gc

    from mailbridge.web.published import PublishedThreads

    found = [o for o in gc.get_objects() if isinstance(o, PublishedThreads)]
    return found[-1]


async def _baseline_rate(body: bytes, seconds: float) -> float:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        headers = {"Accept-Encoding": "identity"}
        async with aiohttp.ClientSession(headers=headers) as session:
            return await rate(session, f"http://127.0.0.1:{port}/", seconds)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    asyncio.run(main(parser.parse_args().seconds))
