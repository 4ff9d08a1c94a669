"""Multi-step flows through the running daemon, shared by the integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from support import (
    AUTHOR_EMAIL,
    THREAD,
    FakeClock,
    db_rows,
    import_seed,
    is_notification,
    local,
    make_settings,
    moderation_links,
    no_dmarc_zone,
    of_kind,
    read_maildir,
    text_body,
    wait_for_mail,
)

from mailbridge.app import Running, running
from mailbridge.spam.form_token import make_form_token


def outbox_dir(daemon: Running) -> Path:
    return daemon.settings.data_path / "outbox"


def form_token(daemon: Running, thread: str = THREAD, seconds_ago: float = 60.0) -> str:
    """The token the widget is given as it shows the form, ``seconds_ago`` (the daemon's
    real clock): what a person sends who took that long to write."""
    shown = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return make_form_token(daemon.keyring.form, thread, shown)


async def post_comment(daemon: Running, thread: str = THREAD, **fields: object) -> int:
    """A comment posted through the comment API (202 pending) as the widget sends it,
    by a person who took a minute to write it; its id."""
    host, port = daemon.http_address
    payload = {"author": "Ann", "email": "ann@example.com", "body": "Thank you.", **fields}
    payload.setdefault("form", form_token(daemon, thread))
    url = f"http://{host}:{port}/api/threads/{thread}/comments"
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as resp:
        assert resp.status == 202, await resp.text()
        return int((await resp.json())["id"])


async def moderation_email(daemon: Running, author: str, count: int = 1) -> EmailMessage:
    """The latest moderation email about ``author``'s comment; waits (bounded) until at
    least ``count`` emails exist and one about ``author`` is among them."""
    for _ in range(200):
        mails = await wait_for_mail(outbox_dir(daemon), count)
        found = [
            m for m in of_kind(mails, "awaits moderation") if f"by {author} on" in m["Subject"]
        ]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no moderation email about {author}: {[m['Subject'] for m in mails]}")


async def follow(daemon: Running, link: str, method: str = "GET") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, local(link, daemon.http_address)) as resp,
    ):
        return resp.status, await resp.text()


async def approve(daemon: Running, moderation: EmailMessage) -> None:
    status, _page = await follow(daemon, moderation_links(moderation)["approve"], "POST")
    assert status == 200


async def notification_for(daemon: Running, to: str, count: int) -> EmailMessage:
    mails = await wait_for_mail(outbox_dir(daemon), count)
    found = [m for m in mails if m["To"].addresses[0].addr_spec == to and is_notification(m)]
    assert found, f"no notification to {to}"
    return found[-1]


async def reply_notification(daemon: Running) -> EmailMessage:
    """Ann answers seed comment 2 on the web; approving it notifies comment 2's author."""
    await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
    await approve(daemon, await moderation_email(daemon, "Ann", 1))
    return await notification_for(daemon, "reader002.4a549d@example.org", 2)


async def delivered(daemon: Running) -> None:
    """Wait (bounded) until the outbox has nothing left to send."""
    deadline = time.monotonic() + 10
    sql = "SELECT id FROM outbox WHERE status IN ('queued', 'sending')"
    while await db_rows(daemon, sql):
        assert time.monotonic() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.05)


def raw_mail_to(daemon: Running, address: str) -> list[bytes]:
    """The raw files in the Maildir whose To header names ``address``."""
    folder = outbox_dir(daemon) / "new"
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        raw = path.read_bytes()
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        if re.search(rb"^To:[^\r\n]*" + re.escape(address.encode()), head, re.MULTILINE):
            found.append(raw)
    return found


@contextlib.asynccontextmanager
async def batched_daemon(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    """A daemon whose notifications wait 600 s (of ``clock``) for their batch."""
    settings = make_settings(tmp_path, notifications={"batch_window_seconds": 600})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        yield daemon


async def window_closes(daemon: Running, clock: FakeClock) -> int:
    """The batch window passes: what waited is queued (how many) and delivered."""
    clock.advance(601)
    sent = await daemon.digester.run_once()
    await delivered(daemon)
    return sent


# The queue page's session (docs/moderation.md), as a moderator's browser holds it.


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
                # With its query (local() keeps the path alone): where it leads after.
                local(match, daemon.http_address) + ("?" + urlsplit(match).query) * ("?" in match)
                for m in found
                for match in re.findall(r"(http\S+/moderate/signin/\S+)", text_body(m))
            ]
        await asyncio.sleep(0.05)
    return []


async def signed_in(
    daemon: Running, session: aiohttp.ClientSession, email: str = AUTHOR_EMAIL
) -> str:
    """Ask for a link (as the thread's author), follow it, press Sign in; the queue page."""
    async with session.post(url(daemon, "/moderate"), data={"email": email}) as r:
        assert r.status == 200 and "a sign-in link is on its way" in await r.text()
    [link] = await sign_in_links(daemon, email)
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


def undo_of(page: str, comment_id: int) -> str:
    """The decision id in a comment's Undo form, as the browser sends it."""
    found = re.search(rf'name="comment" value="{comment_id}"><input type="hidden" '
                      r'name="decision" value="(\d+)"', page)  # fmt: skip
    assert found, f"no Undo for comment {comment_id}"
    return found.group(1)


async def sign_in_link(daemon: Running) -> str:
    for _ in range(100):  # bounded wait for the worker
        for mail in read_maildir(outbox_dir(daemon)):
            if "moderation queue" in str(mail["Subject"]):
                found = re.search(r"(http\S+/moderate/signin/\S+)", text_body(mail))
                assert found
                return found.group(1)
        await asyncio.sleep(0.05)
    raise AssertionError("no sign-in email")


async def signed_in_on_a_phone(daemon: Running, browser: Any, width: int = 390) -> Any:
    """A phone's page (390 px wide unless said), signed in through the form and the
    emailed link, in Chromium (tests/browser): the queue."""
    host, port = daemon.http_address
    page = await browser.new_page(viewport={"width": width, "height": 844})
    await page.goto(f"http://{host}:{port}/moderate")
    await page.get_by_label("Your moderator address").fill(AUTHOR_EMAIL)
    await page.get_by_role("button", name="Email me a sign-in link").click()
    await page.get_by_text("a sign-in link is on its way").wait_for()
    await page.goto(await sign_in_link(daemon))
    await page.get_by_role("button", name="Sign in").click()
    return page
