"""The comment API and the thread pages, over real HTTP on loopback."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from support import THREAD, wait_for_mail

from mailbridge.app import Running


def base(daemon: Running) -> str:
    host, port = daemon.http_address
    return f"http://{host}:{port}"


async def post(
    daemon: Running,
    payload: Any,
    *,
    thread: str = THREAD,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else json.dumps(payload).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base(daemon)}/api/threads/{thread}/comments",
            data=data,
            headers={"Content-Type": content_type},
        ) as resp,
    ):
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


GOOD = {
    "author": "Ann",
    "email": "ann@example.com",
    "body": "Thank you.",
    "parent": 2,
    "notify": True,
}


@pytest.mark.asyncio
async def test_new_comment_is_pending_and_moderators_are_emailed(daemon: Running) -> None:
    status, body = await post(daemon, GOOD)
    assert status == 202
    assert body["status"] == "pending" and isinstance(body["id"], int)
    # Ann asked to be notified: she is asked to confirm first (double opt-in).
    mails = await wait_for_mail(daemon.settings.data_path / "outbox", 2)
    [mail] = [m for m in mails if m["To"].addresses[0].addr_spec == "author@example.org"]
    [confirm] = [m for m in mails if m["To"].addresses[0].addr_spec == "ann@example.com"]
    assert "Confirm" in str(confirm["Subject"])
    assert "Ann" in mail["Subject"]
    # Pending comments are not public.
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base(daemon)}/api/threads/{THREAD}/comments") as resp,
    ):
        tree = await resp.json()
    assert body["id"] not in _ids(tree["comments"])


def _ids(nodes: list[dict[str, Any]]) -> set[int]:
    found: set[int] = set()
    for node in nodes:
        found.add(node["id"])
        found |= _ids(node["replies"])
    return found


@pytest.mark.asyncio
async def test_tree_is_nested_complete_and_has_no_addresses(daemon: Running) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base(daemon)}/api/threads/{THREAD}/comments") as resp,
    ):
        assert resp.status == 200
        text = await resp.text()
    tree = json.loads(text)
    assert "@example.org" not in text and "reader001" not in text
    assert len(_ids(tree["comments"])) == 243
    first = tree["comments"][0]
    assert set(first) == {"id", "parent", "author", "created", "body", "html", "replies"}
    assert first["replies"][0]["parent"] == first["id"]
    assert "’" in text  # curly quotes travel unescaped as UTF-8


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**GOOD, "author": ""}, "author"),
        ({k: v for k, v in GOOD.items() if k != "email"}, "email"),
        ({**GOOD, "email": "not-an-address"}, "email"),
        ({**GOOD, "email": "a@b.example\r\nBcc: x@y.example"}, "email"),
        ({**GOOD, "body": "   "}, "body"),
        ({**GOOD, "body": "x" * 20_001}, "body"),
        ({**GOOD, "author": "Ann\r\nBcc: x@y.example"}, "author"),
        ({**GOOD, "parent": "two"}, "parent"),
        ({**GOOD, "parent": True}, "parent"),
        ({**GOOD, "parent": 999999}, "parent"),
        ({**GOOD, "notify": "yes"}, "notify"),
        ({**GOOD, "emial": "typo@example.com"}, "emial"),
    ],
)
async def test_bad_fields_get_400_naming_the_field(
    daemon: Running, payload: dict[str, Any], field: str
) -> None:
    status, body = await post(daemon, payload)
    assert status == 400
    assert body["field"] == field
    assert body["error"]


@pytest.mark.asyncio
async def test_malformed_json_gets_400(daemon: Running) -> None:
    status, body = await post(daemon, None, raw=b'{"author": "Ann",')
    assert status == 400
    assert body["error"].startswith("malformed JSON")
    status, body = await post(daemon, None, raw=b"[1, 2]")
    assert status == 400 and "JSON object" in body["error"]
    status, body = await post(daemon, None, raw=b"\xff\xfe")
    assert status == 400


@pytest.mark.asyncio
async def test_unknown_thread_gets_404(daemon: Running) -> None:
    status, body = await post(daemon, GOOD, thread="no-such-post")
    assert (status, body["field"]) == (404, "thread")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base(daemon)}/api/threads/no-such-post/comments") as resp,
    ):
        assert resp.status == 404
        assert (await resp.json())["field"] == "thread"


@pytest.mark.asyncio
async def test_oversized_body_gets_413_json(daemon: Running) -> None:
    big = json.dumps({**GOOD, "body": "x" * 100_000}).encode()
    status, body = await post(daemon, None, raw=big)
    assert status == 413
    assert "too large" in body["error"]


@pytest.mark.asyncio
async def test_form_posts_are_refused(daemon: Running) -> None:
    status, body = await post(
        daemon, None, raw=b"author=a&email=b", content_type="application/x-www-form-urlencoded"
    )
    assert status == 415 and "application/json" in body["error"]


@pytest.mark.asyncio
async def test_thread_page_escapes_and_hides_addresses(daemon: Running) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base(daemon)}/threads/{THREAD}") as resp:
            assert resp.status == 200
            assert resp.headers["Referrer-Policy"] == "no-referrer"
            assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
            page = await resp.text()
        async with session.get(f"{base(daemon)}/threads/nothing-here") as resp:
            assert resp.status == 404
            assert resp.content_type == "text/html"
            assert "nothing-here" in await resp.text()
        async with session.get(f"{base(daemon)}/") as resp:
            assert THREAD in await resp.text()
    assert "Attachment Theory and the Healing Psychotherapy Relationship" in page
    assert page.count('class="comment"') == 243
    assert "example.org" not in page.replace("https://blog.example.org/", "")
    assert "reader001" not in page


@pytest.mark.asyncio
async def test_healthz_reports_every_part(daemon: Running) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base(daemon)}/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "status": "ok",
            "database": True,
            "smtp": True,
            "http": True,
            "writes": True,
        }


@pytest.mark.asyncio
@pytest.mark.parametrize("author", ["ann@example.com", "Ann (ann.smith@mail.example.org)"])
async def test_a_name_holding_an_email_address_is_refused(daemon: Running, author: str) -> None:
    """The name is shown to every reader. One that is (or holds) an email address, typed
    or filled in by a phone into the wrong field, was published as it was: the address
    on the page and in the JSON (at once for a trusted writer, whose comment waits for
    nobody; nor did the moderation email flag it, as it flags one in the text)."""
    status, body = await post(daemon, {**GOOD, "author": author})
    assert status == 400 and body["field"] == "author"
    assert "shown to everyone" in body["error"]
    # A handle or an "at" in a name is no address.
    for name in ("@ann", "Ann @ Example", "Ann at home"):
        status, body = await post(daemon, {**GOOD, "author": name})
        assert status == 202, body
