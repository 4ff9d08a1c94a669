"""PostgreSQL's migrations and connection against a real server (tests/pg.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
import pytest

from mailbridge.errors import MigrationFailed
from mailbridge.store import Store, is_unwritable
from mailbridge.store import migrations as sqlite_migrations
from mailbridge.store.postgres import migrations as pg_migrations
from mailbridge.store.postgres import redacted
from mailbridge.store.postgres.connection import connect, translate
from mailbridge.store.postgres.store import PgStore


def test_both_engines_ship_the_same_migrations() -> None:
    sqlite_names = [m.name for m in sqlite_migrations.migrations()]
    assert sqlite_names, "no SQLite migrations found"
    assert [m.name for m in pg_migrations.migrations()] == sqlite_names


def test_placeholders_are_translated_outside_quotes_only() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE '%?%'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '%%?%%'",
        False,
    )
    assert translate('SELECT "?" , ? % 2') == ('SELECT "?" , %s %% 2', False)
    assert translate("SELECT ?1 || ?2 || ?1") == ("SELECT %(p1)s || %(p2)s || %(p1)s", True)
    assert translate("BEGIN IMMEDIATE") == ("BEGIN", False)
    assert translate("SELECT 1 FROM t INDEXED BY t_i WHERE a = 1 AND +b = ?1") == (
        "SELECT 1 FROM t WHERE a = 1 AND b = %(p1)s",
        True,
    )
    assert translate("SELECT a +b, 1 + 2")[0] == "SELECT a +b, 1 + 2"
    assert translate("SELECT 1 WHERE email = ? COLLATE NOCASE")[0] == "SELECT 1 WHERE email = %s"


async def _sqlite_columns(tmp_path: Path) -> dict[str, set[str]]:
    store = await Store.open(tmp_path / "s.sqlite3")
    await store.close()
    db = sqlite3.connect(tmp_path / "s.sqlite3")
    try:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: {r[1] for r in db.execute(f'PRAGMA table_info("{t}")')} for t in tables}
    finally:
        db.close()


@pytest.mark.asyncio
async def test_the_schemas_have_the_same_tables_and_columns(pg_url: str, tmp_path: Path) -> None:
    conn = await connect(pg_url)
    try:
        applied = await pg_migrations.apply_pending(conn)
        assert applied == [m.name for m in pg_migrations.migrations()]
        async with conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ) as cur:
            pg: dict[str, set[str]] = {}
            for row in await cur.fetchall():
                pg.setdefault(row["table_name"], set()).add(row["column_name"])
        assert await pg_migrations.apply_pending(conn) == []  # nothing twice
    finally:
        await conn.close()
    assert pg == await _sqlite_columns(tmp_path)


@pytest.mark.asyncio
async def test_daemons_starting_together_apply_each_migration_once(pg_url: str) -> None:
    conns = [await connect(pg_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(pg_migrations.apply_pending(c) for c in conns))
        names = [m.name for m in pg_migrations.migrations()]
        # One of them applied everything; the others waited for the lock, found none.
        assert sorted(results, key=len) == [[], [], names]
        async with conns[0].execute("SELECT count(*) FROM schema_migrations") as cur:
            assert (await cur.fetchone())[0] == len(names)
    finally:
        for c in conns:
            await c.close()


@pytest.mark.asyncio
async def test_rows_read_by_name_and_position_and_rowcount(pg_url: str) -> None:
    conn = await connect(pg_url)
    try:
        await pg_migrations.apply_pending(conn)
        cur = await conn.execute(
            "INSERT INTO addresses (email, created_at) VALUES (?, ?), (?, ?)",
            ("Ann@Example.com", "2026-01-01T00:00:00Z", "bob@example.com", "x"),
        )
        assert cur.rowcount == 2
        # COLLATE NOCASE on SQLite, citext here: the same statement finds Ann.
        async with conn.execute(
            "SELECT id, email FROM addresses WHERE email = ?", ("ann@EXAMPLE.com",)
        ) as cur:
            row = await cur.fetchone()
        assert row is not None and row["email"] == row[1] == "Ann@Example.com"
        with pytest.raises(psycopg.errors.UniqueViolation) as caught:
            await conn.execute(
                "INSERT INTO addresses (email, created_at) VALUES (?, ?)", ("ANN@example.com", "x")
            )
        assert not is_unwritable(caught.value)  # a bug or a race, not "try later"
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_a_nul_in_text_is_stored_as_a_replacement_character(pg_url: str) -> None:
    """PostgreSQL's text refuses NUL, which a hostile header can carry: stored as
    U+FFFD, and the same value looked up again finds the row."""
    conn = await connect(pg_url)
    try:
        await pg_migrations.apply_pending(conn)
        await conn.execute("INSERT INTO wp_state (key, value) VALUES (?, ?)", ("k\x00", "v\x00"))
        async with conn.execute("SELECT key, value FROM wp_state WHERE key = ?", ("k\x00",)) as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [("k\ufffd", "v\ufffd")]
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_cannot_write_now_errors_are_unwritable(pg_url: str) -> None:
    conn = await connect(pg_url)
    other = await connect(pg_url)
    try:
        await pg_migrations.apply_pending(conn)
        await conn.execute("SET default_transaction_read_only = on")
        with pytest.raises(psycopg.Error) as read_only:
            await conn.execute("INSERT INTO wp_state (key, value) VALUES ('a', 'b')")
        assert is_unwritable(read_only.value)
        # The server ends our session (a restart, a failover): the next write fails.
        async with conn.execute("SELECT pg_backend_pid()") as cur:
            pid = (await cur.fetchone())[0]
        await other.execute("SELECT pg_terminate_backend(?)", (pid,))
        with pytest.raises(psycopg.Error) as lost:
            await conn.execute("INSERT INTO wp_state (key, value) VALUES ('a', 'b')")
        assert is_unwritable(lost.value)
    finally:
        await conn.close()
        await other.close()


def test_backup_points_to_pg_dump_when_the_store_is_postgresql(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mailbridge.cli import cli

    result = CliRunner().invoke(
        cli,
        ["backup", "--data-dir", str(tmp_path), str(tmp_path / "x.sqlite3")],
        env={"MAILBRIDGE_DATA_URL": "postgresql://mb@127.0.0.1:1/mb"},
    )
    assert result.exit_code == 1 and "back it up with pg_dump" in result.output
    assert not (tmp_path / "x.sqlite3").exists()


def test_an_unreachable_server_is_a_settings_error(tmp_path: Path) -> None:
    from support import free_port

    from mailbridge.errors import ConfigError
    from mailbridge.settings import load_settings
    from mailbridge.store.opening import open_store

    url = f"postgresql://mb:secret-pw@127.0.0.1:{free_port()}/mb"
    settings = load_settings(
        None, environ={}, overrides={"data_dir": str(tmp_path), "data_url": url}
    )
    with pytest.raises(ConfigError) as caught:
        asyncio.run(open_store(settings))
    assert "cannot connect to postgresql://mb@127.0.0.1" in str(caught.value)
    assert "secret-pw" not in str(caught.value)  # the password is never printed


@pytest.mark.asyncio
async def test_a_database_migrated_to_0029_as_first_shipped_upgrades(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0029's partial unique index let a withdrawn row and a queued one share
    # (kind, comment_id, rcpt_to); 0030's plain one takes the withdrawn row out of it.
    shipped = pg_migrations.migrations()
    monkeypatch.setattr(
        pg_migrations, "migrations", lambda folder=None: [m for m in shipped if m.name < "0030"]
    )
    conn = await connect(pg_url)
    try:
        await pg_migrations.apply_pending(conn)
        await conn.execute("INSERT INTO threads (key, title, created_at) VALUES ('t', 'T', 'x')")
        await conn.execute(
            "INSERT INTO comments (id, thread_id, author, body, status, source, created_at) "
            "VALUES (1, 1, 'A', 'w', 'approved', 'web', 'x')"
        )
        for n, status in enumerate(("withdrawn", "queued")):
            await conn.execute(
                "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
                "next_attempt_at, created_at, last_error) "
                "VALUES ('reply_notification', 1, ?, 'b@x', 'r@x', ?, 1.0, 'x', ?)",
                (f"<{n}@x>", status, "withdrawn: comment 1" if status == "withdrawn" else None),
            )
        await conn.execute("DROP INDEX pending_by_comment")  # as f92bd51 shipped 0029
        monkeypatch.setattr(pg_migrations, "migrations", lambda folder=None: shipped)
        assert await pg_migrations.apply_pending(conn) == [
            m.name for m in shipped if m.name >= "0030"
        ]
        async with conn.execute(
            "SELECT message_id, status, comment_id, last_error FROM outbox ORDER BY id"
        ) as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [
                ("<0@x>", "withdrawn", None, "withdrawn: comment 1 (it was about comment 1)"),
                ("<1@x>", "queued", 1, None),
            ]
        # The previous release's conflict target matches again.
        async with conn.execute(
            "INSERT INTO outbox (kind, comment_id, message_id, mail_from, rcpt_to, status, "
            "next_attempt_at, created_at) VALUES ('reply_notification', 1, '<2@x>', 'b@x', "
            "'r@x', 'queued', 1.0, 'x') "
            "ON CONFLICT (kind, comment_id, rcpt_to) DO NOTHING RETURNING id"
        ) as cur:
            assert await cur.fetchone() is None
        async with conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'pending_by_comment'"
        ) as cur:
            assert (await cur.fetchone())[0] == 1
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_a_daemon_starting_waits_for_another_migrating_longer_than_its_lock_timeout(
    pg_url: str,
) -> None:
    # Another daemon holds the migrations' lock (a long migration: 0025 moving every
    # received message's bytes) past this one's database_busy_timeout_seconds.
    holder = await connect(pg_url)
    await holder.execute("SELECT pg_advisory_lock(?)", (pg_migrations.LOCK_KEY,))
    opening = asyncio.ensure_future(PgStore.open(pg_url, busy_timeout=0.2))
    try:
        waiting = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        for _ in range(100):
            if (await holder.execute_fetchall(waiting))[0][0] or opening.done():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # past the opener's lock_timeout
        assert not opening.done(), opening.exception()
    finally:
        await holder.execute("SELECT pg_advisory_unlock(?)", (pg_migrations.LOCK_KEY,))
        await holder.close()
    store = await asyncio.wait_for(opening, 30)
    try:
        # Migrated by it, and its writes still give up after the busy timeout.
        async with store._writer.execute("SHOW lock_timeout") as cur:  # type: ignore[union-attr]
            assert (await cur.fetchone())[0] == "200ms"
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_failed_migration_is_named_without_the_password(
    pg_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_fine.sql").write_text("CREATE TABLE fine (id BIGINT);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE later (id BIGINT);\nSELEC 1;")
    conn = await connect(pg_url)
    try:
        with pytest.raises(MigrationFailed) as failed:
            await pg_migrations.apply_pending(conn, tmp_path, where=redacted(pg_url))
        message = str(failed.value)
        assert "migration 0002_broken could not be applied (syntax error" in message
        assert ":mailbridge@" not in message and "mailbridge@127.0.0.1" in message
        async with conn.execute("SELECT name FROM schema_migrations") as cur:
            assert [r[0] for r in await cur.fetchall()] == ["0001_fine"]
        async with conn.execute("SELECT to_regclass('later') IS NULL") as cur:
            assert (await cur.fetchone())[0]  # the step rolled back whole
    finally:
        await conn.close()
