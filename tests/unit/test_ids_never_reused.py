"""Migration 0027: addresses, comments and outbox rebuilt with AUTOINCREMENT, so that
a deleted newest row's id is never given again (signed links carry these ids and
outlive the rows). An upgrade keeps every row, id, index and trigger; a crash in the
middle leaves the old schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from mailbridge.errors import MigrationFailed
from mailbridge.store import Store, migrations, outbox
from mailbridge.store.migrations import split_statements

REBUILT = ("addresses", "comments", "outbox")


def _old_database(path: Path) -> None:
    """A database of the 0026 release with a row in every table that points at the
    three tables, and the newest address, comment and outbox row deleted."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        for migration in migrations.migrations():
            if migration.name >= "0027":
                break
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (migration.name,))
        conn.commit()  # the pragma does nothing inside a transaction
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("INSERT INTO threads (key, title, created_at) VALUES ('t', 'T', 'then')")
        for n in (1, 2, 3):
            conn.execute(
                "INSERT INTO addresses (email, created_at, confirmed_at) VALUES (?, 'then', 'c')",
                (f"p{n}@example.org",),
            )
            conn.execute(
                "INSERT INTO comments (thread_id, parent_id, address_id, author, body, status, "
                "source, created_at) VALUES (1, ?, ?, 'A', ?, 'approved', 'web', 'then')",
                (n - 1 if n > 1 else None, n, f"words {n}"),
            )
            conn.execute(
                "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
                "next_attempt_at, created_at) VALUES ('reply_notification', ?, ?, 'b@x', ?, "
                "'sent', 1.0, 'then')",
                (n, f"<m{n}@x>", f"p{n}@example.org"),
            )
            conn.execute("INSERT INTO outbox_messages (outbox_id, message) VALUES (?, x'6d')", (n,))
            conn.execute(
                "INSERT INTO subscriptions (address_id, thread_id, level, source, updated_at) "
                "VALUES (?, 1, 'replies', 'web', 'then')",
                (n,),
            )
        # The newest of each deleted, as erasure and the admin API do.
        conn.execute("DELETE FROM outbox WHERE id = 3")
        conn.execute("DELETE FROM comments WHERE id = 3")
        conn.execute("DELETE FROM subscriptions WHERE address_id = 3")
        conn.execute("DELETE FROM addresses WHERE id = 3")


def _schema(path: Path) -> dict[str, tuple[str, str, str | None]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return {name: (kind, table, sql) for kind, name, table, sql in rows}


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
            for t in tables
            if t not in ("schema_migrations", "sqlite_sequence")
        }


async def _all(conn: aiosqlite.Connection, sql: str) -> list[tuple[object, ...]]:
    async with conn.execute(sql) as cur:
        return [tuple(row) for row in await cur.fetchall()]


@pytest.mark.asyncio
async def test_upgrade_keeps_everything_and_ids_are_not_given_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The upgrade to 0027 alone: the schema is compared with 0026's below.
    shipped = migrations.migrations()
    monkeypatch.setattr(migrations, "migrations", lambda: [m for m in shipped if m.name < "0028"])
    path = tmp_path / "old.sqlite3"
    _old_database(path)
    schema = _schema(path)
    store = await Store.open(path)
    try:
        assert await store.read(lambda c: _all(c, "PRAGMA foreign_key_check")) == []
        assert await store.read(lambda c: _all(c, "PRAGMA foreign_keys")) == [(1,)]
        assert await store.read(
            lambda c: _all(c, "SELECT name, seq FROM sqlite_sequence ORDER BY name")
        ) == [("addresses", 2), ("comments", 2), ("outbox", 2)]
        await store.write(lambda c: c.execute("DELETE FROM outbox WHERE id = 2"))
        await store.write(lambda c: c.execute("DELETE FROM comments WHERE id = 2"))
        await store.write(lambda c: c.execute("DELETE FROM subscriptions WHERE address_id = 2"))
        await store.write(lambda c: c.execute("DELETE FROM addresses WHERE id = 2"))
        out = outbox.Outgoing("digest", None, "<new@x>", "b@x", "p9@example.org", b"m")
        new_outbox = await store.write(lambda c: outbox.enqueue(c, out, 1.0, "now"))
        await store.write(
            lambda c: c.execute("INSERT INTO addresses (email, created_at) VALUES ('n@x', 'now')")
        )
        await store.write(
            lambda c: c.execute(
                "INSERT INTO comments (thread_id, author, body, status, source, created_at) "
                "VALUES (1, 'B', 'new', 'pending', 'web', 'now')"
            )
        )
        # The id deleted after the upgrade (2) does not come back. That 3 was given
        # once is recorded nowhere in a 0026 database: the sequence starts at max(id)
        # (docs/operating.md says so).
        assert new_outbox == 3
        assert await store.read(lambda c: _all(c, "SELECT max(id) FROM addresses")) == [(3,)]
        assert await store.read(lambda c: _all(c, "SELECT max(id) FROM comments")) == [(3,)]
    finally:
        await store.close()
    after = _schema(path)
    assert after.pop("sqlite_sequence")[0] == "table"
    for table in REBUILT:
        assert "AUTOINCREMENT" in str(after[table][2]) and schema[table][2] != after[table][2]
        after[table] = schema[table]
    assert after == schema  # every index and trigger as it was, the other tables untouched


