"""Bad input and a database that cannot write: 4xx/503 with a reason, never a 500
(issue 8, findings 6 and 7). Real daemon on loopback, real HTTP client, the suite's
store engine (SQLite, or PostgreSQL under --store=postgresql)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from support import THREAD, db_rows, make_settings, started

from mailbridge.app import Running
from mailbridge.settings import Settings

GOOD = {"author": "Ann", "email": "ann@example.com", "body": "Thank you.", "parent": 2}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Half a second instead of ten before a locked database gives up: keeps tests short.
    return make_settings(tmp_path, database_busy_timeout_seconds=0.5)


def url(daemon: Running, path: str) -> str:
    host, port = daemon.http_address
    return f"http://{host}:{port}{path}"


async def post_raw(daemon: Running, raw: bytes) -> tuple[int, dict[str, Any], Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url(daemon, f"/api/threads/{THREAD}/comments"),
            data=raw,
            headers={"Content-Type": "application/json"},
        ) as resp,
    ):
        assert resp.content_type == "application/json"
        return resp.status, await resp.json(), resp.headers


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("raw", "says"),
    [
        # A lone surrogate is valid JSON but no text: it could never be stored or sent.
        (b'{"author": "Ann\\ud800", "email": "ann@example.com", "body": "hi"}', "lone surrogate"),
        (b'{"author": "Ann", "email": "ann@example.com", "body": "\\udfff"}', "lone surrogate"),
        (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nested too deeply"),
        (json.dumps({**GOOD, "parent": 2**63}).encode(), "parent must be a comment id"),
        (json.dumps({**GOOD, "parent": -1}).encode(), "parent must be a comment id"),
        (json.dumps({**GOOD, "parent": 2.0}).encode(), "parent must be a comment id"),
        (b'{"parent": ' + b"9" * 5_000 + b"}", "malformed JSON"),
        (b"\xff\xfe not utf-8", "not valid UTF-8"),
        (b"", "malformed JSON"),
    ],
)
async def test_hostile_json_gets_a_400_with_a_reason(
    daemon: Running, raw: bytes, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status, body, _ = await post_raw(daemon, raw)
    assert status == 400, body
    assert says in body["error"]
    assert "Traceback" not in caplog.text
    assert any("refused" in r.getMessage() for r in caplog.records if r.name.endswith("api"))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "author", ["مهدی\u200cزاده", "👨\u200d👩\u200d👧 Jo", "नमस्\u200dते"], ids=["zwnj", "zwj", "deva"]
)
async def test_names_with_joiners_are_accepted(daemon: Running, author: str) -> None:
    status, body, _ = await post_raw(daemon, json.dumps({**GOOD, "author": author}).encode())
    assert status == 202, body


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("author", "Ann\u202eevil", "direction control"),
        ("author", "\u200b\u200d", "visible characters"),
        ("author", "Z" + "\u0336" * 40, "combining marks"),
        ("body", "look \u2066here\u2069", "direction control"),
    ],
)
async def test_spoofing_text_is_refused_naming_what(
    daemon: Running, field: str, value: str, says: str
) -> None:
    status, body, _ = await post_raw(daemon, json.dumps({**GOOD, field: value}).encode())
    assert status == 400
    assert body["field"] == field and says in body["error"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        name: _json | st.text(max_size=40)
        for name in ("author", "email", "body", "parent", "notify", "website")
    },
)


@pytest.mark.asyncio
async def test_no_json_body_makes_the_api_fail(daemon: Running) -> None:
    """Arbitrary JSON (bounded: 150 bodies) at the comment endpoint: always below 500."""
    seen: list[int] = []

    @hsettings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.one_of(_fields, _json))
    def run(payload: Any) -> None:
        raw = json.dumps(payload).encode()
        seen.append(len(raw))
        bodies.append(raw)

    bodies: list[bytes] = []
    run()
    async with aiohttp.ClientSession() as session:
        for raw in bodies:
            async with session.post(
                url(daemon, f"/api/threads/{THREAD}/comments"),
                data=raw,
                headers={"Content-Type": "application/json"},
            ) as resp:
                assert resp.status < 500, (raw, await resp.text())
                if resp.status == 429:
                    break  # the per-IP limit: the rest would only be rate-limited
    assert len(seen) >= 50


async def healthz(daemon: Running) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url(daemon, "/healthz")) as resp:
        return resp.status, await resp.json()


@pytest.mark.sqlite_only(
    "holds SQLite's database-wide write lock from a second connection to the file; "
    "PostgreSQL locks tables and rows: its counterpart is the next test"
)
@pytest.mark.asyncio
async def test_a_locked_database_gives_503_with_retry_after_and_healthz_says_so(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await healthz(daemon))[0] == 200
    other = sqlite3.connect(
        daemon.settings.database_path, isolation_level=None, check_same_thread=False
    )
    try:
        # Another process holding the write lock; taken off the event loop, which may
        # have to finish a transaction of the daemon's (its periodic jobs') first.
        await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
        status, body, headers = await post_raw(daemon, json.dumps(GOOD).encode())
        assert status == 503
        assert headers["Retry-After"].isdigit()
        assert "try again" in body["error"] and "nothing was kept" in body["error"]
        assert "Traceback" not in caplog.text
        health_status, health = await healthz(daemon)
        assert health_status == 503
        assert health["writes"] is False and "locked" in health["writes_error"]
    finally:
        other.execute("ROLLBACK")
        other.close()
    status, body, _ = await post_raw(daemon, json.dumps(GOOD).encode())
    assert status == 202, body
    health_status, health = await healthz(daemon)
    assert health_status == 200 and health["writes"] is True


@pytest.mark.asyncio
async def test_a_locked_table_on_postgresql_gives_503_and_healthz_says_so(
    tmp_path: Path, pg_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The counterpart of the test above on PostgreSQL (whichever engine the suite
    runs on): another process holds the comments table (a long maintenance statement,
    say); the daemon's insert waits lock_timeout (database_busy_timeout_seconds), then
    the web answers 503 with Retry-After and keeps nothing; released, it takes comments."""
    async with started(tmp_path, data_url=pg_database, database_busy_timeout_seconds=0.5) as d:
        await locked_table_answers_503(d, caplog)


