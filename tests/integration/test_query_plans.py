"""No per-message cost that grows with the data (issue 14): every statement the daemon
runs while a comment is posted, moderated, notified, answered by email and delivered
finds its rows through an index, never by reading a whole table that grows with use.

The statements are caught as SQLite runs them (a trace callback on the daemon's own
connections) and each one's plan is asked of SQLite afterwards, so a new query that
scans is found whatever module it lives in."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from flows import approve, moderation_email, reply_notification
from support import reply_to_notification, smtp_send, started, until

from mailbridge.app import Running

# Tables whose rows grow with comments, mail and people. Small fixed tables (threads'
# settings, spam word counts read by key, the schema's own) may be scanned.
GROWING = {
    "addresses",
    "address_trust",
    "comments",
    "comment_edits",
    "inbound_messages",
    "moderation_decisions",
    "outbox",
    "pending_notifications",
    "spam_trained_comments",
    "subscriptions",
    "threads",
}
# Reads of everything on purpose, never on a message's path: housekeeping (once an
# hour), the start-up recovery of the outbox.
WHOLE_TABLE_ON_PURPOSE = ("UPDATE inbound_messages SET raw = NULL",)


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


@pytest.mark.asyncio
async def test_the_reply_path_reads_no_table_whole(tmp_path: Path) -> None:
    statements: set[str] = set()
    async with started(tmp_path) as daemon:
        await traced(daemon, statements)
        # A web comment, its moderation email and approval, the notification to the
        # person answered...
        notification = await reply_notification(daemon)
        # ...their reply by email, filed, moderated and published.
        reply_to = str(notification["Reply-To"])
        sender = notification["To"].addresses[0].addr_spec
        raw = reply_to_notification(notification, "Thank you, this helped me a lot.")
        answer = await smtp_send(daemon, sender, reply_to, raw.as_bytes())
        assert answer.startswith("250"), answer
        moderation = await moderation_email(daemon, "Ann", 3)
        await approve(daemon, moderation)
        await until(
            "the outbox to be sent",
            lambda: _all_sent(daemon),
        )
        await daemon.store.trace(None)
        db = daemon.settings.database_path
    assert len(statements) > 40, "the trace saw the daemon's statements"
    assert any("FROM comments" in s for s in statements)
    found = scans(db, statements)
    assert not found, "\n".join(f"{sql}\n    {plan}" for sql, plan in found.items())


async def _all_sent(daemon: Running) -> bool:
    # Its own connection: this test's query is not the daemon's.
    with sqlite3.connect(daemon.settings.database_path) as conn:
        row = conn.execute("SELECT count(*) FROM outbox WHERE status != 'sent'").fetchone()
    return bool(row[0] == 0)
