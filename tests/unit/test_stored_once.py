"""Message bytes are written once: a received message's raw bytes (migration 0025) and
an outgoing message's composed bytes (0026) are tables of their own, so the changes to
their rows (an outcome, a redelivery's count; a VERP sender, a lease, sent) do not
write them again; retention and erasure delete them; an upgrade keeps what was stored."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from mailbridge.store import Store, inbound, outbox, outbox_operator
from mailbridge.store.migrations import migrations, split_statements

BIG = 2 * 1024 * 1024


def _received(key: str, raw: bytes, at: str = "2026-12-06T10:00:00+00:00") -> inbound.Received:
    return inbound.Received(
        dedup_key=key,
        message_id=f"<{key}@client.example>",
        received_at=at,
        peer="127.0.0.1",
        helo="client.example",
        mail_from="ann@example.org",
        rcpt_to="reply+x@reply.example.org",
        raw=raw,
        headers="Subject: Re: the post\r\n",
    )


def _wal(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


async def _growing_wal(path: Path) -> Store:
    """A store whose WAL only grows: each frame written is counted in its size."""
    store = await Store.open(path)
    await store.write(lambda c: c.execute("PRAGMA wal_autocheckpoint = 0"))
    return store


@pytest.mark.asyncio
async def test_an_outcome_does_not_rewrite_a_large_message(tmp_path: Path) -> None:
    path = tmp_path / "mb.sqlite3"
    store = await _growing_wal(path)
    try:
        raw = b"Subject: photo\r\n\r\n" + os.urandom(BIG)
        record, new = await store.write(lambda c: inbound.record(c, _received("k1", raw)))
        assert new and _wal(path) > BIG
        before = _wal(path)
        await store.write(
            lambda c: inbound.set_outcome(
                c, record.id, inbound.Disposition.ACCEPTED, detail="250", checks={"dkim": []}
            )
        )
        # A redelivery of the same message counts on the same row.
        again, new = await store.write(lambda c: inbound.record(c, _received("k1", raw)))
        assert (again.id, new) == (record.id, False)
        # SQLite wrote the changed pages of the log's row and its indexes, not the
        # 2 MB message (twice: the row held it whole before 0025).
        assert _wal(path) - before < 256 * 1024
        assert await store.read(lambda c: inbound.raw_message(c, record.id)) == raw
        entry = await store.read(lambda c: inbound.get_entry(c, record.id))
        assert entry is not None and entry.has_raw and entry.size == len(raw)
        assert entry.status == "accepted" and entry.deliveries == 2
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_retention_forgets_old_bytes_and_keeps_the_log(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        old, _ = await store.write(
            lambda c: inbound.record(c, _received("old", b"old words", "2026-11-01T00:00:00+00:00"))
        )
        new, _ = await store.write(
            lambda c: inbound.record(c, _received("new", b"new words", "2026-12-06T00:00:00+00:00"))
        )
        purged = await store.write(lambda c: inbound.purge_raw(c, "2026-12-01T00:00:00+00:00"))
        assert purged == 1
        assert await store.read(lambda c: inbound.raw_message(c, old.id)) is None
        assert await store.read(lambda c: inbound.raw_message(c, new.id)) == b"new words"
        entries = await store.read(lambda c: inbound.list_entries(c))
        assert [(e.id, e.has_raw) for e in entries] == [(new.id, True), (old.id, False)]
        kept = await store.read(lambda c: inbound.stored_envelope(c, old.id))
        assert kept is not None and kept.raw is None and kept.mail_from == "ann@example.org"
        # Erasing a log row takes its bytes with it.
        await store.write(
            lambda c: c.execute("DELETE FROM inbound_messages WHERE id = ?", (new.id,))
        )
        assert await store.read(lambda c: inbound.raw_message(c, new.id)) is None
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_upgrade_moves_the_bytes_kept_in_the_log(tmp_path: Path) -> None:
    """A database of the 0024 release: its raw bytes move to inbound_raw, forgotten
    ones stay forgotten, and the log's rows are unchanged."""
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        for migration in migrations():
            if migration.name >= "0025":  # the release before both tables
                break
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (migration.name,))
        conn.execute(
            "INSERT INTO outbox (kind, message_id, mail_from, rcpt_to, message, status, "
            "next_attempt_at, created_at) VALUES ('digest', '<o@x>', 'b@x', 'ann@example.org', "
            "x'6f6c64', 'queued', 1.0, 'then')"
        )
        for key, raw in (("kept", b"the words\r\n"), ("forgotten", None)):
            conn.execute(
                "INSERT INTO inbound_messages (dedup_key, stage, received_at, peer, helo, "
                "mail_from, rcpt_to, size, raw, status) "
                "VALUES (?, 'data', 'then', 'p', 'h', 'a@example.org', 'r', 11, ?, 'accepted')",
                (key, raw),
            )
    store = await Store.open(path)
    try:
        entries = await store.read(lambda c: inbound.list_entries(c))
        assert [(e.id, e.status, e.has_raw) for e in entries] == [
            (2, "accepted", False),
            (1, "accepted", True),
        ]
        assert await store.read(lambda c: inbound.raw_message(c, 1)) == b"the words\r\n"
        leased = await store.write(lambda c: outbox.lease_due(c, 2.0, 10, owner="w"))
        assert [(r.message_id, r.message) for r in leased] == [("<o@x>", b"old")]
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(inbound_messages)")}
        outbox_columns = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
    assert "raw" not in columns and "message" not in outbox_columns


