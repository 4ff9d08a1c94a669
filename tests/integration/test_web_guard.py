"""The web door's limits: per client IP (proxies believed only when trusted), per person
and per thread shared with email, the honeypot, closed threads, and CORS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from support import THREAD, started

from mailbridge.app import Running

BODY = {"author": "Ann", "email": "ann@example.com", "body": "Hello there."}


async def post(
    daemon: Running,
    payload: dict[str, Any],
    headers: dict[str, str] | CIMultiDict[str] | None = None,
    thread: str = THREAD,
) -> tuple[int, dict[str, Any], Any]:
    host, port = daemon.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://{host}:{port}/api/threads/{thread}/comments", json=payload, headers=headers
        ) as resp,
    ):
        return resp.status, await resp.json(), resp.headers


@pytest.mark.asyncio
async def test_per_ip_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    async with started(tmp_path, limits={"web_comments_per_ip_per_hour": 2}) as daemon:
        for n in range(2):
            status, _body, _h = await post(daemon, {**BODY, "email": f"p{n}@example.com"})
            assert status == 202
        status, body, headers = await post(daemon, {**BODY, "email": "p9@example.com"})
        assert status == 429 and "Too many" in body["error"]
        assert 3500 <= int(headers["Retry-After"]) <= 3600


@pytest.mark.asyncio
async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    limits = {"web_comments_per_ip_per_hour": 1}
    async with started(tmp_path, limits=limits) as daemon:
        # Untrusted: a forged X-Forwarded-For does not buy a fresh allowance.
        for n, status in enumerate((202, 429)):
            got, _b, _h = await post(
                daemon,
                {**BODY, "email": f"u{n}@example.com"},
                {"X-Forwarded-For": f"203.0.113.{n}"},
            )
            assert got == status
    async with started(
        tmp_path / "2", limits=limits, http={"trusted_proxies": ["127.0.0.1"]}
    ) as daemon:
        # Behind our own proxy: each client is counted by the address the proxy saw.
        for n in range(3):
            got, _b, _h = await post(
                daemon,
                {**BODY, "email": f"t{n}@example.com"},
                {"X-Forwarded-For": f"198.51.100.7, 203.0.113.{n}"},
            )
            assert got == 202
        got, _b, _h = await post(
            daemon, {**BODY, "email": "t9@example.com"}, {"X-Forwarded-For": "203.0.113.0"}
        )
        assert got == 429


@pytest.mark.asyncio
async def test_a_proxy_adding_its_own_forwarded_for_line_is_not_fooled(tmp_path: Path) -> None:
    """A proxy may add its X-Forwarded-For as a header line of its own after the
    client's (HAProxy's "option forwardfor" does): only the first line was read, so a
    client sending one line of its own was counted (rate limits, the inbound log's and
    the webhook refusals' peer) as whatever address it wrote. All lines are read, in
    order, as one list."""
    limits = {"web_comments_per_ip_per_hour": 1}
    proxies = {"trusted_proxies": ["127.0.0.1"]}
    async with started(tmp_path, limits=limits, http=proxies) as daemon:
        statuses = []
        for n in range(2):
            headers: CIMultiDict[str] = CIMultiDict()
            headers.add("X-Forwarded-For", f"192.0.2.{n}")  # the client's, forged
            headers.add("X-Forwarded-For", "203.0.113.5")  # the proxy's: who it saw
            got, _b, _h = await post(daemon, {**BODY, "email": f"h{n}@example.com"}, headers)
            statuses.append(got)
        assert statuses == [202, 429]


@pytest.mark.asyncio
async def test_per_person_limit_is_shared_with_email_and_answers_429(tmp_path: Path) -> None:
    async with started(tmp_path, limits={"messages_per_sender_per_hour": 2}) as daemon:
        for _ in range(2):
            assert (await post(daemon, BODY))[0] == 202
        status, body, headers = await post(daemon, BODY)
        assert status == 429 and "from you" in body["error"] and int(headers["Retry-After"]) > 0
        assert (await post(daemon, {**BODY, "email": "other@example.com"}))[0] == 202


@pytest.mark.asyncio
async def test_per_thread_limit(tmp_path: Path) -> None:
    async with started(tmp_path, limits={"comments_per_thread_per_hour": 1}) as daemon:
        assert (await post(daemon, BODY))[0] == 202
        status, body, _h = await post(daemon, {**BODY, "email": "x@example.com"})
        assert status == 429 and "conversation" in body["error"]


async def _web_comments(daemon: Running) -> list[tuple[str, str]]:
    async def rows(conn: Any) -> list[tuple[str, str]]:
        async with conn.execute(
            "SELECT status, coalesce(held_reason, '') FROM comments WHERE source = 'web'"
        ) as cur:
            return [(str(a), str(b)) for a, b in await cur.fetchall()]

    return await daemon.store.read(rows)


@pytest.mark.asyncio
async def test_honeypot_is_answered_like_success_and_kept_in_the_spam_folder(
    daemon: Running,
) -> None:
    # A password manager fills "website" for real people too: their comment waits in
    # the spam folder (the report offers to publish it), it is not thrown away.
    status, body, _h = await post(daemon, {**BODY, "website": "https://ann.example"})
    assert (status, body) == (202, {"id": None, "status": "pending"})
    [(state, why)] = await _web_comments(daemon)
    assert state == "spam" and "honeypot filled" in why
    assert (await post(daemon, {**BODY, "website": "", "body": "Hi again."}))[0] == 202


@pytest.mark.asyncio
async def test_honeypot_keeps_nothing_without_spam_scoring(tmp_path: Path) -> None:
    async with started(tmp_path, spam={"enabled": False}) as daemon:
        status, body, _h = await post(daemon, {**BODY, "website": "http://spam.example"})
        assert (status, body) == (202, {"id": None, "status": "pending"})
        assert await _web_comments(daemon) == []


@pytest.mark.asyncio
async def test_closed_thread_refuses_new_comments(tmp_path: Path) -> None:
    from support import EXAMPLES

    data = json.loads((EXAMPLES / "thread.json").read_text())
    data["post"]["closed"] = True
    closed = tmp_path / "closed.json"
    closed.write_text(json.dumps(data))
    async with started(tmp_path) as daemon:
        from mailbridge.clock import SystemClock
        from mailbridge.importer import import_file

        # The seed is imported already; import the closed twin under another key.
        data["post"]["key"] = "closed-thread"
        closed.write_text(json.dumps(data))
        await import_file(daemon.store, closed, SystemClock())
        status, body, _h = await post(daemon, BODY, thread="closed-thread")
        assert (status, body["field"]) == (403, "thread")


@pytest.mark.asyncio
async def test_cors_only_for_configured_origins(tmp_path: Path) -> None:
    blog = "https://blog.example.org"
    async with started(tmp_path, http={"cors_origins": [blog]}) as daemon:
        host, port = daemon.http_address
        url = f"http://{host}:{port}/api/threads/{THREAD}/comments"
        async with aiohttp.ClientSession() as session:
            preflight = {
                "Origin": blog,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            }
            async with session.options(url, headers=preflight) as resp:
                assert resp.status == 204
                assert resp.headers["Access-Control-Allow-Origin"] == blog
                assert "POST" in resp.headers["Access-Control-Allow-Methods"]
            async with session.get(url, headers={"Origin": blog}) as resp:
                assert resp.headers["Access-Control-Allow-Origin"] == blog
            evil = {**preflight, "Origin": "https://evil.example"}
            async with session.options(url, headers=evil) as resp:
                assert resp.status == 403
                assert "Access-Control-Allow-Origin" not in resp.headers
            async with session.get(url, headers={"Origin": "https://evil.example"}) as resp:
                assert resp.status == 200
                assert "Access-Control-Allow-Origin" not in resp.headers
