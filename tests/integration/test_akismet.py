"""The optional Akismet check (issue 10), against a local fake of Akismet's
comment-check endpoint (the real one needs the internet). The fake records what it
was sent; its answers follow Akismet's documented protocol: "true"/"false" bodies,
"X-akismet-pro-tip: discard", "invalid" with a debug header for a bad key."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from click.testing import CliRunner
from flows import follow, moderation_email, reply_notification
from support import (
    THREAD,
    db_rows,
    local_http,
    moderation_links,
    reply_address,
    reply_to_notification,
    smtp_send,
    started,
    until,
)

from mailbridge.app import Running
from mailbridge.cli import cli
from mailbridge.housekeeping import Housekeeping
from mailbridge.models import Channel, CommentStatus, Decider
from mailbridge.people import data as people
from mailbridge.spam import akismet_feedback
from mailbridge.spam.rules import rule_score
from mailbridge.tokens import Action

READER = "reader002.4a549d@example.org"


KEY = "test-key-123"
THANKS = "Thanks for making the web a better place."


class FakeAkismet:
    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        # submit-spam and submit-ham: (method, form, the status answered)
        self.reports: list[tuple[str, dict[str, str], int]] = []
        self.down = False

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "comment-check":
            return await self.comment_check(request)
        form = {k: str(v) for k, v in (await request.post()).items()}
        if method not in ("submit-spam", "submit-ham"):
            return web.Response(status=404, text="no such method")
        status = 503 if self.down else 200
        self.reports.append((method, form, status))
        if self.down:
            return web.Response(status=503, text="busy")
        if form.get("api_key") != KEY:
            return web.Response(text="invalid", headers={"X-akismet-debug-help": "bad key"})
        return web.Response(text=THANKS)

    async def comment_check(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.seen.append(form)
        if form.get("api_key") != KEY:
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
    async with local_http("/1.1/{method}", fake.handle) as base:
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
    spam = {"akismet_key": KEY, "akismet_url": url, "akismet_timeout_seconds": 2.0}
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
    async with started(tmp_path, spam={"akismet_key": KEY, "akismet_url": url}) as d:
        note = await reply_notification(d)  # Ann's web comment: checked
        assert len(fake.seen) == 1
        reply = reply_to_notification(note, "Thanks, Ann: ring the bell for me.")
        response = await smtp_send(d, READER, reply_address(note), reply.as_bytes())
        assert response.startswith("250")
        await moderation_email(d, "Reader 002", 3)  # filed, waiting for the moderator
        assert len(fake.seen) == 1  # the emailed reply never went to Akismet


# Retries at once: a report that failed is tried again within a second.
FAST = {"retry_base_seconds": 0.2, "retry_max_seconds": 0.4}
CLI = Decider(Channel.CLI, None)
BELL, FAIR, OTHER = "Please ring the bell.", "A fair point, thank you.", "Another point, thanks."


def reporting(url: str) -> dict[str, object]:
    """Akismet on, against the fake (2 s: the fake runs on the test's own event loop)."""
    return {"akismet_key": KEY, "akismet_url": url, "akismet_timeout_seconds": 2.0}


async def reports(fake: FakeAkismet, count: int) -> list[tuple[str, dict[str, str], int]]:
    """The reports Akismet accepted, once there are ``count`` of them (bounded wait)."""

    async def accepted() -> list[tuple[str, dict[str, str], int]]:
        done = [r for r in fake.reports if r[2] == 200]
        return done if len(done) >= count else []

    return list(await until(f"{count} report(s) to Akismet", accepted, seconds=20))


async def settled(daemon: Running) -> list[tuple[object, ...]]:
    """The Akismet rows of the outbox, once each has its outcome (bounded wait)."""

    async def done() -> list[tuple[object, ...]]:
        rows = await db_rows(daemon, "SELECT status FROM outbox WHERE kind = 'akismet'")
        return rows if rows and all(r[0] == "sent" for r in rows) else []

    return list(await until("the reports' outcomes", done, seconds=20))


@pytest.mark.asyncio
async def test_the_moderators_corrections_are_reported_with_what_was_checked(
    tmp_path: Path, akismet: tuple[FakeAkismet, str]
) -> None:
    fake, url = akismet
    async with started(tmp_path, spam=reporting(url), outbound=FAST) as daemon:
        bell = await post(daemon, "Bell", BELL)  # Akismet: spam
        assert bell["status"] == "spam"
        fair = await post(daemon, "Reader", FAIR)  # Akismet: not spam
        other = await post(daemon, "Other", OTHER)  # not spam
        checked = {f["comment_content"]: f for f in fake.seen}
        # The author taps Spam in the moderation email of a comment Akismet passed...
        mail = await moderation_email(daemon, "Reader", 1)
        status, _page = await follow(daemon, moderation_links(mail)["spam"], "POST")
        assert status == 200
        # ...rescues the one it called spam, and approves one it passed (no news to it).
        await daemon.service.moderate(int(bell["id"]), Action.APPROVE, CLI)
        await daemon.service.moderate(int(other["id"]), Action.APPROVE, CLI)
        told = {method: form for method, form, _ in await reports(fake, 2)}
        assert set(told) == {"submit-spam", "submit-ham"}
        for method, body in (("submit-spam", FAIR), ("submit-ham", BELL)):
            form = told[method]
            # The very fields comment-check was sent (as Akismet asks), and the key.
            assert form == checked[body], method
            assert form["api_key"] == KEY and form["user_ip"] == "127.0.0.1"
            assert form["user_agent"] == "TestBrowser/1.0" and "comment_author_email" not in form
        # One report per disagreement: the approval Akismet agreed with queued none.
        assert len(await settled(daemon)) == 2
        rows = await db_rows(
            daemon,
            "SELECT m.message FROM outbox o JOIN outbox_messages m ON m.outbox_id = o.id "
            "WHERE o.kind = 'akismet'",
        )
        for (message,) in rows:  # the outbox holds the comment's id, not the fields
            assert b"127.0.0.1" not in bytes(message) and KEY.encode() not in bytes(message)
        # The operator's view of one: what was posted where, no mail envelope or headers.
        [(first,)] = await db_rows(daemon, "SELECT min(id) FROM outbox WHERE kind = 'akismet'")
        shown = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            ["outbox", str(first), "--data-dir", str(daemon.settings.data_path)],
        )
        assert shown.exit_code == 0, shown.output
        assert f"posts        submit-spam to {url}" in shown.output, shown.output
        assert "headers" not in shown.output and "MAIL FROM" not in shown.output
        believed = await db_rows(
            daemon, "SELECT comment_id, believed, wanted FROM akismet_checks ORDER BY comment_id"
        )
        assert believed == [
            (int(bell["id"]), "ham", "ham"),
            (int(fair["id"]), "spam", "spam"),
            (int(other["id"]), "ham", "ham"),
        ]


