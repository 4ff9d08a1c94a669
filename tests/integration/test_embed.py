"""The widget's server side over real HTTP (issue 9): its scripts, threads created by the
pages of allowed sites only, CORS for those sites, and comment counts in one request."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support import THREAD, make_settings

from mailbridge.app import Running
from mailbridge.settings import Settings

SITE = "http://blog.localhost:1313"
OTHER = "http://evil.localhost:6666"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        site={"allowed_origins": [SITE], "thread_path_prefix": "/posts/"},
        limits={"threads_per_ip_per_hour": 3},
    )


def url(daemon: Running, path: str) -> str:
    host, port = daemon.http_address
    return f"http://{host}:{port}{path}"


async def ask_thread(
    daemon: Running, payload: dict[str, Any], origin: str | None = SITE
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if origin:
        headers["Origin"] = origin
    async with (
        aiohttp.ClientSession() as session,
        session.post(url(daemon, "/api/threads"), data=json.dumps(payload), headers=headers) as r,
    ):
        return r.status, await r.json(), dict(r.headers)


async def thread_keys(daemon: Running) -> set[str]:
    async def work(conn: Any) -> set[str]:
        async with conn.execute("SELECT key FROM threads") as cur:
            return {str(row[0]) for row in await cur.fetchall()}

    return set(await daemon.store.read(work))


@pytest.mark.asyncio
async def test_a_new_post_creates_its_thread_once(daemon: Running) -> None:
    page = {"url": f"{SITE}/posts/new-post/?ref=feed", "title": "A <em>new</em> post"}
    status, body, headers = await ask_thread(daemon, page)
    assert status == 201 and body["created"] is True
    assert headers["Access-Control-Allow-Origin"] == SITE
    key = body["key"]
    status, again, _ = await ask_thread(daemon, page)
    assert (status, again) == (200, {"key": key, "created": False})
    async with (
        aiohttp.ClientSession() as session,
        session.get(url(daemon, f"/api/threads/{key}/comments")) as r,
    ):
        thread = (await r.json())["thread"]
    assert thread == {
        "key": key,
        "title": "A new post",
        "url": f"{SITE}/posts/new-post/",
        "closed": False,
        "language": "en",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "origin", "status"),
    [
        ({"url": f"{OTHER}/posts/x/", "title": "X"}, OTHER, 403),
        ({"url": f"{SITE}/posts/x/", "title": "X"}, OTHER, 403),
        ({"url": f"{SITE}/posts/x/", "title": "X"}, None, 403),
        ({"url": f"{SITE}/about/", "title": "About"}, SITE, 403),
        ({"url": f"{SITE}/posts/../x/", "title": "X"}, SITE, 400),
        ({"url": f"{SITE}/posts/x/", "title": "<br>"}, SITE, 400),
        ({"url": f"{SITE}/posts/x/", "title": "X", "extra": 1}, SITE, 400),
        ({"url": f"{SITE}/posts/x/", "title": "X", "key": "Bad Key!"}, SITE, 400),
        # A lone surrogate in the path was a 500 (its key is a hash of the path).
        ({"url": f"{SITE}/posts/\ud800/", "title": "X"}, SITE, 400),
        ({"url": f"{SITE}/posts/a\x00b/", "title": "X"}, SITE, 400),
        ({"url": f"{SITE}/posts/a b/", "title": "X"}, SITE, 400),
    ],
)
async def test_refused_pages_get_a_json_reason_and_no_thread(
    daemon: Running, payload: dict[str, Any], origin: str | None, status: int
) -> None:
    before = await thread_keys(daemon)
    got, body, _ = await ask_thread(daemon, payload, origin)
    assert got == status and body["error"]
    assert await thread_keys(daemon) == before


@pytest.mark.asyncio
async def test_an_explicit_key_names_the_thread(daemon: Running) -> None:
    status, body, _ = await ask_thread(
        daemon, {"url": f"{SITE}/posts/a/", "title": "A", "key": THREAD}
    )
    assert (status, body["key"], body["created"]) == (200, THREAD, False)
    status, body, _ = await ask_thread(
        daemon, {"url": f"{SITE}/posts/a/", "title": "A", "key": "my-own-key"}
    )
    assert (status, body["key"]) == (201, "my-own-key")


@pytest.mark.asyncio
async def test_thread_creation_is_rate_limited_per_client(daemon: Running) -> None:
    codes = []
    for n in range(4):
        status, _, headers = await ask_thread(
            daemon, {"url": f"{SITE}/posts/p{n}/", "title": f"P{n}"}
        )
        codes.append(status)
    assert codes == [201, 201, 201, 429] and headers.get("Retry-After")


@pytest.mark.asyncio
async def test_preflight_is_answered_for_the_site_only(daemon: Running) -> None:
    async with aiohttp.ClientSession() as session:
        for origin, expected in ((SITE, 204), (OTHER, 403)):
            async with session.options(
                url(daemon, "/api/threads"),
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            ) as r:
                assert r.status == expected
                assert (r.headers.get("Access-Control-Allow-Origin") == SITE) is (origin == SITE)


@pytest.mark.asyncio
async def test_counts_for_many_threads_in_one_request(daemon: Running) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(
            url(daemon, f"/api/counts?thread={THREAD}&thread=nothing-here")
        ) as r:
            assert r.status == 200
            assert await r.json() == {"counts": {THREAD: 243, "nothing-here": 0}}
        async with session.get(url(daemon, "/api/counts")) as r:
            assert r.status == 400 and (await r.json())["field"] == "thread"


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["embed.js", "count.js"])
async def test_scripts_are_small_cacheable_and_self_contained(daemon: Running, name: str) -> None:
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(url(daemon, f"/{name}"), headers={"Accept-Encoding": "gzip"}) as r,
    ):
        assert r.status == 200 and r.content_type == "text/javascript"
        raw = await r.read()
        etag = r.headers["ETag"]
    assert r.headers["Content-Encoding"] == "gzip"
    assert len(raw) < 15 * 1024  # script and its CSS, compressed
    source = gzip.decompress(raw).decode()
    # No cookies and no third-party requests: only the server the script came from.
    assert "document.cookie" not in source and "localStorage" not in source
    assert (
        "http://" not in source.replace("http(s)", "")
        and "https://" not in source.split("*/", 1)[1]
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(url(daemon, f"/{name}"), headers={"If-None-Match": etag}) as r,
    ):
        assert r.status == 304
