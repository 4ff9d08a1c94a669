"""The disk full, or the database read-only, while replies arrive over SMTP.

Injected on the daemon's own writer connection (SQLite's ``max_page_count``: the file
may not grow, which SQLite reports as SQLITE_FULL exactly as for a full disk; and
``query_only``: every write is refused as on read-only storage). While it lasts, DATA
is answered 451 (never 250), the web API answers 503 and /healthz says writes fail;
once space returns, the same message sent again is filed once, with no restart.

On PostgreSQL the read-only case runs too (``default_transaction_read_only`` on the
writer's session: what a standby or a database set read-only answers, SQLSTATE 25006).
The full disk is SQLite's only: PostgreSQL's would need a file system that fills up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from flows import approve, moderation_email, notification_for, post_comment
from support import db_rows, reply_address, reply_to_notification, smtp_send

from mailbridge.app import Running
from mailbridge.store.engine import dialect_of


async def send(daemon: Running, sender: str, rcpt: str, raw: bytes) -> str:
    """What the SMTP service answered to DATA: "code text", whatever the code."""
    try:
        return await smtp_send(daemon, sender, rcpt, raw)
    except aiosmtplib.SMTPResponseException as exc:
        return f"{exc.code} {exc.message}"


async def healthz(daemon: Running) -> int:
    host, port = daemon.http_address
    async with aiohttp.ClientSession() as s, s.get(f"http://{host}:{port}/healthz") as resp:
        return resp.status


async def web_comment(daemon: Running) -> int:
    host, port = daemon.http_address
    url = f"http://{host}:{port}/api/threads/attachment-theory-healing-relationship/comments"
    body = {"author": "Bo", "email": "bo@example.com", "body": "Posted while it was broken."}
    async with aiohttp.ClientSession() as s, s.post(url, json=body) as resp:
        return resp.status


@asynccontextmanager
async def disk_full(daemon: Running) -> AsyncIterator[None]:
    writer = daemon.store._writer
    assert writer is not None
    [(pages,)] = await writer.execute_fetchall("PRAGMA page_count")
    await writer.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        await writer.execute("PRAGMA max_page_count = 1073741823")


@asynccontextmanager
async def read_only(daemon: Running) -> AsyncIterator[None]:
    writer = daemon.store._writer
    assert writer is not None
    if dialect_of(writer) == "postgresql":
        # Set in a unit of work of the store's own, so that no transaction of the
        # daemon's is open on the session; a SET outlives the COMMIT.
        await _on_writer(daemon, "SET default_transaction_read_only = on")
        try:
            yield
        finally:
            await _on_writer(daemon, "SET default_transaction_read_only = off")
        return
    await writer.execute("PRAGMA query_only = ON")
    try:
        yield
    finally:
        await writer.execute("PRAGMA query_only = OFF")


async def _on_writer(daemon: Running, statement: str) -> None:
    async def work(conn: Any) -> None:
        await conn.execute(statement)

    await daemon.store.write(work)


DISK_FULL = pytest.param(
    disk_full,
    id="disk full",
    marks=pytest.mark.sqlite_only(
        "a full disk is injected with SQLite's max_page_count; PostgreSQL's would need a "
        "file system that fills up (the read-only case runs on both)"
    ),
)


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", [DISK_FULL, read_only], ids=["disk full", "read-only"])
async def test_storage_that_cannot_write_gets_4xx_then_recovers_by_itself(
    daemon: Running,
    fault: Callable[[Running], AbstractAsyncContextManager[None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    comment_id = await post_comment(daemon, parent=2, body="Answering you.")
    await approve(daemon, await moderation_email(daemon, "Ann"))
    [(person,)] = await db_rows(
        daemon, "SELECT a.email FROM comments c JOIN addresses a ON a.id = c.address_id "
        "WHERE c.id = 2"
    )  # fmt: skip
    notice = await notification_for(daemon, person, 2)
    words = "Long enough words to need a new page in the database. " * 200
    raw = reply_to_notification(notice, words, sender=person).as_bytes()
    before = await db_rows(daemon, "SELECT count(*) FROM inbound_messages")

    async with fault(daemon):
        answer = await send(daemon, person, reply_address(notice), raw)
        assert answer.startswith("451 4.3.0"), answer  # never 250: nothing was committed
        assert await web_comment(daemon) == 503
        assert await healthz(daemon) == 503
        assert await db_rows(daemon, "SELECT count(*) FROM inbound_messages") == before
    assert "Traceback" not in caplog.text  # an operating condition: one line each
    assert "SMTP: database cannot take writes" in caplog.text

    # Space returns; the sending server retries the same message: filed, once, with no
    # restart. (/healthz keeps saying "failing" for up to a minute after a failed write,
    # or until a write succeeds, as this one does: taking the lock alone proves no space.)
    answer = await send(daemon, person, reply_address(notice), raw)
    assert answer.startswith("250"), answer
    assert await healthz(daemon) == 200
    again = await send(daemon, person, reply_address(notice), raw)
    assert again.startswith("250"), again  # a duplicate delivery: accepted, not filed twice
    filed = await db_rows(
        daemon, "SELECT parent_id, status FROM comments WHERE body LIKE 'Long enough words%'"
    )
    assert filed == [(comment_id, "pending")]
    assert await web_comment(daemon) == 202