@pytest.mark.asyncio
async def test_a_rescue_alone_tells_akismet_at_once(
    tmp_path: Path, akismet: tuple[FakeAkismet, str]
) -> None:
    # The rescue of a top-level comment notifies nobody: the report it queued must
    # still wake the outbox (it waited for the idle poll, a minute).
    fake, url = akismet
    async with started(tmp_path, spam=reporting(url), outbound=FAST) as daemon:
        bell = await post(daemon, "Bell", BELL)  # Akismet: spam
        assert bell["status"] == "spam"
        await daemon.service.moderate(int(bell["id"]), Action.APPROVE, CLI)
        [(method, _form, _status)] = await reports(fake, 1)
        assert method == "submit-ham"


@pytest.mark.asyncio
async def test_a_report_outlasts_a_failure_and_says_the_latest_decision(
    tmp_path: Path, akismet: tuple[FakeAkismet, str]
) -> None:
    fake, url = akismet
    async with started(tmp_path, spam=reporting(url), outbound=FAST) as daemon:
        fake.down = True
        changed = await post(daemon, "Reader", FAIR)
        later = await post(daemon, "Other", OTHER)
        await daemon.service.moderate(int(changed["id"]), Action.SPAM, CLI)
        await until("a refused report", lambda: _async(any(r[2] == 503 for r in fake.reports)))
        # The author changes their mind back to what Akismet believed: nothing to tell.
        await daemon.service.moderate(int(changed["id"]), Action.APPROVE, CLI)
        await daemon.service.moderate(int(later["id"]), Action.SPAM, CLI)
        fake.down = False
        (method, form, _), *_rest = await reports(fake, 1)
        assert (method, form["comment_content"]) == ("submit-spam", OTHER)
        assert len(await settled(daemon)) == 2
        # The first report, retried after the author's change of mind, told nothing.
        assert [r[1]["comment_content"] for r in fake.reports if r[2] == 200] == [OTHER]


async def _async(value: object) -> object:
    return value


