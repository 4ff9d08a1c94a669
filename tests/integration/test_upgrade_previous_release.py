"""An upgrade as an operator meets it: the previous release (migrations up to 0028)
still writing to a database this version migrated. Several daemons on one PostgreSQL
are upgraded one at a time (docs/postgresql.md), and a SQLite site may put the old
version back; until then the old daemons queue mail with their own SQL, and 0029's
partial unique index (withdrawn rows left out) matched no conflict target of theirs:
every moderation email, notification and confirmation they queued failed. And a
database made by an older commit whose migration was renamed since starts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from support import import_seed

from mailbridge.settings import Settings
from mailbridge.store import Store, migrations, outbox, withdrawal
from mailbridge.store.opening import open_store

# The previous release's outbox.enqueue (commit 3482892, schema 0028), word for word.
PREVIOUS_ENQUEUE = (
    "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
    "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?) "
    "ON CONFLICT (kind, comment_id, rcpt_to) DO NOTHING RETURNING id"
)
KIND, COMMENT, RCPT = "reply_notification", 2, "reader002.4a549d@example.org"


async def _previous_enqueue(conn: Any, message_id: str) -> int | None:
    async with conn.execute(
        PREVIOUS_ENQUEUE, (KIND, COMMENT, message_id, "b@example.org", RCPT, 1.0, "then")
    ) as cur:
        row = await cur.fetchone()
    if row is not None:
        await conn.execute(
            "INSERT INTO outbox_messages (outbox_id, message) VALUES (?, ?)", (row[0], b"m")
        )
    return None if row is None else int(row[0])


@pytest.mark.asyncio
async def test_the_previous_release_still_queues_mail_on_the_upgraded_schema(
    settings: Settings,
) -> None:
    await import_seed(settings)
    store = await open_store(settings)
    try:

        async def work(conn: Any) -> tuple[int | None, ...]:
            [(address,)] = await conn.execute_fetchall(
                "SELECT address_id FROM comments WHERE id = ?", (COMMENT,)
            )
            ours = outbox.Outgoing(KIND, COMMENT, "<ours@x>", "b@example.org", RCPT, b"m")
            await outbox.enqueue(conn, ours, 1.0, "then")
            await withdrawal.record_items(conn, "<ours@x>", int(address), [(COMMENT, "reply")])
            # The comment leaves the page while its notification is queued.
            assert await withdrawal.withdraw(conn, COMMENT, "then", 1.0, hold=False) == 1
            first = await _previous_enqueue(conn, "<theirs-1@x>")
            again = await _previous_enqueue(conn, "<theirs-2@x>")
            ours_again = await outbox.enqueue(
                conn, outbox.Outgoing(KIND, COMMENT, "<ours-2@x>", "b@x", RCPT, b"m"), 1.0, "t"
            )
            return first, again, ours_again

        first, again, ours_again = await store.write(work)
        # Queued once: the withdrawn row is out of "one email per event and recipient".
        assert first is not None
        assert again is None and ours_again is None
        rows = await store.read(
            lambda c: c.execute_fetchall(
                "SELECT message_id, status, comment_id, last_error FROM outbox "
                "WHERE rcpt_to = ? ORDER BY id",
                (RCPT,),
            )
        )
        assert [tuple(r)[:3] for r in rows] == [
            ("<ours@x>", "withdrawn", None),
            ("<theirs-1@x>", "queued", COMMENT),
        ]
        assert "it was about comment 2" in rows[0][3]
    finally:
        await store.close()


@pytest.mark.sqlite_only("the PostgreSQL counterpart is tests/postgres/test_pg_schema.py's")
@pytest.mark.asyncio
async def test_a_database_migrated_to_0029_as_first_shipped_upgrades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = migrations.migrations()
    monkeypatch.setattr(migrations, "migrations", lambda: [m for m in shipped if m.name < "0030"])
    path = tmp_path / "mb.sqlite3"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO threads (key, title, created_at) VALUES ('t', 'T', 'then')")
        conn.execute(
            "INSERT INTO comments (thread_id, author, body, status, source, created_at) "
            "VALUES (1, 'A', 'w', 'approved', 'web', 'then')"
        )
        # 0029's partial index let a withdrawn row and a queued one share the key.
        for n, status in enumerate(("withdrawn", "queued")):
            conn.execute(
                "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
                "next_attempt_at, created_at, last_error) VALUES (?, 1, ?, 'b@x', ?, ?, 1.0, "
                "'then', ?)",
                (
                    KIND,
                    f"<{n}@x>",
                    RCPT,
                    status,
                    "withdrawn: comment 1 was taken off the page"
                    if status == "withdrawn"
                    else None,
                ),
            )
        # 0029 as commit f92bd51 shipped it had no index of the waiting by comment.
        conn.execute("DROP INDEX pending_by_comment")
    monkeypatch.setattr(migrations, "migrations", lambda: shipped)
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT address_id FROM pending_notifications WHERE comment_id = 1"
        ).fetchall()
        assert "pending_by_comment" in str(plan)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute(
            "SELECT message_id, status, comment_id, last_error FROM outbox ORDER BY id"
        ).fetchall() == [
            (
                "<0@x>",
                "withdrawn",
                None,
                "withdrawn: comment 1 was taken off the page (it was about comment 1)",
            ),
            ("<1@x>", "queued", 1, None),
        ]
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE kind = ? AND comment_id = ? "
            "AND rcpt_to = ?",
            (KIND, 1, RCPT),
        ).fetchall()
        assert "outbox_once" in str(plan)


# 0018 as commit 7a1186c shipped it, under its first name: the indexes alone.
FIRST_0018 = (
    "CREATE INDEX comments_by_body_start ON comments (substr(body, 1, 48))",
    "CREATE INDEX inbound_by_comment ON inbound_messages (comment_id)",
    "CREATE INDEX comments_by_address_status ON comments (address_id, status)",
)


@pytest.mark.sqlite_only("0018_indexes_for_growth shipped before the PostgreSQL store")
@pytest.mark.asyncio
async def test_a_database_of_the_first_0018_starts_and_forgets_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = migrations.migrations()
    monkeypatch.setattr(migrations, "migrations", lambda: [m for m in shipped if m.name < "0018"])
    path = tmp_path / "mb.sqlite3"
    await (await Store.open(path)).close()
    with sqlite3.connect(path) as conn:
        for statement in FIRST_0018:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES ('0018_indexes_for_growth', 'then')")
        conn.execute("INSERT INTO threads (key, title, created_at) VALUES ('t', 'T', 'then')")
    monkeypatch.setattr(migrations, "migrations", lambda: shipped)
    store = await Store.open(path)  # failed: "index comments_by_body_start already exists"
    await store.close()
    fresh = tmp_path / "fresh.sqlite3"
    await (await Store.open(fresh)).close()

    def schema(at: Path) -> list[tuple[str, ...]]:
        with sqlite3.connect(at) as conn:
            return conn.execute(
                "SELECT type, name, sql FROM sqlite_master ORDER BY name"
            ).fetchall()

    assert schema(path) == schema(fresh)
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        assert conn.execute("SELECT key FROM threads").fetchall() == [("t",)]
    # What migrate-store compares with this version's list: the same names.
    assert names == [m.name for m in shipped]


# The previous release's erasure (commit 8f56ced, schema 0032) ends with this, word for
# word (mailbridge/people/data.py), as its spam purge of unreferenced addresses does.
PREVIOUS_ERASE_ADDRESS = "DELETE FROM addresses WHERE id = ?"


@pytest.mark.asyncio
async def test_the_previous_release_erases_a_person_a_mail_service_reported(
    settings: Settings,
) -> None:
    """A daemon of the previous release beside an upgraded one (one PostgreSQL), or
    put back on the upgraded SQLite file, knows nothing of mail_events: its erasure
    failed on the key for anyone a mail service had reported a bounce or complaint of."""
    from mailbridge.store import mail_events

    await import_seed(settings)
    store = await open_store(settings)
    try:

        async def work(conn: Any) -> int:
            [(address,)] = await conn.execute_fetchall(
                "SELECT address_id FROM comments WHERE id = ?", (COMMENT,)
            )
            await mail_events.insert(
                conn, provider="sendgrid", event_id="e-1", kind="complaint", outbox_id=None,
                address_id=int(address), status="", diagnostic="spamreport", now="then",
            )  # fmt: skip
            # The rest of what refers to the address, as the previous release's erasure
            # deletes it before the address (their own keys are not this test's).
            for sql in (
                "UPDATE comments SET address_id = NULL WHERE address_id = ?",
                "DELETE FROM subscriptions WHERE address_id = ?",
            ):
                await conn.execute(sql, (int(address),))
            cur = await conn.execute(PREVIOUS_ERASE_ADDRESS, (int(address),))
            return int(cur.rowcount)

        assert await store.write(work) == 1  # failed: FOREIGN KEY constraint failed
        left = await store.read(lambda c: c.execute_fetchall("SELECT count(*) FROM mail_events"))
        assert [tuple(r) for r in left] == [(0,)]  # the events went with the address
    finally:
        await store.close()
