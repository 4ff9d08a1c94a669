"""Moderation emails built after the comment commits, by a worker process (issue 14).

A new comment's transaction leaves a row in moderation_mail_queue; the daemon's
moderation mailer builds the emails in its worker process and queues them. These
tests use the real daemon, its real worker process and a real Maildir."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
import aiosqlite
import pytest
from flows import moderation_email, outbox_dir, post_comment, reply_notification
from support import (
    import_seed,
    make_settings,
    no_dmarc_zone,
    read_maildir,
    reply_to_notification,
    smtp_send,
    until,
)

from mailbridge.app import Running, open_store, running
from mailbridge.clock import iso
from mailbridge.models import CommentStatus, NewComment, Source
from mailbridge.store import comments, moderation_queue
from mailbridge.store import threads as thread_store

THREAD_KEY = "attachment-theory-healing-relationship"


async def leave_queued(tmp_path: Path, body: str, status: CommentStatus) -> int:
    """What a stop right after a comment's commit leaves: the comment and its row."""
    settings = make_settings(tmp_path)
    await import_seed(settings)
    store = await open_store(settings)
    try:

        async def work(conn: aiosqlite.Connection) -> int:
            thread = await thread_store.get_thread(conn, key=THREAD_KEY)
            assert thread is not None
            new = NewComment(
                thread_id=thread.id,
                parent_id=None,
                author="Left Behind",
                body=body,
                status=status,
                source=Source.WEB,
                created_at=iso(datetime.now(UTC)),
                email="left@example.org",
            )
            comment_id, _ = await comments.insert_comment(conn, new)
            await moderation_queue.add(conn, comment_id, None, new.created_at)
            return comment_id

        return await store.write(work)
    finally:
        await store.close()


async def queue_empty(daemon: Running) -> bool:
    return await daemon.store.read(moderation_queue.waiting) == 0


@pytest.mark.asyncio
async def test_a_comment_left_queued_by_a_stop_is_mailed_at_the_next_start(
    tmp_path: Path,
) -> None:
    await leave_queued(tmp_path, "Words that came just before the stop.", CommentStatus.PENDING)
    settings = make_settings(tmp_path)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        mail = await moderation_email(daemon, "Left Behind")
        assert "Words that came just before the stop." in mail.get_body(("plain",)).get_content()
        await until("the queue to empty", lambda: queue_empty(daemon))


@pytest.mark.asyncio
async def test_a_comment_decided_before_its_email_was_built_gets_none(tmp_path: Path) -> None:
    await leave_queued(tmp_path, "Approved from the queue page already.", CommentStatus.APPROVED)
    settings = make_settings(tmp_path)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        await until("the queue to empty", lambda: queue_empty(daemon))
        # A comment posted after it is mailed: the mailer ran past the decided one.
        await post_comment(daemon, author="Later", body="A later comment.")
        await moderation_email(daemon, "Later")
        subjects = [str(m["Subject"]) for m in read_maildir(outbox_dir(daemon))]
        assert not [s for s in subjects if "Left Behind" in s], subjects


@pytest.mark.asyncio
async def test_the_worker_process_does_the_work_and_a_killed_one_is_replaced(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        [worker] = daemon.pool.worker_pids()
        assert worker != os.getpid()
        notification = await reply_notification(daemon)  # its moderation email was built there
        os.kill(worker, signal.SIGKILL)
        sender = notification["To"].addresses[0].addr_spec
        raw = reply_to_notification(notification, "Written while the worker was replaced.")
        answers = []
        for _ in range(3):  # as a sending server retries a 4xx
            try:
                answer = await smtp_send(
                    daemon, sender, str(notification["Reply-To"]), raw.as_bytes()
                )
            except aiosmtplib.SMTPDataError as exc:  # the one in flight when it died
                assert exc.code == 451, exc
                answers.append(f"{exc.code} {exc.message}")
                await asyncio.sleep(0.2)
                continue
            answers.append(answer)
            break
        assert answers[-1].startswith("250"), answers
        mail = await moderation_email(daemon, "Reader 002", 3)
        assert "Written while the worker was replaced." in mail.get_body(("plain",)).get_content()
        [replacement] = daemon.pool.worker_pids()
        assert replacement != worker