@pytest.mark.asyncio
async def test_what_akismet_was_sent_is_exported_erased_and_forgotten_after_30_days(
    tmp_path: Path, akismet: tuple[FakeAkismet, str]
) -> None:
    _fake, url = akismet
    spam = {"akismet_key": KEY, "akismet_url": url}
    async with started(tmp_path, spam=spam) as daemon:
        await post(daemon, "Reader", FAIR)  # from someone@example.net
        await post(daemon, "Other", OTHER, email="other@example.net")
        held = await daemon.store.read(lambda c: people.export(c, "someone@example.net"))
        [check] = held["akismet_checks"]
        assert check["form"]["user_ip"] == "127.0.0.1" and check["believed"] == "ham"
        await daemon.store.write(
            lambda c: people.erase(c, "someone@example.net", False, datetime.now(UTC))
        )
        rows = await db_rows(daemon, "SELECT form FROM akismet_checks")
        assert len(rows) == 1 and OTHER in rows[0][0]  # the other person's stays

        class Later:
            def now(self) -> datetime:
                return datetime.now(UTC) + timedelta(days=akismet_feedback.KEEP_DAYS, hours=1)

        await daemon.store.write(Housekeeping(daemon.store, Later(), 30, sent_days=90).work)
        assert await db_rows(daemon, "SELECT form FROM akismet_checks") == []


@pytest.mark.asyncio
async def test_an_undone_spam_is_not_reported(
    tmp_path: Path, akismet: tuple[FakeAkismet, str]
) -> None:
    """Spam tapped by mistake and undone at once, while Akismet is down: the report
    still waiting must not go out as submit-spam when Akismet is back."""
    fake, url = akismet
    async with started(tmp_path, spam=reporting(url), outbound=FAST) as daemon:
        fake.down = True
        await post(daemon, "Reader", FAIR)  # Akismet: not spam
        later = await post(daemon, "Other", OTHER)
        mail = await moderation_email(daemon, "Reader", 1)
        status, page = await follow(daemon, moderation_links(mail)["spam"], "POST")
        assert status == 200
        await until("a refused report", lambda: _async(any(r[2] == 503 for r in fake.reports)))
        undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
        assert undo is not None
        status, page = await follow(daemon, undo.group(1), "POST")
        assert status == 200 and "Undone" in page
        await daemon.service.moderate(int(later["id"]), Action.SPAM, CLI)
        fake.down = False
        (method, form, _), *_rest = await reports(fake, 1)
        assert (method, form["comment_content"]) == ("submit-spam", OTHER)
        assert len(await settled(daemon)) == 2
        assert [r[1]["comment_content"] for r in fake.reports if r[2] == 200] == [OTHER]


@pytest.mark.asyncio
async def test_not_spam_into_the_queue_tells_akismet_it_was_ham(
    tmp_path: Path, akismet: tuple[FakeAkismet, str]
) -> None:
    """The spam folder's "Not spam: to the queue" (docs/spam.md) says ham, as
    WordPress's Not Spam does; an Undo back to pending says nothing (its own test)."""
    fake, url = akismet
    async with started(tmp_path, spam=reporting(url), outbound=FAST) as daemon:
        bell = await post(daemon, "Bell", BELL)  # Akismet: spam
        assert bell["status"] == "spam"
        moderator = Decider(Channel.QUEUE, None)
        outcome = await daemon.service.rescue(int(bell["id"]), moderator)
        assert outcome.changed and outcome.comment.status.value == "pending"
        [(method, form, _status)] = await reports(fake, 1)
        assert method == "submit-ham" and form["comment_content"] == BELL


@pytest.mark.asyncio
async def test_an_undone_rescue_is_not_reported_as_spam(
    tmp_path: Path, akismet: tuple[FakeAkismet, str]
) -> None:
    """Akismet passed it, the rules sent it to the spam folder; the author rescued it by
    mistake and undid that on the queue page. The Undo went out as submit-spam: the
    filter's verdict, reported as the author's."""
    fake, url = akismet
    async with started(tmp_path, spam=reporting(url), outbound=FAST) as daemon:
        rescued = await post(daemon, "Robot", "Check out my channel!!! http://spam.example/w")
        assert rescued["status"] == "spam"  # the rules', Akismet said "false"
        fair = await post(daemon, "Reader", FAIR)
        by = Decider(Channel.QUEUE, None)
        await daemon.service.moderate(int(rescued["id"]), Action.APPROVE, by)
        standing = await daemon.service.standing_decision(int(rescued["id"]), 30)
        assert standing is not None
        undone = await daemon.service.undo(
            int(rescued["id"]), CommentStatus.APPROVED, CommentStatus.SPAM, by, standing.id
        )
        assert undone is not None and undone.comment.status is CommentStatus.SPAM
        await daemon.service.moderate(int(fair["id"]), Action.SPAM, CLI)
        await reports(fake, 1)
        await settled(daemon)
        assert [r[1]["comment_content"] for r in fake.reports if r[2] == 200] == [FAIR]