@pytest.mark.asyncio
async def test_queueing_leasing_and_sending_write_an_email_once(tmp_path: Path) -> None:
    path = tmp_path / "mb.sqlite3"
    store = await _growing_wal(path)
    try:
        message = b"Subject: a digest\r\n\r\n" + os.urandom(BIG)
        out = outbox.Outgoing("digest", None, "<d1@blog.example>", "", "ann@example.org", message)
        before = _wal(path)
        row_id = await store.write(
            lambda c: outbox.enqueue(c, out, 1.0, "then", return_path=lambda n: f"b+{n}@x")
        )
        assert row_id is not None and BIG < _wal(path) - before < BIG + 256 * 1024
        before = _wal(path)
        leased = await store.write(lambda c: outbox.lease_due(c, 2.0, 10, owner="w"))
        assert [(r.id, r.mail_from, r.message) for r in leased] == [
            (row_id, f"b+{row_id}@x", message)
        ]
        await store.write(lambda c: outbox.mark_sent(c, row_id, "now"))
        # The lease and the mark changed the row's small columns only.
        assert _wal(path) - before < 256 * 1024
        detail = await store.read(lambda c: outbox_operator.get_detail(c, row_id))
        assert detail is not None and detail.message == message and detail.size == len(message)
        assert detail.summary.status == "sent"
        await store.write(lambda c: c.execute("DELETE FROM outbox WHERE id = ?", (row_id,)))
        assert await store.read(lambda c: _all(c, "SELECT count(*) FROM outbox_messages")) == [(0,)]
    finally:
        await store.close()


async def _all(conn: aiosqlite.Connection, sql: str) -> list[tuple[object, ...]]:
    async with conn.execute(sql) as cur:
        return [tuple(row) for row in await cur.fetchall()]


@pytest.mark.asyncio
async def test_a_row_without_its_bytes_is_a_dead_letter_not_a_stuck_queue(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        ids = []
        for n in (1, 2):
            out = outbox.Outgoing("digest", None, f"<d{n}@x>", "b@x", f"r{n}@example.org", b"m")
            ids.append(await store.write(lambda c, o=out: outbox.enqueue(c, o, 1.0, "then")))
        # A database restored in part: the first email's bytes are gone.
        await store.write(
            lambda c: c.execute("DELETE FROM outbox_messages WHERE outbox_id = ?", (ids[0],))
        )
        leased = await store.write(lambda c: outbox.lease_due(c, 2.0, 10, owner="w"))
        assert [r.id for r in leased] == [ids[1]]
        lost = await store.read(lambda c: outbox_operator.get_detail(c, ids[0]))
        assert lost is not None and (lost.size, lost.message) == (0, b"")
        assert lost.summary.status == "failed" and lost.lease_owner is None
        assert "message is missing" in (lost.summary.last_error or "")
    finally:
        await store.close()