@pytest.mark.asyncio
async def test_upgrade_keeps_every_row_and_id(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _old_database(path)
    rows = _dump(path)
    store = await Store.open(path)
    await store.close()
    after = _dump(path)
    assert after.pop("outbox_items") == []  # sql/0029's new table
    assert after.pop("outbox_listed") == []  # sql/0031's
    assert after.pop("deleted_counts") == []  # sql/0032's
    assert after.pop("failing_tasks") == []  # sql/0034's
    assert after.pop("mail_events") == []  # sql/0035's
    # sql/0036's outbox.provider_id, last: empty for every row sent before it.
    assert [row[-1] for row in after["outbox"]] == [None] * len(rows["outbox"])
    after["outbox"] = [row[:-1] for row in after["outbox"]]
    assert after == rows
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


@pytest.mark.asyncio
async def test_a_failed_rebuild_leaves_the_old_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement failing mid-way (as a crash would stop it) rolls the whole step back,
    and foreign keys are on again for the connection."""
    path = tmp_path / "old.sqlite3"
    _old_database(path)
    schema, rows = _schema(path), _dump(path)
    shipped = migrations.migrations()
    [rebuild] = [m for m in shipped if m.name.startswith("0027")]
    assert rebuild.foreign_keys_off
    broken = migrations.Migration(
        rebuild.name, rebuild.sql.replace("outbox_due ON outbox", "outbox_due ON nowhere")
    )
    monkeypatch.setattr(
        migrations, "migrations", lambda: [broken if m is rebuild else m for m in shipped]
    )
    with pytest.raises(Exception, match="nowhere"):
        await Store.open(path)
    assert _schema(path) == schema and _dump(path) == rows
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(MigrationFailed, match="migration 0027_ids_never_reused"):
            await migrations.apply_pending(conn)
        assert await _all(conn, "PRAGMA foreign_keys") == [(1,)]
    assert _schema(path) == schema


@pytest.mark.asyncio
async def test_a_broken_reference_refuses_the_step(tmp_path: Path) -> None:
    """foreign_key_check runs before the commit: a row pointing at nothing (here one
    written with foreign keys off before the upgrade) stops it, and nothing changes."""
    path = tmp_path / "old.sqlite3"
    _old_database(path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO outbox_messages (outbox_id, message) VALUES (99, x'00')")
    schema = _schema(path)
    with pytest.raises(Exception, match="foreign keys broken"):
        await Store.open(path)
    assert _schema(path) == schema


@pytest.mark.asyncio
async def test_the_outbox_rebuilt_again_by_0029_keeps_its_sequence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0029 rebuilds the outbox once more (its status learns 'withdrawn'): the ids it
    gave stay given, an erased person's newest email's among them (a VERP bounce of it
    may come days later), not only the highest id still kept."""
    shipped = migrations.migrations()
    monkeypatch.setattr(migrations, "migrations", lambda: [m for m in shipped if m.name < "0029"])
    path = tmp_path / "old.sqlite3"
    _old_database(path)
    await (await Store.open(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM outbox WHERE id = 2")  # erased: their emails go
    monkeypatch.setattr(migrations, "migrations", lambda: shipped)
    store = await Store.open(path)
    try:
        out = outbox.Outgoing("digest", None, "<new@x>", "b@x", "p9@example.org", b"m")
        assert await store.write(lambda c: outbox.enqueue(c, out, 1.0, "now")) == 3
    finally:
        await store.close()
