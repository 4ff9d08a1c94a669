"""The optional Akismet check (issue 10), against a local fake of Akismet's
comment-check endpoint (the real one needs the internet). The fake records what it
was sent; its answers follow Akismet's documented protocol: "true"/"false" bodies,
"X-akismet-pro-tip: discard", "invalid" with a debug header for a bad key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from flows import moderation_email, reply_notification
from support import THREAD, local_http, reply_address, reply_to_notification, smtp_send, started

from mailbridge.app import Running
from mailbridge.spam.rules import rule_score

READER = "reader002.4a549d@example.org"


class FakeAkismet:
    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def comment_check(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.seen.append(form)
        if form.get("api_key") != "test-key-123":
            return web.Response(text="invalid", headers={"X-akismet-debug-help": "bad key"})
        author, body = form["comment_author"], form["comment_content"]
        if "slow" in body:
            await asyncio.sleep(5)
        if "boom" in body:
            return web.Response(status=500, text="oops")
        if author == "viagra-test-123":  # Akismet's documented test author
            return web.Response(text="true", headers={"X-akismet-pro-tip": "discard"})
        if "ring the bell" in body:
            return web.Response(text="true")
        return web.Response(text="false")


@pytest_asyncio.fixture
async def akismet() -> AsyncIterator[tuple[FakeAkismet, str]]:
    fake = FakeAkismet()
    async with local_http("/1.1/comment-check", fake.comment_check) as base:
        yield fake, base


async def post(daemon: Running, author: str, body: str, **extra: Any) -> dict[str, Any]:
    host, port = daemon.http_address
    payload = {"author": author, "email": "someone@example.net", "body": body, **extra}
    async with (
        aiohttp.ClientSession(headers={"User-Agent": "TestBrowser/1.0"}) as session,
        session.post(f"http://{host}:{port}/api/threads/{THREAD}/comments", json=payload) as r,
    ):
        assert r.status == 202, await r.text()
        return dict(await r.json())


@pytest.mark.asyncio
async def test_akismet_is_one_more_signal_and_its_failures_lose_nothing(
    tmp_path: Path, akismet: tuple[FakeAkismet, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = akismet
    # 2 s: the fake runs on this event loop, which a loaded machine can stall for 0.5 s.
    spam = {"akismet_key": "test-key-123", "akismet_url": url, "akismet_timeout_seconds": 2.0}
    caplog.set_level(logging.WARNING, logger="mailbridge.spam.akismet")
    async with started(tmp_path, spam=spam) as daemon:
        assert (await post(daemon, "viagra-test-123", "Hello there."))["status"] == "spam"
        sent = fake.seen[-1]
        assert sent["comment_content"] == "Hello there." and sent["user_ip"] == "127.0.0.1"
        assert sent["user_agent"] == "TestBrowser/1.0" and sent["comment_type"] == "comment"
        assert sent["blog"] == daemon.settings.site.public_url
        assert sent["permalink"].startswith("http")
        assert "comment_author_email" not in sent  # not shared unless the operator says so
        # Akismet's "spam" sends to spam what the rules alone would have let wait...
        assert rule_score("Please ring the bell.").score < 0.5
        assert (await post(daemon, "Bell", "Please ring the bell."))["status"] == "spam"
        # ...and its "not spam" cannot clear what the rules call blatant.
        blatant = "Check out my channel!!! http://spam.example subscribe please"
        assert (await post(daemon, "Promo", blatant))["status"] == "spam"
        assert (await post(daemon, "Reader", "A fair point, thank you."))["status"] == "pending"
        # A slow or broken service: the comment is stored all the same, by the rules.
        for body in ("slow answer, please", "boom goes the service"):
            assert (await post(daemon, "Reader", body))["status"] == "pending"
    assert "Akismet unreachable (TimeoutError)" in caplog.text
    assert "Akismet answered 500" in caplog.text


@pytest.mark.asyncio
async def test_an_invalid_key_is_logged_and_the_rules_decide(
    tmp_path: Path, akismet: tuple[FakeAkismet, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = akismet
    caplog.set_level(logging.WARNING, logger="mailbridge.spam.akismet")
    async with started(tmp_path, spam={"akismet_key": "wrong", "akismet_url": url}) as daemon:
        assert (await post(daemon, "viagra-test-123", "Hello there."))["status"] == "pending"
    assert "Akismet answered 200 'invalid' (bad key)" in caplog.text
    assert "wrong" not in caplog.text  # the key itself is never logged
    assert fake.seen


@pytest.mark.asyncio
async def test_emailed_replies_are_not_sent_to_akismet(
    tmp_path: Path, akismet: tuple[FakeAkismet, str]
) -> None:
    fake, url = akismet
    async with started(tmp_path, spam={"akismet_key": "test-key-123", "akismet_url": url}) as d:
        note = await reply_notification(d)  # Ann's web comment: checked
        assert len(fake.seen) == 1
        reply = reply_to_notification(note, "Thanks, Ann: ring the bell for me.")
        response = await smtp_send(d, READER, reply_address(note), reply.as_bytes())
        assert response.startswith("250")
        await moderation_email(d, "Reader 002", 3)  # filed, waiting for the moderator
        assert len(fake.seen) == 1  # the emailed reply never went to Akismet
