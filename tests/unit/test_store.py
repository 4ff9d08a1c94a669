from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from mailbridge.errors import StoreClosedError
from mailbridge.store import Store
from mailbridge.store.migrations import migrations, split_statements


@pytest.mark.asyncio
async def test_open_migrates_and_records_each_step(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db" / "mb.sqlite3")
    try:
        names = await store.read(
            lambda c: _all(c, "SELECT name FROM schema_migrations ORDER BY name")
        )
        assert names == [(m.name,) for m in migrations()]
        mode = await store.read(lambda c: _all(c, "PRAGMA journal_mode"))
        assert mode == [("wal",)]
        fk = await store.read(lambda c: _all(c, "PRAGMA foreign_keys"))
        assert fk == [(1,)]
    finally:
        await store.close()
    assert (tmp_path / "db").stat().st_mode & 0o777 == 0o700


@pytest.mark.asyncio
async def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "mb.sqlite3"
    await (await Store.open(path)).close()
    store = await Store.open(path)
    try:
        rows = await store.read(lambda c: _all(c, "SELECT count(*) FROM schema_migrations"))
        assert rows == [(len(migrations()),)]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_failed_unit_of_work_leaves_nothing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "mb.sqlite3")

    async def half(conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "INSERT INTO addresses (email, created_at) VALUES ('a@example.org', 'now')"
        )
        raise RuntimeError("boom")

    try:
        with pytest.raises(RuntimeError):
            await store.write(half)
        rows = await store.read(lambda c: _all(c, "SELECT count(*) FROM addresses"))
        assert rows == [(0,)]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_use_after_close_raises(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "mb.sqlite3")
    await store.close()
    assert not store.is_open
    with pytest.raises(StoreClosedError):
        await store.read(lambda c: _all(c, "SELECT 1"))
    with pytest.raises(StoreClosedError):
        await store.write(lambda c: _all(c, "SELECT 1"))


def test_migration_files_split_into_statements() -> None:
    for migration in migrations():
        statements = split_statements(migration.sql)
        assert statements, migration.name
        for statement in statements:
            assert sqlite3.complete_statement(statement)


def test_split_refuses_an_unterminated_statement() -> None:
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE t (x);\nCREATE TABLE u (y)")


async def _all(conn: aiosqlite.Connection, sql: str) -> list[tuple[object, ...]]:
    async with conn.execute(sql) as cur:
        return [tuple(row) for row in await cur.fetchall()]


@pytest.mark.asyncio
async def test_upgrade_from_the_first_schema_keeps_data(tmp_path: Path) -> None:
    """A database made by the first release (0001 only) is upgraded in place on open."""
    path = tmp_path / "old.sqlite3"
    first = next(m for m in migrations() if m.name.startswith("0001"))
    with sqlite3.connect(path) as conn:
        for statement in split_statements(first.sql):
            conn.execute(statement)
        conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (first.name,))
        conn.execute("INSERT INTO threads (key, title, created_at) VALUES ('t', 'T', 'then')")
        conn.execute(
            "INSERT INTO comments (thread_id, author, body, status, source, created_at) "
            "VALUES (1, 'Old', 'old words', 'approved', 'import', 'then')"
        )
    store = await Store.open(path)
    try:
        rows = await store.read(lambda c: _all(c, "SELECT author, body, attachments FROM comments"))
        assert rows == [("Old", "old words", "[]")]
        names = await store.read(lambda c: _all(c, "SELECT name FROM schema_migrations"))
        assert [n for (n,) in names] == [m.name for m in migrations()]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_upgrade_from_0005_keeps_waiting_notifications_due(tmp_path: Path) -> None:
    """0006 (moderation decisions) and 0007 (elided) on a database of the 0005 release."""
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        for migration in migrations():
            if migration.name >= "0006":
                break
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (migration.name,))
        conn.execute("INSERT INTO threads (key, title, created_at) VALUES ('t', 'T', 'then')")
        conn.execute("INSERT INTO addresses (email, created_at) VALUES ('a@example.org', 'then')")
        conn.execute(
            "INSERT INTO comments (thread_id, author, body, status, source, created_at) "
            "VALUES (1, 'Old', 'old words', 'approved', 'web', 'then')"
        )
        conn.execute(
            "INSERT INTO pending_notifications (address_id, comment_id, why, created_at, due_at) "
            "VALUES (1, 1, 'reply', 'then', 5.0)"
        )
    store = await Store.open(path)
    try:
        from mailbridge.store import subscriptions

        assert await store.read(lambda c: subscriptions.due_addresses(c, 10.0)) == [1]
        rows = await store.read(lambda c: _all(c, "SELECT body, elided FROM comments"))
        assert rows == [("old words", "")]
        decisions = await store.read(lambda c: _all(c, "SELECT count(*) FROM moderation_decisions"))
        assert decisions == [(0,)]
    finally:
        await store.close()
