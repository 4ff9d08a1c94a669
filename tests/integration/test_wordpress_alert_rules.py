"""The five WordPress alert rules docs/metrics.md prints, evaluated by ``promtool test
rules`` over scrapes of a daemon bridged to a real WordPress while it really fails: the
Application Password refused, WordPress down with a comment here waiting to go to it,
an answer the bridge cannot take. One scrape per minute of a clock the test moves (as
tests/integration/test_alert_rules.py does); each alert fires for its failure, the
others do not, and none once it ends. They were only checked by ``promtool check
rules``: whether they fired at all was never seen."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from alert_rules import JOB, Minutes, firing, promtool_program
from flows import post_comment
from scraping import samples, scrape
from support import FakeClock, free_port, make_settings, no_dmarc_zone, until
from wordpress_proxy import Proxy, a_post
from wordpress_site import Admin, Site

from mailbridge.app import Running, running

REASON = "mailbridge_wordpress_failing"
POLLED = "mailbridge_wordpress_last_poll_timestamp_seconds"
WAITING = "mailbridge_wordpress_pushes_waiting"


@pytest.fixture
def promtool() -> str:
    return promtool_program()


def bridged(
    tmp_path: Path, site: Site, url: str, slug: str, clock: FakeClock, **wordpress: Any
) -> contextlib.AbstractAsyncContextManager[Running]:
    settings = make_settings(
        tmp_path,
        wordpress={
            "site_url": url, "user": site.user, "app_password": site.app_password,
            "posts": [slug], "poll_seconds": 0.1, "requests_per_second": 100.0, **wordpress,
        },
    )  # fmt: skip
    return running(settings, clock=clock, resolver=no_dmarc_zone())


@contextlib.asynccontextmanager
async def serving(proxy: Proxy, port: int) -> AsyncIterator[None]:
    """The proxy to the real WordPress on ``port``: WordPress up while it serves."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def scraped(daemon: Running, name: str, labels: tuple[tuple[str, str], ...] = ()) -> float:
    return samples((await scrape(daemon))[2])[name][labels]


async def failing_for(daemon: Running, reason: str) -> bool:
    return await scraped(daemon, REASON, (("reason", reason),)) == 1


async def whole_poll_since(daemon: Running, moment: float) -> bool:
    """A poll read WordPress whole at ``moment`` or later (stored to the second), and the
    bridge fails no more."""
    got = samples((await scrape(daemon))[2])
    return got[POLLED][()] >= int(moment) and not any(got[REASON].values())


@pytest.mark.asyncio
async def test_credentials_and_failing_fire_while_the_application_password_is_refused(
    promtool: str, tmp_path: Path, wordpress_site: Site
) -> None:
    # A revoked Application Password: WordPress itself answers 401 at every poll.
    _post, slug = await a_post(Admin(wordpress_site), 2)
    clock = FakeClock()
    async with bridged(tmp_path, wordpress_site, wordpress_site.url, slug, clock,
                       app_password="abcd EFGH ijkl MNOP qrst UVWX") as daemon:  # fmt: skip
        minutes = Minutes(daemon, clock)
        await until("the refusal in /metrics", lambda: failing_for(daemon, "credentials"))
        await minutes.scrape(32)
        assert minutes.scrapes[-1][POLLED][JOB] == 0  # never read
    # The owner made a new password and set it (a restart): the thread is read.
    async with bridged(tmp_path, wordpress_site, wordpress_site.url, slug, clock) as daemon:
        minutes.daemon = daemon
        now = clock.now().timestamp()
        await until("a whole poll", lambda: whole_poll_since(daemon, now))
        await minutes.scrape(2)
    # Refused from minute 0 to 31, read at 32.
    firing(promtool, tmp_path, minutes, "MailbridgeWordPressCredentials", at=list(range(32)),
           not_at=[32, 33], labels={"job": "mailbridge", "reason": "credentials"})  # fmt: skip
    # Not passing by itself: for 30m met at minute 30.
    firing(promtool, tmp_path, minutes, "MailbridgeWordPressFailing",
           at=[30, 31], not_at=[*range(29), 32, 33], labels={})  # fmt: skip
    # Never read until minute 32 (0 if never: as long ago as can be).
    firing(promtool, tmp_path, minutes, "MailbridgeWordPressNotPolled",
           at=list(range(32)), not_at=[32, 33], labels={})  # fmt: skip
    firing(promtool, tmp_path, minutes, "MailbridgeWordPressBridgeError",
           at=[], not_at=list(range(34)))  # fmt: skip


