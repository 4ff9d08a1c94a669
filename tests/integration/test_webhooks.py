"""Signed webhooks (issue 11) against a real local receiver that checks every signature
with the Standard Webhooks algorithm written out here (HMAC-SHA256 over
"id.timestamp.body", base64, "v1," prefix; not the package the daemon signs with).
Retries after 500, a restart in the middle (each event delivered exactly once per
webhook-id), redirects never followed, a 4xx kept as a dead letter."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import pytest_asyncio
from aiohttp import web
from click.testing import CliRunner
from flows import approve, follow, moderation_email, post_comment
from support import local_http, moderation_links, started

from mailbridge.app import Running
from mailbridge.cli import cli

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
FAST = {"retry_base_seconds": 0.2, "retry_max_seconds": 0.4}


def verify(secret: str, headers: Any, body: bytes) -> bool:
    """The specification's check, independently of the standardwebhooks package."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > 300:
        return False
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1) for s in headers["webhook-signature"].split()]
    return any(v == "v1" and hmac.compare_digest(sig, expected) for v, sig in offered)


@dataclass
class Receiver:
    fail_first: int = 0  # answer 500 to this many requests first
    delay: float = 0.0  # seconds before answering
    answer: int = 200
    location: str = ""
    requests: list[str] = field(default_factory=list)  # webhook-id of every request
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> event
    bad_signatures: int = 0
    duplicates: int = 0  # an event accepted once already, delivered again
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        msg_id = request.headers["webhook-id"]
        self.requests.append(msg_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not verify(SECRET, request.headers, body):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=500)
        if self.answer != 200:
            return web.Response(status=self.answer, headers={"Location": self.location})
        if msg_id in self.accepted:
            self.duplicates += 1
        self.accepted[msg_id] = json.loads(body)
        return web.Response(status=204)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()
    async with local_http("/hooks", got.handle) as base:
        got.url = f"{base}/hooks"
        yield got


def hooks(url: str, *events: str) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"url": url, "secret": SECRET}
    if events:
        entry["events"] = list(events)
    return [entry]


async def until(check: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):  # bounded wait for the delivery worker
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def all_sent(daemon: Running, count: int) -> list[tuple[str, str, int, str | None]]:
    """The webhook rows once ``count`` of them are recorded sent (bounded wait)."""
    for _ in range(200):
        rows = await webhook_rows(daemon)
        if [r[1] for r in rows] == ["sent"] * count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"not all sent: {rows}")


async def webhook_rows(daemon: Running) -> list[tuple[str, str, int, str | None]]:
    async def work(conn: aiosqlite.Connection) -> list[tuple[str, str, int, str | None]]:
        async with conn.execute(
            "SELECT message_id, status, attempts, last_error FROM outbox "
            "WHERE kind = 'webhook' ORDER BY id"
        ) as cur:
            return [(str(a), str(b), int(c), d) for a, b, c, d in await cur.fetchall()]

    return await daemon.store.read(work)


@pytest.mark.asyncio
async def test_events_are_signed_and_retried_after_500(tmp_path: Path, receiver: Receiver) -> None:
    receiver.fail_first = 1
    async with started(tmp_path, webhooks=hooks(receiver.url), outbound=FAST) as daemon:
        comment = await post_comment(daemon, parent=2, body="Hello, hooks.")
        await approve(daemon, await moderation_email(daemon, "Ann"))
        await until(lambda: len(receiver.accepted) == 2)
        types = sorted(e["type"] for e in receiver.accepted.values())
        assert types == ["comment.approved", "comment.created"]
        event = next(iter(receiver.accepted.values()))
        assert event["data"]["comment"]["id"] == comment
        assert "ann@example.com" not in json.dumps(list(receiver.accepted.values()))
        assert receiver.bad_signatures == 0 and receiver.duplicates == 0
        assert len(receiver.requests) == 3  # one 500, then each event once
        rows = await all_sent(daemon, 2)
        assert {r[0] for r in rows} == set(receiver.accepted)