async def locked_table_answers_503(daemon: Running, caplog: pytest.LogCaptureFixture) -> None:
    import psycopg

    assert (await healthz(daemon))[0] == 200
    async with await psycopg.AsyncConnection.connect(daemon.settings.data_url) as other:
        async with other.transaction():
            # EXCLUSIVE: reads go on (the page and the API's reads), writes wait.
            await other.execute("LOCK TABLE comments IN EXCLUSIVE MODE")
            status, body, headers = await post_raw(daemon, json.dumps(GOOD).encode())
            assert status == 503, body
            assert headers["Retry-After"].isdigit()
            assert "try again" in body["error"] and "nothing was kept" in body["error"]
            assert "Traceback" not in caplog.text
            health_status, health = await healthz(daemon)
            assert health_status == 503
            assert health["writes"] is False and "lock timeout" in health["writes_error"]
    status, body, _ = await post_raw(daemon, json.dumps(GOOD).encode())
    assert status == 202, body
    health_status, health = await healthz(daemon)
    assert health_status == 200 and health["writes"] is True


@pytest.mark.sqlite_only(
    "a full disk is injected with SQLite's max_page_count; on PostgreSQL the web's 503 "
    "for a database that cannot write is tested read-only (tests/faults/test_storage_faults.py)"
)
@pytest.mark.asyncio
async def test_a_full_database_gives_503_and_healthz_reports_failing_writes(
    daemon: Running,
) -> None:
    store = daemon.store
    writer = store._writer  # the daemon's own connection: the cap is per connection
    assert writer is not None
    [(pages,)] = await writer.execute_fetchall("PRAGMA page_count")
    await writer.execute(f"PRAGMA max_page_count = {pages}")  # as if the disk were full
    try:
        big = {**GOOD, "body": "words " * 3_000}
        status, body, headers = await post_raw(daemon, json.dumps(big).encode())
        assert status == 503, body
        assert "Retry-After" in headers
        health_status, health = await healthz(daemon)
        assert health_status == 503 and "full" in health["writes_error"]
    finally:
        await writer.execute("PRAGMA max_page_count = 1073741823")
    status, _, _ = await post_raw(daemon, json.dumps(GOOD).encode())
    assert status == 202
    assert (await healthz(daemon))[0] == 200


