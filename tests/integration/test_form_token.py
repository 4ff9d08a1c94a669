"""The web form's time is the server's (issue 10): the widget is given a signed token as
it shows the form, and the server measures from it how long the form was open. Before,
the only measure was "elapsed", a number the client sends: a robot posting straight to
the API sent "elapsed": 60, or nothing, and was never timed.

A missing, forged or expired token is a weak signal, never a refusal (old widgets, other
clients of the API, a tab left open for days): at worst the comment goes to the spam
folder, where the author can rescue it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from flows import form_token
from support import THREAD, FakeClock, db_rows, import_seed, make_settings, no_dmarc_zone

from mailbridge.app import Running, running
from mailbridge.spam.form_token import make_form_token

LIMITS = {"web_comments_per_ip_per_hour": 1000, "comments_per_thread_per_hour": 1000}
# Capitals alone are one weak signal: a person's comment, held only with another.
SHOUTED = "THANK YOU SO MUCH FOR WRITING THIS"


@pytest_asyncio.fixture
async def timed(tmp_path: Path) -> AsyncIterator[tuple[Running, FakeClock]]:
    clock = FakeClock()
    settings = make_settings(tmp_path, limits=LIMITS)
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        yield daemon, clock


def api(daemon: Running, path: str) -> str:
    host, port = daemon.http_address
    return f"http://{host}:{port}/api/threads/{path}"


async def ask_form(session: aiohttp.ClientSession, daemon: Running, thread: str = THREAD) -> str:
    """What the widget does as it shows the form."""
    async with session.post(api(daemon, f"{thread}/form")) as r:
        assert r.status == 200
        # Never kept by a browser or a CDN: a cached token would date every reader's
        # form from the first one's.
        assert r.headers["Cache-Control"] == "no-store"
        token = (await r.json())["form"]
        assert isinstance(token, str)
        return token


async def send(session: aiohttp.ClientSession, daemon: Running, n: int, **fields: Any) -> str:
    """A comment posted; the status it was given (read from the store, as a held one
    is answered "pending" when its honeypot was filled)."""
    payload = {"author": f"Writer {n}", "email": f"writer{n}@example.net", **fields}
    async with session.post(api(daemon, f"{THREAD}/comments"), json=payload) as r:
        assert r.status == 202, await r.text()
        comment = (await r.json())["id"]
    [(status, reason)] = await db_rows(
        daemon, "SELECT status, held_reason FROM comments WHERE id = ?", comment
    )
    return f"{status}: {reason}" if reason else str(status)


@pytest.mark.asyncio
async def test_a_robot_cannot_claim_it_took_its_time(timed: tuple[Running, FakeClock]) -> None:
    daemon, clock = timed
    async with aiohttp.ClientSession() as session:
        token = await ask_form(session, daemon)
        # Sent at once, claiming a minute: the server's own measure says otherwise.
        robot = await send(session, daemon, 1, body="Great post.", elapsed=60, form=token)
        assert robot.startswith("spam: spam score") and "under two seconds" in robot
        clock.advance(40)  # a person, forty seconds later, with the same form
        assert await send(session, daemon, 2, body="Great post, truly.", form=token) == "pending"
        # The widget measures from the first keystroke, the token from when the form was
        # shown: a client may say it was quicker, never slower.
        quick = await send(session, daemon, 3, body="Great post, yes.", elapsed=0.5, form=token)
        assert quick.startswith("spam") and "under two seconds" in quick


@pytest.mark.asyncio
async def test_without_a_genuine_token_it_is_a_weak_signal_never_a_refusal(
    timed: tuple[Running, FakeClock],
) -> None:
    daemon, clock = timed
    async with aiohttp.ClientSession() as session:
        # A plain comment without a token (an old widget, a script of the blog's own)
        # waits for the moderator as before.
        assert await send(session, daemon, 1, body="A fair point, thank you.") == "pending"
        # With one more weak signal, it is held; it said "elapsed": 60 and was believed.
        held = await send(session, daemon, 2, body=SHOUTED, elapsed=60)
        assert held.startswith("spam: spam score") and "no form token" in held
        other = await ask_form(session, daemon, thread="some-other-post")
        wrong = await send(session, daemon, 3, body=SHOUTED + "!", form=other)
        assert "form token not genuine" in wrong
        for n, garbage in enumerate((12345, "x" * 32, ["a"], "é" * 32, "\ud800"), start=4):
            assert "form token not genuine" in await send(
                session, daemon, n, body=f"{SHOUTED} {n}", form=garbage
            )
        old = make_form_token(daemon.keyring.form, THREAD, clock.now() - timedelta(hours=49))
        assert "form token expired" in await send(session, daemon, 10, body=SHOUTED, form=old)
        # The same capitals from the widget, a minute after it showed the form: a person.
        clock.advance(60)
        token = await ask_form(session, daemon)
        clock.advance(60)
        assert await send(session, daemon, 11, body=SHOUTED + "!!", form=token) == "pending"
        # An hour's writing is not too long (the token lasts two days).
        clock.advance(3600)
        assert await send(session, daemon, 12, body=SHOUTED + " :)", form=token) == "pending"
        # The server's clock set back since the token was given: not timed, not doubted.
        clock.advance(-7200)
        assert await send(session, daemon, 13, body=SHOUTED + " :-)", form=token) == "pending"


@pytest.mark.asyncio
async def test_the_test_helper_posts_as_the_widget_does(daemon: Running) -> None:
    """flows.post_comment sends a token a minute old: other tests' comments are a
    person's, not a client's without a token."""
    token = form_token(daemon)
    async with aiohttp.ClientSession() as session:
        assert await send(session, daemon, 1, body=SHOUTED, form=token) == "pending"
