"""An emailed reply's words are read for moderation (spam rules, the trained filter's
words, personal details) in the worker process that extracts it, not on the event
loop (mailbridge.moderate.analysis, issue 14); what the worker read is used only for
the very text that is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flows import moderation_email, reply_notification
from support import THREAD, reply_address, reply_to_notification, smtp_send, started, text_body

from mailbridge.app import Running
from mailbridge.clock import iso
from mailbridge.inbound import reply_text
from mailbridge.models import CommentStatus, NewComment, Source
from mailbridge.moderate import service as service_module
from mailbridge.moderate.analysis import analyse
from mailbridge.spam import rules, scorer
from mailbridge.store import comments, threads

READER = "reader002.4a549d@example.org"


def not_on_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's own ways of reading a comment's words now fail: a reply filed
    anyway was read by the worker (a process of its own, which these do not reach)."""

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a reply's words were read on the event loop")

    monkeypatch.setattr(service_module, "private_findings", fails)
    monkeypatch.setattr(reply_text, "comment_body", fails)  # the worker cleans the text too
    monkeypatch.setattr(rules, "text_features", fails)
    monkeypatch.setattr(scorer, "tokens", fails)


async def answer(daemon: Running, note: EmailMessage, body: str) -> str:
    """The notified reader answers ``note`` by email; the SMTP answer to DATA."""
    reply = reply_to_notification(note, body)
    return await smtp_send(daemon, READER, reply_address(note), reply.as_bytes())


async def status_of(daemon: Running, comment_id: int) -> tuple[CommentStatus, str | None]:
    comment = await daemon.store.read(lambda c: comments.get_comment(c, comment_id))
    assert comment is not None
    return comment.status, comment.held_reason


async def latest_comment_id(daemon: Running) -> int:
    async def work(conn: Any) -> int:
        async with conn.execute("SELECT max(id) FROM comments") as cur:
            return int((await cur.fetchone())[0])

    return await daemon.store.read(work)


@pytest.mark.asyncio
async def test_personal_details_in_an_emailed_reply_are_found_by_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with started(tmp_path) as daemon:
        assert daemon.pool.processes == 1  # the default: one worker process
        note = await reply_notification(daemon)
        not_on_the_event_loop(monkeypatch)
        # A right-to-left override: the worker drops it from the words it files.
        said = await answer(daemon, note, "Happy to talk\u202e more: call me on 07700 900123.")
        assert said.startswith("250 2.0.0 Thank you"), said
        moderation = await moderation_email(daemon, "Reader 002")
        assert "it may reveal personal details: a phone number" in text_body(moderation)
        comment_id = await latest_comment_id(daemon)
        status, held = await status_of(daemon, comment_id)
        assert status is CommentStatus.PENDING
        assert held == "it may reveal personal details: a phone number"
        filed = await daemon.store.read(lambda c: comments.get_comment(c, comment_id))
        assert filed is not None
        assert filed.body == "Happy to talk more: call me on 07700 900123.", repr(filed.body)


@pytest.mark.asyncio
async def test_spam_in_an_emailed_reply_is_scored_from_what_the_worker_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with started(tmp_path) as daemon:
        note = await reply_notification(daemon)
        not_on_the_event_loop(monkeypatch)
        promotion = "Check out my channel at www.cheap-views.tk and subscribe for free money!!"
        said = await answer(daemon, note, promotion)
        assert said.startswith("250 2.0.0 Thank you"), said
        status, held = await status_of(daemon, await latest_comment_id(daemon))
        # The links and the promotion were seen: to the spam folder, no moderation email.
        assert status is CommentStatus.SPAM
        assert held is not None and "links:1" in held and "promotion:" in held


@pytest.mark.asyncio
async def test_what_was_read_of_other_words_is_not_used(tmp_path: Path) -> None:
    async with started(tmp_path) as daemon:
        stale = analyse("Nothing personal here, and no links.")
        thread = await daemon.store.read(lambda c: threads.get_thread(c, key=THREAD))
        assert thread is not None
        new = NewComment(
            thread_id=thread.id,
            parent_id=2,
            author="Ann",
            body="Happy to talk more: call me on 07700 900123.",
            status=CommentStatus.PENDING,
            source=Source.EMAIL,
            created_at=iso(datetime.now(UTC)),
            email="ann@example.com",
        )
        comment = await daemon.service.submit(new, analysis=stale)
        assert comment.held_reason == "it may reveal personal details: a phone number"
