"""The old key of a thread whose WordPress post was renamed (bridges/wordpress/
renames.py) is sent on, 301, to its key now: the thread's page and its JSON, with the
link's query as it was sent, byte for byte, and never off the site."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from support import THREAD, import_seed, make_settings

from mailbridge.app import running
from mailbridge.bridges.wordpress import renames
from mailbridge.bridges.wordpress.client import WpPost


async def _renamed(daemon: object, new: str) -> None:
    """The seed thread renamed as the posts check renames it (renames.follow)."""

    async def work(conn: object) -> str | None:
        async with conn.execute("SELECT id FROM threads WHERE key = ?", (THREAD,)) as cur:  # type: ignore[attr-defined]
            (thread_id,) = await cur.fetchone()
        post = WpPost(7, new, "Renamed", "https://blog.example.org/renamed/", True)
        return await renames.follow(conn, int(thread_id), post)  # type: ignore[arg-type]

    assert await daemon.store.write(work) == THREAD  # type: ignore[attr-defined]


@pytest.mark.asyncio
@pytest.mark.parametrize("shape", ["/threads/{}", "/api/threads/{}/comments"])
async def test_an_old_keys_link_keeps_its_query_as_sent(tmp_path: Path, shape: str) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    async with running(settings) as daemon:
        await _renamed(daemon, "renamed-post")
        host, port = daemon.http_address
        base = f"http://{host}:{port}"
        # Encoded in the link: a line break, a '&' and a '#' that are data, not syntax.
        query = "?limit=20&utm_source=a%26b%23c&x=%0D%0ASet-Cookie:%20mb=1"
        async with (
            aiohttp.ClientSession() as session,
            session.get(base + shape.format(THREAD) + query, allow_redirects=False) as answer,
        ):
            assert answer.status == 301, await answer.text()
            assert answer.headers["Location"] == shape.format("renamed-post") + query
            assert "Set-Cookie" not in answer.headers
