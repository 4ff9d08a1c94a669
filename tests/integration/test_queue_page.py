"""The /moderate queue page (issue 10): sign-in by emailed link, a hashed, revocable
session cookie, CSRF on every form, several comments decided at once. Real daemon,
real HTTP client with its cookie jar, real Maildir."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from flows import moderation_email, outbox_dir, post_comment
from support import AUTHOR_EMAIL, local, read_maildir, text_body

from mailbridge.app import Running
from mailbridge.cli import cli


def url(daemon: Running, path: str) -> str:
    host, port = daemon.http_address
    return f"http://{host}:{port}{path}"


async def sign_in_links(daemon: Running, to: str) -> list[str]:
    for _ in range(200):  # bounded wait for the worker
        found = [
            m
            for m in read_maildir(outbox_dir(daemon))
            if "moderation queue" in str(m["Subject"]) and m["To"].addresses[0].addr_spec == to
        ]
        if found:
            return [
                local(match, daemon.http_address)
                for m in found
                for match in re.findall(r"(http\S+/moderate/signin/\S+)", text_body(m))
            ]
        await asyncio.sleep(0.05)
    return []


async def signed_in(daemon: Running, session: aiohttp.ClientSession) -> str:
    """Ask for a link as the thread's author, follow it, press Sign in; the queue page."""
    async with session.post(url(daemon, "/moderate"), data={"email": AUTHOR_EMAIL}) as r:
        assert r.status == 200 and "a sign-in link is on its way" in await r.text()
    [link] = await sign_in_links(daemon, AUTHOR_EMAIL)
    async with session.get(link) as r:  # a mail scanner's GET signs nobody in
        assert r.status == 200 and "Open the moderation queue?" in await r.text()
    assert not session.cookie_jar.filter_cookies(url(daemon, "/moderate"))
    async with session.post(link, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/moderate"
        cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/moderate" in cookie
    assert "Secure" not in cookie  # http://127.0.0.1; set when public_url is https
    async with session.get(url(daemon, "/moderate")) as r:
        return await r.text()


def jar() -> aiohttp.CookieJar:
    # unsafe=True: keep cookies from an IP address (127.0.0.1), as browsers do.
    return aiohttp.CookieJar(unsafe=True)


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found
    return found.group(1)


async def mb(*args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


@pytest.mark.asyncio
async def test_a_moderator_signs_in_by_email_and_approves_several(daemon: Running) -> None:
    ids = [await post_comment(daemon, parent=2, body=f"Pending number {n}.") for n in range(3)]
    await moderation_email(daemon, "Ann", 3)
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        assert "3 comments waiting" in page and "Signed in as author@example.org" in page
        assert all(f'value="{i}"' in page for i in ids)
        form = [("csrf", csrf(page)), ("action", "approve"), ("comment", str(ids[0])),
                ("comment", str(ids[2]))]  # fmt: skip
        async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
            assert r.status == 200 and "Done: 2 comments approved." in await r.text()
            page = await r.text()
        assert "1 comment waiting" in page and f'value="{ids[1]}"' in page
        # Without the CSRF token (a forged cross-site form) nothing happens.
        async with session.post(
            url(daemon, "/moderate/decide"),
            data=[("action", "spam"), ("comment", str(ids[1]))],
        ) as r:
            assert r.status == 403
    listed = await mb("comment", str(ids[0]), "--data-dir", str(daemon.settings.data_path))
    assert re.search(r"pending\s+approved\s+author@example.org\s+queue", listed.output)


@pytest.mark.asyncio
async def test_anyone_else_gets_the_same_answer_and_no_email(daemon: Running) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        async with session.post(url(daemon, "/moderate"), data={"email": "who@example.net"}) as r:
            assert r.status == 200 and "a sign-in link is on its way" in await r.text()
    await asyncio.sleep(0.3)
    assert await sign_in_links(daemon, "who@example.net") == []


@pytest.mark.asyncio
async def test_sessions_are_listed_and_revoked(daemon: Running) -> None:
    data = ["--data-dir", str(daemon.settings.data_path)]
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        await signed_in(daemon, session)
        listed = await mb("sessions", "list", *data)
        assert "active   author@example.org" in listed.output
        session_id = listed.output.split()[0]
        ended = await mb("sessions", "revoke", session_id, *data)
        assert "1 session ended." in ended.output
        async with session.get(url(daemon, "/moderate")) as r:
            assert "Email me a sign-in link" in await r.text()  # signed out
    assert "revoked" in (await mb("sessions", "list", *data)).output


@pytest.mark.asyncio
async def test_a_forged_sign_in_link_is_refused(daemon: Running) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        async with session.post(
            url(daemon, "/moderate/signin/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        ) as r:
            assert r.status == 403
        async with session.get(url(daemon, "/moderate")) as r:
            assert "Email me a sign-in link" in await r.text()


@pytest.mark.asyncio
async def test_decisions_are_undone_from_the_queue_page(daemon: Running) -> None:
    approved = await post_comment(daemon, parent=2, body="Approve me, then think again.")
    spammed = await post_comment(
        daemon, author="Spammer", body="Check out my channel!!! http://spam.example subscribe"
    )
    await moderation_email(daemon, "Ann")
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        # The spam folder's automatic decision is listed too, for a rescue.
        assert "Decided in the last 30 days" in page and "marked as spam" in page
        assert "automatically" in page
        form = [("csrf", csrf(page)), ("action", "approve"), ("comment", str(approved))]
        async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
            page = await r.text()
        assert page.count("Undo: back to pending") == 2
        undo = {"csrf": csrf(page), "comment": str(approved)}
        async with session.post(url(daemon, "/moderate/undo"), data=undo) as r:
            assert r.status == 200
            page = await r.text()
        assert "Undone: the comment is back where it was." in page
        assert f'name="comment" value="{approved}"' in page  # pending again, in the queue
        async with session.post(url(daemon, "/moderate/undo"), data=undo) as r:
            assert "Not undone" in await r.text()  # nothing left to undo for it
        rescue = {"csrf": csrf(page), "comment": str(spammed)}
        async with session.post(url(daemon, "/moderate/undo"), data=rescue) as r:
            assert "Undone" in await r.text()
        async with session.post(url(daemon, "/moderate/undo"), data={"comment": "1"}) as r:
            assert r.status == 403  # no CSRF token
        async with session.post(
            url(daemon, "/moderate/undo"), data={"csrf": csrf(page), "comment": "x"}
        ) as r:
            assert r.status == 400
    data = ["--data-dir", str(daemon.settings.data_path)]
    shown = await mb("comment", str(spammed), *data)
    assert re.search(r"spam\s+pending\s+author@example.org\s+queue", shown.output)


@pytest.mark.asyncio
async def test_the_queue_page_says_what_looks_private_and_the_thread_does_not(
    daemon: Running,
) -> None:
    held = await post_comment(daemon, parent=2, body="Call me on 0151 496 0123, any time.")
    await moderation_email(daemon, "Ann")
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        assert f'value="{held}"' in page
        assert "<strong>Held:</strong> it may reveal personal details: a phone number" in page
        async with session.get(url(daemon, "/threads/attachment-theory-healing-relationship")) as r:
            public = await r.text()
    assert "personal details" not in public and "0151 496 0123" not in public


@pytest.mark.asyncio
async def test_an_imported_pending_comment_that_looks_private_says_so(
    daemon: Running, tmp_path: Path
) -> None:
    # Comments waiting in the old system come in pending, with no moderation email:
    # the queue page is where they are decided, so it must say what it says of others.
    export = {
        "post": {"key": "moved-here", "title": "Moved here", "author": "Joseph Burgo",
                 "email": AUTHOR_EMAIL, "url": "https://blog.example.org/moved-here/"},
        "comments": [
            {"id": 1, "parent": None, "author": "Bea", "email": "bea@example.net",
             "created": "2020-01-02T03:04:05+00:00", "status": "pending",
             "body": "Thank you. Ring me on 0151 496 0123 if you like."},
            {"id": 2, "parent": None, "author": "Cy", "email": "cy@example.net",
             "created": "2020-01-02T03:04:06+00:00", "status": "pending",
             "body": "A plain remark."},
        ],
    }  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    result = await mb("import", "--data-dir", str(daemon.settings.data_path), str(path))
    assert result.exit_code == 0, result.output
    await post_comment(daemon, parent=2, body="A new one, to sign in by.")
    await moderation_email(daemon, "Ann")
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
    cards = page.split('class="card"')
    [bea] = [c for c in cards if "Ring me on" in c]
    [cy] = [c for c in cards if "A plain remark." in c]
    assert "<strong>Held:</strong> it may reveal personal details: a phone number" in bea
    assert 'data-private="1"' in bea and "Held:" not in cy