async def admin_token(daemon: Running) -> str:
    from mailbridge.admin import tokens

    _id, made = await daemon.store.write(
        lambda c: tokens.create(c, "bad input", ("read", "moderate", "people"), "2026-01-01")
    )
    return made


async def moderator_session(daemon: Running) -> tuple[dict[str, str], str]:
    """The cookie of a live queue-page session of the seed thread's author, and its CSRF
    token (the session row made directly: the sign-in flow is test_queue_page's)."""
    from support import AUTHOR_EMAIL

    from mailbridge.store import sessions, threads
    from mailbridge.tokens import csrf_token

    async def make(conn: Any) -> None:
        address_id = await threads.upsert_address(conn, AUTHOR_EMAIL, "2026-01-01T00:00:00Z")
        await sessions.create(
            conn, "a-session", address_id, "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "t"
        )

    await daemon.store.write(make)
    return {"Cookie": "mb_session=a-session"}, csrf_token(daemon.keyring.moderation, "a-session")


# "²" passes str.isdigit() and int() refuses it; 5,000 digits int() refuses; 30 digits
# the database refuses. Each was a 500 wherever a number came from a URL or a form.
ODD_NUMBERS = ["%C2%B2", "9" * 5_000, "9" * 30]


@pytest.mark.asyncio
async def test_numbers_in_urls_and_forms_that_are_no_ids_get_a_4xx(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    bearer = {"Authorization": f"Bearer {await admin_token(daemon)}"}
    cookie, csrf = await moderator_session(daemon)
    form = {**cookie, "Content-Type": "application/x-www-form-urlencoded"}
    pending = await post_raw(daemon, json.dumps(GOOD).encode())
    assert pending[0] == 202
    async with aiohttp.ClientSession() as session:

        async def answer(method: str, path: str, **kw: Any) -> tuple[int, bytes]:
            async with session.request(
                method, url(daemon, path), allow_redirects=False, **kw
            ) as resp:
                return resp.status, await resp.read()

        for odd in ODD_NUMBERS:
            cursor = base64.urlsafe_b64encode(f"c{odd}".encode()).decode()
            for name in ("limit", "after", "through"):
                status, body = await answer("GET", f"/api/threads/{THREAD}/comments?{name}={odd}")
                assert status == 400 and f"{name} must be a whole number".encode() in body
            status, body = await answer("GET", f"/threads/{THREAD}?after={odd}")
            assert status == 400 and b"after must be a whole number" in body, body
            status, body = await answer("GET", f"/api/admin/comments/{odd}", headers=bearer)
            assert status == 404 and b'"comment_not_found"' in body
            status, body = await answer("GET", f"/api/admin/comments?limit={odd}", headers=bearer)
            assert status == 400 and b'"invalid_limit"' in body
            status, body = await answer(
                "GET", f"/api/admin/comments?cursor={cursor}", headers=bearer
            )
            assert status == 400 and b'"invalid_cursor"' in body
            status, body = await answer(
                "POST", "/moderate/undo", data=f"csrf={csrf}&comment={odd}", headers=form
            )
            assert status == 400 and b"Which comment?" in body
            # Not a comment: nothing decided, the queue page says so.
            status, _ = await answer(
                "POST",
                "/moderate/decide",
                data=f"csrf={csrf}&action=spam&comment={odd}",
                headers=form,
            )
            assert status == 303
    assert "Traceback" not in caplog.text
    # What was accepted is still there, pending.
    rows = await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", pending[1]["id"])
    assert [tuple(r) for r in rows] == [("pending",)]


URLENCODED = "application/x-www-form-urlencoded"
UNREADABLE_FORMS = [
    (b"email=\xff\xfe", URLENCODED),  # not UTF-8
    (b"email=a", f"{URLENCODED}; charset=no-such-charset"),
    (b"email=a", "multipart/form-data"),  # no boundary
    (b"--x\r\nContent-Disposition: form-data\r\n\r\na\r\n--x--\r\n",  # a nameless part
     "multipart/form-data; boundary=x"),
    (b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\n\xff\r\n--x--\r\n',
     "multipart/form-data; boundary=x"),
]  # fmt: skip


@pytest.mark.asyncio
async def test_forms_that_cannot_be_read_get_a_400_page(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import date

    from mailbridge.tokens import LinkPurpose, make_subscription_token

    caplog.set_level(logging.INFO)
    cookie, csrf = await moderator_session(daemon)
    unsubscribe = make_subscription_token(
        daemon.keyring.subscription, LinkPurpose.UNSUBSCRIBE, 1, None, "none", date(2099, 1, 1)
    )
    paths = ["/moderate", "/privacy", "/moderate/decide", f"/unsubscribe/{unsubscribe}"]
    async with aiohttp.ClientSession() as session:
        for path in paths:
            for raw, content_type in UNREADABLE_FORMS:
                async with session.post(
                    url(daemon, path), data=raw, headers={**cookie, "Content-Type": content_type}
                ) as resp:
                    page = await resp.read()
                    assert (resp.status, resp.content_type) == (400, "text/html"), (path, raw)
                    assert b"The form could not be read" in page
        # A CSRF token that is not even ASCII is a wrong one, not a crash.
        async with session.post(
            url(daemon, "/moderate/decide"),
            data=f"csrf=%C3%A9{csrf}&action=spam&comment=1",
            headers={**cookie, "Content-Type": URLENCODED},
        ) as resp:
            assert resp.status == 403 and b"did not come from this site" in await resp.read()
    assert "Traceback" not in caplog.text
    assert any("cannot be read" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_a_body_that_does_not_decode_or_never_arrives_is_a_line_not_a_traceback(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = await db_rows(daemon, "SELECT count(*) FROM comments")
    gzip = {"Content-Encoding": "gzip"}  # and a body that is no gzip
    async with aiohttp.ClientSession() as session:
        async with session.post(
            url(daemon, f"/api/threads/{THREAD}/comments"),
            data=json.dumps(GOOD).encode(),
            headers={**gzip, "Content-Type": "application/json"},
        ) as resp:
            assert (resp.status, resp.content_type) == (400, "application/json")
            assert "could not be read" in (await resp.json())["error"]
        async with session.post(
            url(daemon, "/moderate"), data=b"email=a%40b.example",
            headers={**gzip, "Content-Type": URLENCODED},
        ) as resp:  # fmt: skip
            assert (resp.status, resp.content_type) == (400, "text/html")
    # Promised 1,000 bytes, sent 10, gone.
    host, port = daemon.http_address
    _reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"POST /api/threads/{THREAD}/comments HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n".encode()
        + b'{"author":'
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    for _ in range(100):  # bounded: 5 s
        if "went away" in caplog.text:
            break
        await asyncio.sleep(0.05)
    assert "went away" in caplog.text
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert await db_rows(daemon, "SELECT count(*) FROM comments") == before
    assert (await healthz(daemon))[0] == 200


ADMIN_BODIES = [
    # A lone surrogate reached the database: each was a 500.
    ("/api/admin/people/export", {"email": "a\ud800@example.com"}, "invalid_email"),
    ("/api/admin/people/erase", {"email": "a@example.com\x00"}, "invalid_email"),
    ("/api/admin/threads", {"key": "k", "title": "T\ud800", "url": "https://b.example/"},
     "invalid_thread"),
    # "One line of text": a CR, a NUL or a bidi override was let through.
    ("/api/admin/threads", {"key": "k", "title": "T\rBcc: x", "url": "https://b.example/"},
     "invalid_thread"),
    ("/api/admin/threads", {"key": "k", "title": "T\x00", "url": "https://b.example/"},
     "invalid_thread"),
    ("/api/admin/threads", {"key": "k", "title": "\u202eT", "url": "https://b.example/"},
     "invalid_thread"),
    ("/api/admin/threads", {"key": "k", "title": "T", "url": "https://b.example/\x7f"},
     "invalid_thread"),
]  # fmt: skip


@pytest.mark.asyncio
async def test_admin_bodies_with_characters_no_text_may_hold_get_a_400(daemon: Running) -> None:
    bearer = {"Authorization": f"Bearer {await admin_token(daemon)}"}
    async with aiohttp.ClientSession() as session:
        for path, payload, code in ADMIN_BODIES:
            async with session.post(
                url(daemon, path), data=json.dumps(payload), headers=bearer
            ) as resp:
                assert resp.status == 400, (payload, await resp.text())
                assert (await resp.json())["code"] == code
    assert await db_rows(daemon, "SELECT key FROM threads WHERE key = 'k'") == []


@pytest.mark.asyncio
async def test_the_queue_page_shows_only_what_a_decision_could_have_said(
    daemon: Running,
) -> None:
    cookie, _csrf = await moderator_session(daemon)
    async with aiohttp.ClientSession() as session:

        async def page(query: str) -> str:
            async with session.get(url(daemon, f"/moderate?{query}"), headers=cookie) as r:
                assert r.status == 200
                return await r.text()

        # A link from anywhere put its words on the page (escaped, but believable).
        forged = await page("done=Your%20session%20expired%2C%20sign%20in%20at%20evil.example:1")
        assert "evil.example" not in forged and "Done:" not in forged
        assert "Done: 2 comments approved." in await page("done=approve:2")
        assert "Nothing was selected." in await page("done=none")


async def raw_request(daemon: Running, request: bytes) -> bytes:
    """One request as bytes on its own connection (Connection: close); the answer."""
    reader, writer = await asyncio.open_connection(*daemon.http_address)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.asyncio
async def test_header_bytes_that_are_not_utf8_are_no_500(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp keeps such bytes as lone surrogates, which hashing or the database cannot
    encode: an API token, a session cookie and a User-Agent kept with a session were
    500s."""
    from datetime import UTC, datetime, timedelta

    from support import AUTHOR_EMAIL

    from mailbridge.store import threads
    from mailbridge.tokens import make_login_token

    address_id = await daemon.store.write(
        lambda c: threads.upsert_address(c, AUTHOR_EMAIL, "2026-01-01T00:00:00Z")
    )
    login = make_login_token(
        daemon.keyring.moderation, address_id, datetime.now(UTC) + timedelta(minutes=5)
    )
    for line, head, expected in [
        (b"GET /api/admin/comments", b"Authorization: Bearer mbt_\xff\xfe", b" 401 "),
        (b"GET /moderate", b"Cookie: mb_session=\xff\xfe", b" 200 "),
        (f"POST /moderate/signin/{login}".encode(), b"User-Agent: Phone \xff", b" 303 "),
    ]:
        answer = await raw_request(
            daemon,
            line + b" HTTP/1.1\r\nHost: mailbridge\r\nConnection: close\r\n"
            b"Content-Length: 0\r\n" + head + b"\r\n\r\n",
        )
        assert expected in answer.split(b"\r\n", 1)[0], (line, answer[:200])
    rows = await db_rows(daemon, "SELECT user_agent FROM moderator_sessions")
    assert [tuple(r) for r in rows] == [("Phone \ufffd",)]
    assert "Traceback" not in caplog.text


@pytest.mark.asyncio
async def test_the_admin_api_answers_the_servers_own_errors_in_its_error_shape(
    daemon: Running,
) -> None:
    """Its document promises {"code", "message"} for every error; the server's own
    (no route, a method not taken, too large, not decodable) came as {"error", "field"}."""
    from jsonschema import Draft202012Validator

    bearer = {"Authorization": f"Bearer {await admin_token(daemon)}"}
    big = b'{"body": "' + b"x" * daemon.settings.http.max_body_bytes + b'"}'
    async with aiohttp.ClientSession() as session:
        async with session.get(url(daemon, "/api/admin/openapi.json")) as resp:
            schema = (await resp.json())["components"]["schemas"]["Error"]
        for method, path, data, headers, status, code in [
            ("PUT", "/api/admin/comments/1", b"", {}, 405, "method_not_allowed"),
            ("GET", "/api/admin/nothing", b"", {}, 404, "not_found"),
            ("PATCH", "/api/admin/comments/1", big, {}, 413, "too_large"),
            ("PATCH", "/api/admin/comments/1", b'{"body": "x"}', {"Content-Encoding": "gzip"},
             400, "bad_request"),
            ("OPTIONS", "/api/admin/comments", b"", {"Origin": "https://evil.example",
             "Access-Control-Request-Method": "GET"}, 403, "forbidden"),
        ]:  # fmt: skip
            async with session.request(
                method, url(daemon, path), data=data, headers={**bearer, **headers}
            ) as resp:
                body = await resp.json()
                assert (resp.status, body.get("code")) == (status, code), (method, path, body)
                Draft202012Validator(schema).validate(body)


@pytest.mark.asyncio
async def test_a_missing_thread_is_named_back_without_controls_and_cut_short(
    daemon: Running,
) -> None:
    """A key that is not there is quoted in the 404: a bidi override in it turned the
    page's own words around, and a URL's 8,000 characters came back whole."""
    bearer = {"Authorization": f"Bearer {await admin_token(daemon)}"}
    spoof, long_key = "%E2%80%AEtxet-live", "k" * 5_000
    async with aiohttp.ClientSession() as session:
        for path in [
            f"/threads/{spoof}",
            f"/api/threads/{spoof}/comments",
            f"/api/admin/comments?thread={spoof}",
            f"/threads/{long_key}",
            f"/api/threads/{long_key}/comments",
        ]:
            headers = bearer if "admin" in path else {}
            async with session.get(url(daemon, path), headers=headers) as resp:
                assert resp.status == 404
                text = await resp.text()
            assert "\u202e" not in text and "\\u202e" not in text, path
            assert "k" * 101 not in text and ("txet-live" in text or "k" * 100 in text)
        async with session.post(url(daemon, f"/api/threads/{spoof}/comments"), json=GOOD) as resp:
            assert resp.status == 404 and (await resp.json())["error"] == "no thread 'txet-live…'"


@pytest.mark.asyncio
async def test_a_token_of_one_purpose_opens_no_other_door(daemon: Running) -> None:
    """Each kind of link, genuine, at every other kind's route (and a non-ASCII one at
    all of them): a 403 page, and nothing changes."""
    from datetime import UTC, date, datetime, timedelta

    from mailbridge.tokens import (
        Action,
        LinkPurpose,
        make_login_token,
        make_moderation_token,
        make_privacy_token,
        make_subscription_token,
        make_undo_token,
    )

    status, made, _ = await post_raw(daemon, json.dumps(GOOD).encode())
    assert status == 202
    cid, keys, later = made["id"], daemon.keyring, datetime.now(UTC) + timedelta(days=1)
    tokens = {
        "moderate": make_moderation_token(keys.moderation, cid, Action.SPAM, later, 1),
        "signin": make_login_token(keys.moderation, 1, later),
        "privacy": make_privacy_token(keys.subscription, 1, later),
        "undo": make_undo_token(keys.moderation, cid, "approved", "pending", 1, later, 1),
        "confirm": make_subscription_token(
            keys.subscription, LinkPurpose.CONFIRM, 1, None, "thread", date(2099, 1, 1)
        ),
    }
    # The same fields, the other purpose: only the MAC tells them apart.
    tokens["unsubscribe"] = make_subscription_token(
        keys.subscription, LinkPurpose.UNSUBSCRIBE, 1, None, "thread", date(2099, 1, 1)
    )
    routes = {
        "moderate": [("GET", "/moderate/{}"), ("POST", "/moderate/{}")],
        "signin": [("GET", "/moderate/signin/{}"), ("POST", "/moderate/signin/{}")],
        "privacy": [("GET", "/privacy/{}"), ("POST", "/privacy/{}/erase")],
        "undo": [("GET", "/moderate/undo/{}"), ("POST", "/moderate/undo/{}")],
        "confirm": [("GET", "/confirm/{}"), ("POST", "/confirm/{}")],
        "unsubscribe": [("GET", "/unsubscribe/{}")],
    }
    async with aiohttp.ClientSession() as session:
        for kind, paths in routes.items():
            others = [token for name, token in tokens.items() if name != kind]
            for method, path in paths:
                for token in [*others, "é" * 40]:
                    async with session.request(
                        method, url(daemon, path.format(token)), data={"confirm": "yes"}
                    ) as resp:
                        assert (resp.status, resp.content_type) == (403, "text/html"), (
                            kind, method, token)  # fmt: skip
    rows = await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", cid)
    assert [tuple(r) for r in rows] == [("pending",)]


@pytest.mark.asyncio
async def test_what_the_http_parser_refuses_is_a_400_and_one_line(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp answers these 400 before the application sees them; it logged each as an
    ERROR with a traceback."""
    caplog.set_level(logging.INFO)
    path = f"/api/threads/{THREAD}/comments"
    # A bad method after a good request on one connection (as the first request of a
    # connection, aiohttp logs it at DEBUG itself: not HTTP at all, a port scanner).
    reader, writer = await asyncio.open_connection(*daemon.http_address)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"}"), 10)
    writer.write(f"FOO {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    assert (await asyncio.wait_for(reader.read(), 10)).startswith(b"HTTP/1.0 400 ")
    writer.close()
    await writer.wait_closed()
    for request in [
        "GET /threads/\xff HTTP/1.1\r\nHost: h\r\n\r\n".encode("latin-1"),
        f"POST {path} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n".encode(),
        f"POST {path} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
        "Content-Encoding: br\r\nContent-Length: 2\r\n\r\n{}".encode(),
    ]:
        answer = await raw_request(daemon, request)
        assert answer.startswith((b"HTTP/1.0 400 ", b"HTTP/1.1 400 ")), answer[:100]
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert caplog.text.count("refused by the parser") == 4


@pytest.mark.asyncio
async def test_links_to_an_erased_address_or_a_deleted_thread_are_no_500(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """Genuine links outlive what they name: a person erases their data (a mail
    provider's one-click unsubscribe comes later), a thread is deleted."""
    from datetime import UTC, date, datetime, timedelta

    from mailbridge.store import threads
    from mailbridge.tokens import (
        Action,
        LinkPurpose,
        make_login_token,
        make_moderation_token,
        make_subscription_token,
    )

    # Posted before the erasure (the moderation link below names this comment).
    status, made, _ = await post_raw(daemon, json.dumps(GOOD).encode())
    assert status == 202
    address_id = await daemon.store.write(
        lambda c: threads.upsert_address(c, "gone@example.com", "2026-01-01T00:00:00Z")
    )
    [(thread_id,)] = await db_rows(daemon, "SELECT id FROM threads WHERE key = ?", THREAD)

    def unsubscribe(thread: int | None) -> str:
        key, purpose = daemon.keyring.subscription, LinkPurpose.UNSUBSCRIBE
        token = make_subscription_token(
            key, purpose, address_id, thread, "replies", date(2099, 1, 1)
        )
        return f"/unsubscribe/{token}"

    later = datetime.now(UTC) + timedelta(minutes=5)
    signin = f"/moderate/signin/{make_login_token(daemon.keyring.moderation, address_id, later)}"
    bearer = {"Authorization": f"Bearer {await admin_token(daemon)}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            url(daemon, "/api/admin/people/erase"), json={"email": "gone@example.com"},
            headers=bearer,
        ) as resp:  # fmt: skip
            assert resp.status == 202
        for path, form, status in [
            (unsubscribe(None), {"List-Unsubscribe": "One-Click"}, 200),
            (unsubscribe(thread_id), {"choice": "thread-none"}, 200),
            (unsubscribe(thread_id + 1000), {"choice": "thread-none"}, 404),
            (signin, {}, 403),
        ]:
            async with session.post(url(daemon, path), data=form) as resp:
                assert (resp.status, resp.content_type) == (status, "text/html"), path
        # The erased address was a moderator's: their "approve and trust" link. Who it
        # was cannot be told, so not that they moderate now: refused, as a former
        # moderator's (test_former_moderator_links.py), with where to decide instead.
        trust = make_moderation_token(
            daemon.keyring.moderation, made["id"], Action.TRUST, later, address_id
        )
        async with session.post(url(daemon, f"/moderate/{trust}")) as resp:
            assert resp.status == 403 and "/moderate" in await resp.text()
    assert "Traceback" not in caplog.text
    assert await db_rows(daemon, "SELECT id FROM addresses WHERE id = ?", address_id) == []
    rows = await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", made["id"])
    assert [tuple(r) for r in rows] == [("pending",)]