@pytest.mark.asyncio
async def test_a_restart_in_the_middle_delivers_each_event_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.fail_first = 10**6  # down for the first daemon's whole life
    settings = {"webhooks": hooks(receiver.url, "comment.created"), "outbound": FAST}
    async with started(tmp_path, **settings) as daemon:
        for n in range(3):
            await post_comment(daemon, parent=2, body=f"Event number {n}.")
        await until(lambda: len(receiver.requests) >= 3)
        assert receiver.accepted == {}
    receiver.fail_first = 0
    # The same data directory: the queued events survive the restart.
    async with started(tmp_path, **settings) as daemon:
        await until(lambda: len(receiver.accepted) == 3)
        await asyncio.sleep(0.5)  # time for a duplicate to show, if there were one
        bodies = sorted(e["data"]["comment"]["body"] for e in receiver.accepted.values())
        assert bodies == [f"Event number {n}." for n in range(3)]
        await all_sent(daemon, 3)
        assert receiver.duplicates == 0


@pytest.mark.asyncio
async def test_redirects_are_not_followed_and_4xx_is_a_dead_letter(
    tmp_path: Path, receiver: Receiver
) -> None:
    elsewhere = Receiver()
    async with local_http("/hooks", elsewhere.handle) as there:
        receiver.answer, receiver.location = 307, f"{there}/hooks"
        await _redirect_then_400(tmp_path, receiver, elsewhere)


async def _redirect_then_400(tmp_path: Path, receiver: Receiver, elsewhere: Receiver) -> None:
    settings = {"webhooks": hooks(receiver.url, "comment.created"), "outbound": FAST}
    async with started(tmp_path, **settings) as daemon:
        await post_comment(daemon, parent=2, body="Where does this go?")
        await until(lambda: len(receiver.requests) >= 2)  # retried, not followed
        assert elsewhere.requests == []
        [(_id, status, attempts, error)] = await webhook_rows(daemon)
        # Retried with no delay (FAST), so the row may be between attempts or in one.
        assert status in {"queued", "sending"}, status
        assert attempts >= 1 and error and "not followed" in error
        receiver.answer = 400
        # The next attempt gets the 400 (one already under way may still get the 307),
        # and the worker records the row failed after it: wait for that (bounded).
        for _ in range(200):
            [(_id, status, _attempts, error)] = await webhook_rows(daemon)
            if status == "failed":
                break
            await asyncio.sleep(0.05)
        assert status == "failed" and error == "webhook: answered 400"
        shown = await asyncio.to_thread(
            CliRunner().invoke, cli, ["outbox", "--data-dir", str(daemon.settings.data_path)]
        )
        assert "webhook" in shown.output and "answered 400" in shown.output


def test_settings_refuse_unusable_webhooks(tmp_path: Path) -> None:
    from support import make_settings

    from mailbridge.errors import ConfigError

    good = {"url": "https://cms.example.org/h", "secret": SECRET}
    assert make_settings(tmp_path, webhooks=[good]).webhooks[0].events  # every event
    for bad, says in (
        ({**good, "url": "http://cms.example.org/h"}, "must be https"),
        ({**good, "secret": "whsec_c2hvcnQ="}, "secret"),
        ({**good, "secret": secrets.token_hex(32)}, "secret"),
        ({**good, "events": ["comment.eaten"]}, "unknown: comment.eaten"),
        ({**good, "colour": "blue"}, "unknown key 'colour'"),
    ):
        with pytest.raises(ConfigError, match=says):
            make_settings(tmp_path, webhooks=[bad])
    with pytest.raises(ConfigError, match="listed twice"):
        make_settings(tmp_path, webhooks=[good, good])