@pytest.mark.asyncio
async def test_not_polled_and_pushes_waiting_fire_while_wordpress_is_down(
    promtool: str, tmp_path: Path, wordpress_site: Site
) -> None:
    # WordPress down (nothing answers at site_url) after the bridge read it, with a
    # comment made here waiting to go to it.
    _post, slug = await a_post(Admin(wordpress_site), 1)
    proxy, port = Proxy(wordpress_site.url), free_port()
    url = f"http://127.0.0.1:{port}"
    clock = FakeClock()
    async with bridged(tmp_path, wordpress_site, url, slug, clock) as daemon:
        async with serving(proxy, port):
            start = clock.now().timestamp()
            await until("a whole poll", lambda: whole_poll_since(daemon, start))
        minutes = Minutes(daemon, clock)  # its last poll at minute 0, or just before
        await post_comment(daemon, slug, author="Ed", email="ed@example.com",
                           body="A comment here, for WordPress too.")  # fmt: skip
        await until("WordPress down in /metrics", lambda: failing_for(daemon, "unreachable"))
        await minutes.scrape(32)
        assert minutes.scrapes[-1][WAITING][JOB] == 1
        async with serving(proxy, port):  # WordPress back
            now = clock.now().timestamp()
            await until("a whole poll", lambda: whole_poll_since(daemon, now))
            await until("the comment pushed", lambda: until_zero(daemon, WAITING))
            await minutes.scrape(2)
    # Down from minute 0: for 30m met at minute 30; back at 32.
    firing(promtool, tmp_path, minutes, "MailbridgeWordPressFailing",
           at=[30, 31], not_at=[*range(29), 32, 33], labels={})  # fmt: skip
    # Last read at minute 0 (a second before at most): 1800 s past it from minute 31.
    firing(promtool, tmp_path, minutes, "MailbridgeWordPressNotPolled",
           at=[31], not_at=[*range(30), 32, 33], labels={})  # fmt: skip
    # Waiting from minute 0: for 30m met at minute 30; pushed at 32.
    firing(promtool, tmp_path, minutes, "MailbridgeWordPressPushesWaiting",
           at=[30, 31], not_at=[*range(29), 32, 33])  # fmt: skip
    # Down is not a password refused.
    firing(promtool, tmp_path, minutes, "MailbridgeWordPressCredentials",
           at=[], not_at=list(range(34)))  # fmt: skip


async def until_zero(daemon: Running, name: str) -> bool:
    return await scraped(daemon, name) == 0


@pytest.mark.asyncio
async def test_bridge_error_fires_while_wordpress_sends_what_the_bridge_cannot_take(
    promtool: str, tmp_path: Path, wordpress_site: Site
) -> None:
    # A comment ID beyond the database's integers (a broken plugin or cache): the
    # bridge itself fails at every poll (test_wordpress_faults.py shows the status).
    post_id, slug = await a_post(Admin(wordpress_site), 1)
    odd = (
        f'[{{"id": {2**64}, "post": {post_id}, "parent": 0, "author_name": "Odd", '
        '"author_email": "odd@example.org", "content": {"raw": "Odd."}, '
        '"status": "approved", "date_gmt": "2026-01-01T00:00:00", "type": "comment"}]'
    )
    proxy, port = Proxy(wordpress_site.url), free_port()

    async def newest(request: web.Request) -> web.StreamResponse | None:
        if request.query.get("rest_route") != "/wp/v2/comments" or (
            request.method != "GET" or "include" in request.query
        ):
            return None
        proxy.faults.append(newest)  # every time, not once
        return web.Response(text=odd, content_type="application/json")

    clock = FakeClock()
    async with (
        serving(proxy, port),
        bridged(tmp_path, wordpress_site, f"http://127.0.0.1:{port}", slug, clock) as daemon,
    ):
        start = clock.now().timestamp()
        await until("a whole poll", lambda: whole_poll_since(daemon, start))
        minutes = Minutes(daemon, clock)
        await minutes.scrape()
        proxy.faults.append(newest)
        await until("the failure in /metrics", lambda: failing_for(daemon, "error"))
        await minutes.scrape(3)
        proxy.faults.clear()  # the plugin fixed
        now = clock.now().timestamp()
        await until("a whole poll", lambda: whole_poll_since(daemon, now))
        await minutes.scrape(2)
    firing(promtool, tmp_path, minutes, "MailbridgeWordPressBridgeError", at=[1, 2, 3],
           not_at=[0, 4, 5], labels={"job": "mailbridge", "reason": "error"})  # fmt: skip
