"""Migration 0033: mailbridge_messages_received_total counts each message under its
first outcome (inbound_messages.counted_as). An upgrade takes nothing off any series
the counter had (Prometheus would read a reset), and a message processed again later
stays counted once, under its first outcome."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mailbridge.metrics.families import snapshot
from mailbridge.store import Store, inbound, migrations
from mailbridge.store.inbound import Disposition
from mailbridge.store.migrations import split_statements

OLD = [("accepted", "data"), ("accepted", "data"), ("held", "data"), ("received", "data"),
       ("refused", "rcpt"), ("bounce", "data")]  # fmt: skip


def _old_database(path: Path) -> dict[str, int]:
    """A database of the 0032 release with a message of each kind; what the counter
    said of it then (by status)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        for migration in migrations.migrations():
            if migration.name >= "0033":
                break
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (migration.name,))
        for n, (status, stage) in enumerate(OLD):
            conn.execute(
                "INSERT INTO inbound_messages (dedup_key, stage, received_at, peer, helo, "
                "mail_from, rcpt_to, size, status) VALUES (?, ?, '2026-12-01T00:00:00+00:00', "
                "'127.0.0.1', 'h', 'a@example.org', 'b@example.org', 1, ?)",
                (None if stage == "rcpt" else f"k{n}", stage, status),
            )
        conn.commit()
        return dict(conn.execute("SELECT status, count(*) FROM inbound_messages GROUP BY 1"))


@pytest.mark.asyncio
async def test_an_upgrade_takes_nothing_off_and_a_reprocess_counts_nothing_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    before = _old_database(path)
    store = await Store.open(path)
    try:
        after = (await store.read(lambda c: snapshot(c, 0.0))).received
        assert after == {k: v for k, v in before.items() if k != "received"}
        assert (await store.read(lambda c: snapshot(c, 0.0))).inbound_unprocessed == 1
        [(kept,)] = await store.read(lambda c: _all(c, "SELECT id FROM inbound_messages "
                                                       "WHERE status = 'received'"))  # fmt: skip
        # Its sender's retry filed (the 451's cause fixed): counted once it has an outcome.
        await store.write(lambda c: inbound.set_outcome(c, kept, Disposition.ACCEPTED))
        filed = (await store.read(lambda c: snapshot(c, 0.0))).received
        assert filed == {**after, "accepted": after["accepted"] + 1}
        # `mailbridge reprocess` moves it (and a held one) to another outcome: no
        # series goes down, none counts it again.
        [(held,)] = await store.read(lambda c: _all(c, "SELECT id FROM inbound_messages "
                                                       "WHERE status = 'held'"))  # fmt: skip
        await store.write(lambda c: inbound.set_outcome(c, kept, Disposition.HELD))
        await store.write(lambda c: inbound.set_outcome(c, held, Disposition.ACCEPTED))
        assert (await store.read(lambda c: snapshot(c, 0.0))).received == filed
    finally:
        await store.close()


async def _all(conn: object, sql: str) -> list[tuple[object, ...]]:
    async with conn.execute(sql) as cur:  # type: ignore[attr-defined]
        return [tuple(row) for row in await cur.fetchall()]