@pytest.mark.asyncio
async def test_a_deleted_comment_is_an_event(tmp_path: Path, receiver: Receiver) -> None:
    settings = {"webhooks": hooks(receiver.url, "comment.deleted"), "outbound": FAST}
    async with started(tmp_path, **settings) as daemon:
        comment = await post_comment(daemon, parent=2, body="Soon gone.")
        assert await daemon.service.delete(comment) is True
        await until(lambda: len(receiver.accepted) == 1)
        [event] = receiver.accepted.values()
        assert event["type"] == "comment.deleted" and event["data"]["comment"]["id"] == comment


@pytest.mark.asyncio
async def test_a_slow_endpoint_is_retried_and_blocks_nothing(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.delay = 2.0
    entry = {**hooks(receiver.url, "comment.created")[0], "timeout_seconds": 0.3}
    async with started(tmp_path, webhooks=[entry], outbound=FAST) as daemon:
        started_at = time.monotonic()
        await post_comment(daemon, parent=2, body="Is anyone there?")
        assert time.monotonic() - started_at < 1.5  # the form did not wait for the hook
        await until(lambda: len(receiver.requests) >= 1, seconds=5)
        for _ in range(100):
            rows = await webhook_rows(daemon)
            if rows and rows[0][3] and "TimeoutError" in rows[0][3]:
                break
            await asyncio.sleep(0.05)
        # Between attempts, or leased for the next one (the error stays until it ends).
        assert rows[0][1] in {"queued", "sending"} and "TimeoutError" in str(rows[0][3])
        receiver.delay = 0.0
        await until(lambda: len(receiver.accepted) == 1)
        await all_sent(daemon, 1)


@pytest.mark.asyncio
async def test_an_undone_approval_is_an_event(tmp_path: Path, receiver: Receiver) -> None:
    """A receiver that showed a comment on "comment.approved" hears when the approval is
    undone (it heard nothing, and kept showing it), and when one is marked spam."""
    events = ("comment.approved", "comment.unpublished")
    settings = {"webhooks": hooks(receiver.url, *events), "outbound": FAST}
    async with started(tmp_path, **settings) as daemon:
        comment = await post_comment(daemon, parent=2, body="Approved, then undone.")
        links = moderation_links(await moderation_email(daemon, "Ann"))
        status, page = await follow(daemon, links["approve"], "POST")
        undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
        assert status == 200 and undo is not None
        status, page = await follow(daemon, undo.group(1), "POST")
        assert status == 200 and "Undone" in page
        await follow(daemon, links["approve"], "POST")
        await follow(daemon, links["spam"], "POST")
        await until(lambda: len(receiver.accepted) == 4)
        # In order of the outbox rows (timestamps are to the second).
        said = [
            (e["type"], e["data"]["comment"]["status"])
            for msg_id in [r[0] for r in await all_sent(daemon, 4)]
            for e in [receiver.accepted[msg_id]]
        ]
        assert said == [
            ("comment.approved", "approved"),
            ("comment.unpublished", "pending"),
            ("comment.approved", "approved"),
            ("comment.unpublished", "spam"),
        ]
        assert {e["data"]["comment"]["id"] for e in receiver.accepted.values()} == {comment}


@pytest.mark.asyncio
async def test_the_log_names_the_endpoint_by_its_host_only(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # "outbox 5 <...> (webhook): sent via https://hooks.example/catch/1/s3cret" at each
    # event: an endpoint whose path or query is its key (a capability URL, ?token=)
    # had it written to the journal every time.
    caplog.set_level(logging.INFO, logger="mailbridge")
    url = f"{receiver.url}?token=capability-s3cret"
    async with started(tmp_path, webhooks=hooks(url), outbound=FAST) as daemon:
        await post_comment(daemon, parent=2, body="Hello, hooks.")
        await all_sent(daemon, 1)
    sent = [r.getMessage() for r in caplog.records if "(webhook): sent via" in r.getMessage()]
    host = receiver.url.split("/hooks")[0]
    assert sent and all(line.endswith(f"sent via {host}") for line in sent), sent
    assert "capability-s3cret" not in caplog.text and "/hooks" not in caplog.text
