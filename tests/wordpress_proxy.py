"""A real WordPress behind a small proxy of the test's, which injects the faults a real
site shows (tests/integration/test_wordpress_faults.py); a daemon bridged to it; or a
bridge of the test's own, whose rounds the test runs one at a time."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from support import (
    free_port,
    is_notification,
    make_settings,
    no_dmarc_zone,
    read_maildir,
    reply_address,
    reply_to_notification,
    smtp_send,
    until,
)
from wordpress_site import Admin, Site

from mailbridge.app import Running, running
from mailbridge.bridges.wordpress import WordPressBridge
from mailbridge.clock import Clock, SystemClock

Fault = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


@dataclass
class Proxy:
    """Forwards to the real WordPress; ``faults`` (first match wins, each used once)
    answer instead, or act around the forwarding."""

    target: str
    faults: list[Fault] = field(default_factory=list)
    per_page: str | None = None  # rewrites per_page, to get several pages from a few
    seen: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(f"{request.method} {request.path_qs}")
        for fault in list(self.faults):
            answer = await fault(request)
            if answer is not None:
                self.faults.remove(fault)
                return answer
        return await self.forward(request)

    async def forward(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        if self.per_page and "per_page" in query:
            query["per_page"] = self.per_page
        headers = {
            k: v for k, v in request.headers.items() if k in ("Authorization", "Content-Type")
        }
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.target + request.path, params=query, headers=headers,
                data=await request.read(),
            ) as answer,
        ):  # fmt: skip
            body = await answer.read()
            keep = {
                k: v for k, v in answer.headers.items()
                if k in ("Content-Type", "X-WP-Total", "X-WP-TotalPages")
            }  # fmt: skip
            return web.Response(status=answer.status, body=body, headers=keep)


@contextlib.asynccontextmanager
async def proxy_for(site: Site) -> AsyncIterator[tuple[Proxy, str]]:
    proxy = Proxy(site.url)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def answer(status: int, body: str, content_type: str, times: int = 1) -> list[Fault]:
    async def fault(request: web.Request) -> web.StreamResponse | None:
        return web.Response(status=status, text=body, content_type=content_type)

    return [fault for _ in range(times)]


async def a_post(admin: Admin, comments: int) -> tuple[int, str]:
    slug = "faults-" + secrets.token_hex(4)
    post = await admin.post(slug, "A post for faults")
    for n in range(comments):
        await admin.comment(
            post=post["id"], author_name=f"Reader {n}", author_email=f"r{n}@example.org",
            content=f"Comment number {n}.", status="approved",
        )  # fmt: skip
    return int(post["id"]), slug


def daemon_for(
    tmp_path: Path, site: Site, url: str, slug: str, **wordpress: Any
) -> contextlib.AbstractAsyncContextManager[Running]:
    settings = make_settings(
        tmp_path,
        wordpress={
            "site_url": url, "user": site.user, "app_password": site.app_password,
            "posts": [slug], "poll_seconds": 0.1, "requests_per_second": 100.0, **wordpress,
        },
    )  # fmt: skip
    return running(settings, resolver=no_dmarc_zone())


async def equals(value: Awaitable[Any], wanted: Any) -> bool:
    return bool(await value == wanted)


async def mail_to(daemon: Running, address: str) -> list[Any]:
    outbox = daemon.settings.data_path / "outbox"
    return [
        m for m in read_maildir(outbox)
        if is_notification(m) and m["To"].addresses[0].addr_spec == address
    ]  # fmt: skip


async def answered(
    admin: Admin,
    post_id: int,
    bridge: WordPressBridge,
    daemon: Running,
    author: str = "Reader 0",
    address: str = "r0@example.org",
) -> EmailMessage:
    """The owner answers ``author``'s comment in wp-admin; the notification it sends."""
    first = next(c for c in await admin.comments(post_id) if c["author_name"] == author)
    await admin.comment(
        post=post_id, parent=first["id"], author_name="Owner", author_email="owner@example.com",
        content="Thank you for reading.", status="approved",
    )  # fmt: skip
    await bridge.run_once()
    notes = await until(f"{author}'s notification", lambda: mail_to(daemon, address))
    return notes[0]


async def answer_by_email(
    daemon: Running, note: EmailMessage, words: str, sender: str = "r0@example.org"
) -> None:
    """``sender`` answers ``note`` by email with ``words``: taken (250) by mailbridge."""
    reply = reply_to_notification(note, words)
    code = await smtp_send(daemon, sender, reply_address(note), reply.as_bytes())
    assert code.startswith("250"), code


@contextlib.asynccontextmanager
async def bridge_for(
    tmp_path: Path,
    site: Site,
    url: str,
    slug: str,
    daemon: Running,
    clock: Clock | None = None,
    **wordpress: Any,
) -> AsyncIterator[WordPressBridge]:
    """A bridge to ``url`` for ``daemon`` (started without one): each round when the
    test says (``run_once``), so what one round does is seen whole; on ``clock`` if
    given (the bridge's own time: how long ago it mirrored or synced)."""
    settings = make_settings(
        tmp_path,
        wordpress={
            "site_url": url, "user": site.user, "app_password": site.app_password,
            "posts": [slug], **wordpress,
        },
    )  # fmt: skip
    bridge = WordPressBridge(settings, daemon.store, daemon.service, clock or SystemClock())
    try:
        yield bridge
    finally:
        await bridge.aclose()


@contextlib.asynccontextmanager
async def daemon_and_bridge(
    tmp_path: Path, site: Site, url: str, slug: str, clock: Clock | None = None, **wordpress: Any
) -> AsyncIterator[tuple[Running, WordPressBridge]]:
    """A daemon on the tests' defaults and a bridge for it run round by round (see
    :func:`bridge_for`)."""
    async with (
        running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon,
        bridge_for(tmp_path, site, url, slug, daemon, clock, **wordpress) as bridge,
    ):
        yield daemon, bridge
