"""No per-message cost that grows with the data (issue 14): every statement the daemon
runs while a comment is posted, moderated, notified, answered by email and delivered
finds its rows through an index, never by reading a whole table that grows with use.

The statements are caught as SQLite runs them (a trace callback on the daemon's own
connections) and each one's plan is asked of SQLite afterwards, so a new query that
scans is found whatever module it lives in.

The same on PostgreSQL, whichever engine the suite runs on: the statements are caught
on the daemon's two connections with their parameters, and each one's plan is asked
with sequential scans disabled, so that a table read whole means that no index serves
the statement (PostgreSQL's planner reads a small table whole even where one would)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from flows import approve, moderation_email, reply_notification
from support import THREAD, reply_to_notification, smtp_send, started, store_rows, until

from mailbridge.app import Running
from mailbridge.store.postgres.connection import connect

# Tables whose rows grow with comments, mail and people. Small fixed tables (threads'
# settings, spam word counts read by key, the schema's own) may be scanned.
GROWING = {
    "addresses",
    "address_trust",
    "akismet_checks",
    "comments",
    "comment_edits",
    "inbound_messages",
    "inbound_raw",
    "moderation_decisions",
    "outbox",
    "outbox_messages",
    "outbox_items",
    "pending_notifications",
    "spam_trained_comments",
    "subscriptions",
    "threads",
}
# Reads of everything on purpose, never on a message's path: housekeeping (once an
# hour), the start-up recovery of the outbox.
WHOLE_TABLE_ON_PURPOSE = ("DELETE FROM inbound_raw", "DELETE FROM outbox_messages")


def scans(db: Path, statements: set[str]) -> dict[str, list[str]]:
    """Statement -> the plan lines that read a growing table whole."""
    found: dict[str, list[str]] = {}
    conn = sqlite3.connect(db)
    try:
        for sql in sorted(statements):
            try:
                plan = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            except sqlite3.Error:
                continue  # not a plannable statement (PRAGMA, BEGIN...)
            bad = [
                row[3]
                for row in plan
                if (m := re.match(r"SCAN (\w+)", row[3])) and m.group(1) in GROWING
            ]
            if bad and not sql.startswith(WHOLE_TABLE_ON_PURPOSE):
                found[" ".join(sql.split())[:300]] = bad
    finally:
        conn.close()
    return found


async def traced(daemon: Running, statements: set[str]) -> None:
    def keep(sql: str) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            statements.add(sql)

    await daemon.store.trace(keep)


async def reply_path(daemon: Running) -> None:
    """A web comment, its moderation email and approval, the notification to the
    person answered; their reply by email, filed, moderated, published and sent."""
    notification = await reply_notification(daemon)
    reply_to = str(notification["Reply-To"])
    sender = notification["To"].addresses[0].addr_spec
    raw = reply_to_notification(notification, "Thank you, this helped me a lot.")
    answer = await smtp_send(daemon, sender, reply_to, raw.as_bytes())
    assert answer.startswith("250"), answer
    moderation = await moderation_email(daemon, "Ann", 3)
    await approve(daemon, moderation)
    await until("the outbox to be sent", lambda: _all_sent(daemon))
    await read_thread(daemon)


async def read_thread(daemon: Running) -> None:
    """The thread read as its readers read it: whole, paged, through one comment, and
    its page (a read of the thread's comments, through the thread's indexes)."""
    host, port = daemon.http_address
    base = f"http://{host}:{port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/api/threads/{THREAD}/comments?limit=2") as resp:
            first = await resp.json()
        last = first["comments"][-1]["id"]
        for path in (
            f"/api/threads/{THREAD}/comments",
            first["next"],
            f"/api/threads/{THREAD}/comments?limit=1&through={last}",
            f"/threads/{THREAD}?limit=2&after={last}",
        ):
            async with session.get(base + path) as resp:
                assert resp.status == 200, path


async def _all_sent(daemon: Running) -> bool:
    # A store of its own: this test's query is not the daemon's.
    unsent = "SELECT count(*) FROM outbox WHERE status != 'sent'"
    return await store_rows(daemon.settings, unsent) == [(0,)]


@pytest.mark.sqlite_only(
    "asks SQLite's EXPLAIN QUERY PLAN of the statements its trace callback saw; "
    "the PostgreSQL counterpart is test_the_reply_path_reads_no_table_whole_on_postgresql"
)
@pytest.mark.asyncio
async def test_the_reply_path_reads_no_table_whole(tmp_path: Path) -> None:
    statements: set[str] = set()
    async with started(tmp_path) as daemon:
        await traced(daemon, statements)
        await reply_path(daemon)
        await daemon.store.trace(None)
        db = daemon.settings.database_path
    assert len(statements) > 40, "the trace saw the daemon's statements"
    assert any("FROM comments" in s for s in statements)
    found = scans(db, statements)
    assert not found, "\n".join(f"{sql}\n    {plan}" for sql, plan in found.items())


# -- PostgreSQL -------------------------------------------------------------------------

Caught = dict[str, Sequence[Any]]


def _record(conn: Any, caught: Caught) -> None:
    """Keep each statement ``conn`` runs, with the parameters of its first run."""
    execute, executemany = conn.execute, conn.executemany

    def recording(sql: str, parameters: Sequence[Any] | None = None) -> Any:
        if sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            caught.setdefault(sql, parameters or ())
        return execute(sql, parameters)

    def recording_many(sql: str, parameters: Iterable[Sequence[Any]]) -> Any:
        rows = list(parameters)
        if rows:
            caught.setdefault(sql, rows[0])
        return executemany(sql, rows)

    # Instance attributes, over the class's methods, for this daemon's connections only.
    conn.execute, conn.executemany = recording, recording_many


def _whole_reads(plan: dict[str, Any]) -> list[str]:
    """The sequential scans of growing tables in a JSON plan. (An index walked whole
    is not counted: on the test's few rows the planner may walk a small partial index
    instead of looking up a key, a choice by size that more rows change.)"""
    found = []
    table = plan.get("Relation Name")
    if table in GROWING and plan["Node Type"] == "Seq Scan":
        found.append(f"{plan['Node Type']} on {table}")
    for child in plan.get("Plans", ()):
        found += _whole_reads(child)
    return found


async def pg_scans(url: str, caught: Caught) -> dict[str, list[str]]:
    conn = await connect(url)
    found: dict[str, list[str]] = {}
    try:
        # Off, a sequential scan is chosen only where no index can serve at all.
        await conn.execute("SET enable_seqscan = off")
        for sql, parameters in sorted(caught.items()):
            if sql.startswith(WHOLE_TABLE_ON_PURPOSE):
                continue
            async with conn.execute("EXPLAIN (FORMAT JSON) " + sql, parameters) as cur:
                [(plan,)] = await cur.fetchall()
            bad = _whole_reads(plan[0]["Plan"])
            if bad:
                found[" ".join(sql.split())[:300]] = bad
    finally:
        await conn.close()
    return found


@pytest.mark.asyncio
async def test_the_reply_path_reads_no_table_whole_on_postgresql(
    tmp_path: Path, pg_database: str
) -> None:
    caught: Caught = {}
    async with started(tmp_path, data_url=pg_database) as daemon:
        store = daemon.store
        for conn in (store._writer, store._reader):
            _record(conn, caught)
        await reply_path(daemon)
    assert len(caught) > 40, "the daemon's statements were caught"
    assert any("FROM comments" in s for s in caught)
    found = await pg_scans(pg_database, caught)
    assert not found, "\n".join(f"{sql}\n    {plan}" for sql, plan in found.items())
