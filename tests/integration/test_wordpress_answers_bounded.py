"""An answer at wordpress.site_url that never ends, or is huge: a plugin or theme
printing a page into the REST API's answer, a misconfigured proxy streaming. The
bridge read every answer whole into memory, for as long as it came: a 2 GB page took
the daemon's memory with it. Each answer is now bounded in size
(``wordpress.max_answer_mb``, counted as it arrives and after gzip) and in time
(``wordpress.timeout_seconds``, the body included): refused with a log line naming
the address (never the password), /metrics and ``mailbridge status`` saying why, and
the next poll, to a WordPress answering well again, mirrors as before.

The real WordPress is behind the tests' proxy (tests/wordpress_proxy.py), a local
aiohttp server, whose faults are the hostile answers.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import zlib
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner
from scraping import samples, scrape
from support import db_value, until
from wordpress_proxy import a_post, daemon_and_bridge, daemon_for, equals, proxy_for
from wordpress_site import Admin, Site

from mailbridge.bridges.wordpress.client import WordPressDown, WordPressTooLarge
from mailbridge.cli import cli

MB = 1_000_000


def _comments_get(request: web.Request) -> bool:
    return request.method == "GET" and request.query.get("rest_route") == "/wp/v2/comments"


class Hostile:
    """Answers GET /comments, once each, as a broken site would; counts what it sent."""

    bomb = b""

    def __init__(self) -> None:
        if not Hostile.bomb:  # made once, piece by piece: the test holds no 400 MB
            packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip
            spaces = b" " * MB
            parts = [packer.compress(b"[")]
            parts += [packer.compress(spaces) for _ in range(400)]
            Hostile.bomb = b"".join([*parts, packer.compress(b"]"), packer.flush()])
        self.sent = 0
        self.done = asyncio.Event()

    async def _stream(
        self, request: web.Request, response: web.StreamResponse, chunk: bytes, upto: int,
        pause: float = 0.0,
    ) -> web.StreamResponse:  # fmt: skip
        await response.prepare(request)
        try:
            while self.sent < upto:
                await response.write(chunk)
                self.sent += len(chunk)
                if pause:
                    await asyncio.sleep(pause)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the bridge hung up: what it was sent is counted
        finally:
            self.done.set()
        return response

    async def endless(self, request: web.Request) -> web.StreamResponse | None:
        """Chunked, no length, 400 MB at full speed: "forever" for the test's purpose."""
        if not _comments_get(request):
            return None
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        return await self._stream(request, response, b"[" + b" " * (MB - 1), 400 * MB)

    async def says_2gb(self, request: web.Request) -> web.StreamResponse | None:
        """A Content-Length of 2 GB, then the bytes, slowly."""
        if not _comments_get(request):
            return None
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "Content-Length": str(2000 * MB)}
        )
        return await self._stream(request, response, b" " * 65536, 2000 * MB, pause=0.01)

    async def gzip_bomb(self, request: web.Request) -> web.StreamResponse | None:
        """400 MB of JSON whitespace in a few hundred kB of gzip."""
        if not _comments_get(request):
            return None
        body = Hostile.bomb
        self.sent += len(body)
        self.done.set()
        return web.Response(
            body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    async def trickle(self, request: web.Request) -> web.StreamResponse | None:
        """A proxy that keeps the answer open, a few bytes at a time, without end."""
        if not _comments_get(request):
            return None
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        return await self._stream(request, response, b" ", 10**9, pause=0.05)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000  # kB on Linux


@pytest.mark.asyncio
async def test_huge_and_endless_answers_are_refused_and_polling_goes_on(
    tmp_path: Path,
    wordpress_site: Site,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = Admin(wordpress_site)
    _post, slug = await a_post(admin, 3)
    caplog.set_level(logging.WARNING, logger="mailbridge")
    async with (
        proxy_for(wordpress_site) as (proxy, url),
        daemon_and_bridge(
            tmp_path, wordpress_site, url, slug, max_answer_mb=1.0, timeout_seconds=3.0,
            requests_per_second=100.0,
        ) as (daemon, bridge),
    ):  # fmt: skip
        # The normal path, from the real WordPress: well under the bound.
        await bridge.run_once()
        assert await db_value(daemon, "SELECT count(*) FROM comments") == 3

        where = f"GET {url}/?rest_route=/wp/v2/comments: answered more than 1 MB"
        Hostile()  # the gzip bomb made before the peak is taken
        before = _peak_rss_mb()
        for make in ("endless", "says_2gb", "gzip_bomb"):
            hostile = Hostile()
            proxy.faults.append(getattr(hostile, make))
            with pytest.raises(WordPressTooLarge) as refused:
                await bridge.run_once()
            await asyncio.wait_for(hostile.done.wait(), 10)
            assert str(refused.value).startswith(where), (make, str(refused.value))
            assert "wordpress.max_answer_mb" in str(refused.value)
            # The bridge hung up near the bound: not hundreds of MB read, nor held.
            # (What the kernel's socket buffers took is the slack.)
            assert hostile.sent < 20 * MB, (make, hostile.sent)
            assert _peak_rss_mb() - before < 60, (make, _peak_rss_mb() - before)
            status, _type, text = await scrape(daemon)
            assert status == 200
            failing = samples(text)["mailbridge_wordpress_failing"]
            assert failing[(("reason", "too_large"),)] == 1, make
            assert failing[(("reason", "unreachable"),)] == 0, make
            if make == "says_2gb":  # refused at its Content-Length, nothing read
                assert "it said 2,000,000,000 bytes" in str(refused.value)

        # An answer that keeps coming, slowly: dropped at timeout_seconds.
        hostile = Hostile()
        proxy.faults.append(hostile.trickle)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(WordPressDown) as slow:
            await bridge.run_once()
        assert loop.time() - started < 3.0 + 2.0
        await asyncio.wait_for(hostile.done.wait(), 10)  # it saw the bridge hang up
        assert "no whole answer in 3 s (wordpress.timeout_seconds): it had begun" in str(slow.value)

        # mailbridge status says why, as the owner reads it.
        hostile = Hostile()
        proxy.faults.append(hostile.endless)
        with pytest.raises(WordPressTooLarge):
            await bridge.run_once()
        await asyncio.wait_for(hostile.done.wait(), 10)
        env = {
            "MAILBRIDGE_WORDPRESS_SITE_URL": url,
            "MAILBRIDGE_WORDPRESS_USER": wordpress_site.user,
            "MAILBRIDGE_WORDPRESS_APP_PASSWORD": wordpress_site.app_password,
        }
        data_dir = str(daemon.settings.data_path)
        down = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", data_dir], env=env
        )
        assert "FAILING since " in down.output, down.output
        assert where in down.output, down.output

        # WordPress answers well again: the next poll mirrors what came meanwhile.
        await admin.comment(
            post=_post, author_name="Reader 9", author_email="r9@example.org",
            content="Written while the proxy streamed.", status="approved",
        )  # fmt: skip
        await bridge.run_once()
        assert await db_value(daemon, "SELECT count(*) FROM comments") == 4
        status, _type, text = await scrape(daemon)
        assert samples(text)["mailbridge_wordpress_failing"][(("reason", "too_large"),)] == 0
        healthy = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", data_dir], env=env
        )
        assert "FAILING" not in healthy.output, healthy.output
    # Never the password, nor the header it travels in, in the log or in status.
    for text in (caplog.text, down.output):
        assert wordpress_site.app_password not in text
        assert "Basic " not in text


@pytest.mark.asyncio
async def test_the_daemon_logs_the_refusal_and_polls_again(
    tmp_path: Path,
    wordpress_site: Site,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = Admin(wordpress_site)
    _post, slug = await a_post(admin, 2)
    caplog.set_level(logging.WARNING, logger="mailbridge")
    async with proxy_for(wordpress_site) as (proxy, url):
        hostile = Hostile()
        proxy.faults.append(hostile.endless)
        async with daemon_for(tmp_path, wordpress_site, url, slug, max_answer_mb=1.0) as daemon:
            # Refused once; the bridge's own loop tries again after its backoff.
            await until(
                "mirrored after the refusal",
                lambda: equals(db_value(daemon, "SELECT count(*) FROM comments"), 2),
            )
    lines = [r.getMessage() for r in caplog.records if "answered more than" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"wordpress: GET {url}/?rest_route=/wp/v2/comments: answered more than 1 MB "
        "(wordpress.max_answer_mb; "
    ), lines[0]
    assert "; trying again in " in lines[0]
    assert hostile.sent < 20 * MB
    assert wordpress_site.app_password not in caplog.text
