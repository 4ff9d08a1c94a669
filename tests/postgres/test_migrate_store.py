"""mailbridge migrate-store between a real SQLite data directory and a real
PostgreSQL 15 (tests/pg.py): copy, verification, a daemon on the copy, the way back,
an interrupted copy resumed, and the refusals.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import psycopg
import pytest
from click.testing import CliRunner, Result
from flows import post_comment, reply_notification
from pg import fresh_database
from support import THREAD, import_seed, make_settings, no_dmarc_zone, reply_to_notification, until

from mailbridge.app import running
from mailbridge.cli import cli
from mailbridge.migrate_store.copier import Limits
from mailbridge.migrate_store.endpoints import Endpoint, MigrateRefused
from mailbridge.migrate_store.pg_side import PgSide
from mailbridge.migrate_store.run import migrate_store
from mailbridge.migrate_store.schema import read_tables
from mailbridge.migrate_store.sqlite_side import SqliteSide
from mailbridge.migrate_store.verify import checksum
from mailbridge.settings import Settings

# Every byte value, and text no codec guesses right by accident.
RAW = bytes(range(256)) * 3
TEXT = "Zoë's reply 💌 — «ça va» \\ % ? '"


async def _thread_json(daemon: Any) -> Any:
    host, port = daemon.http_address
    url = f"http://{host}:{port}/api/threads/{THREAD}/comments"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _populate(settings: Settings) -> None:
    """The seed thread, a comment posted, approved and notified, an emailed reply."""
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)
        reply = reply_to_notification(note, "Thanks, Ann: that was my point exactly.")
        host, port = daemon.smtp_address
        await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)

        async def filed() -> bool:
            async def work(conn: Any) -> Any:
                async with conn.execute(
                    "SELECT count(*) FROM comments WHERE source = 'email'"
                ) as c:
                    return (await c.fetchone())[0]

            return bool(await daemon.store.read(work))

        await until("the emailed reply filed", filed)


def _more_rows(database: Path) -> None:
    """Rows of the tables the flows above leave empty, and the awkward cases: a reply
    whose parent has a higher id, a citext key in mixed case, bytes, floats, text."""
    db = sqlite3.connect(database, isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys = ON")
        thread = db.execute("SELECT id FROM threads ORDER BY id LIMIT 1").fetchone()[0]
        address = db.execute("SELECT id FROM addresses ORDER BY id LIMIT 1").fetchone()[0]
        top = db.execute("SELECT max(id) FROM comments").fetchone()[0]
        parent, child = top + 20, top + 10
        for cid, parent_id in ((parent, None), (child, parent)):
            db.execute(
                "INSERT INTO comments (id, thread_id, parent_id, address_id, author, body, "
                "status, source, created_at, published_at) "
                "VALUES (?, ?, ?, ?, 'Zoë', ?, 'approved', 'web', ?, ?)",
                (
                    cid,
                    thread,
                    parent_id,
                    address,
                    f"{TEXT} #{cid}",
                    "2026-12-01T10:00:00Z",
                    "2026-12-01T10:00:00Z",
                ),
            )
        db.execute(
            "INSERT INTO moderator_sessions (token_hash, address_id, created_at, last_seen_at, "
            "expires_at, user_agent) VALUES ('h1', ?, 'a', 'b', 'c', ?)",
            (address, TEXT),
        )
        db.execute(
            "INSERT INTO rejection_replies (sender, hour, reason) VALUES "
            "('Ann@Example.COM', '2026-12-01T10', 'x'), ('bob@example.com', '2026-12-01T10', 'y'),"
            " ('ann@example.com2', '2026-12-01T09', 'z')"
        )
        db.execute("INSERT INTO spam_words (word, spam, ham) VALUES ('Zürich', 2, 1), ('a', 0, 5)")
        db.execute("UPDATE spam_training_docs SET docs = 7 WHERE label = 'ham'")
        db.execute("INSERT INTO wp_posts (post_id, thread_id) VALUES (42, ?)", (thread,))
        db.execute(
            "INSERT INTO wp_push (comment_id, version, queued_at, next_attempt_at) "
            "VALUES (?, 3, 'q', 1764582000.25)",
            (child,),
        )
        db.execute("INSERT INTO wp_state (key, value) VALUES ('cursor', ?)", (TEXT,))
        db.execute(
            "INSERT INTO api_tokens (name, token_hash, scopes, created_at) "
            "VALUES ('ci', 'th', 'read', 'now')"
        )
        db.execute(
            "UPDATE inbound_raw SET raw = ? "
            "WHERE inbound_id = (SELECT min(inbound_id) FROM inbound_raw)",
            (RAW,),
        )
    finally:
        db.close()


def _invoke(args: list[str], **env: str) -> Result:
    return CliRunner().invoke(cli, args, env=env or None)


def _one_line_error(result: Result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, pg_server: str) -> tuple[Path, Any]:
    """A populated SQLite data directory, kept as a pristine file to copy per test, and
    the thread's JSON as a daemon on it serves it."""
    tmp = tmp_path_factory.mktemp("source")
    settings = make_settings(tmp, data_url="")
    asyncio.run(_populate(settings))
    _more_rows(settings.database_path)

    async def served() -> Any:
        async with running(settings, resolver=no_dmarc_zone()) as daemon:
            return await _thread_json(daemon)

    thread = asyncio.run(served())
    pristine = tmp / "pristine.sqlite3"
    src = sqlite3.connect(settings.database_path)
    dst = sqlite3.connect(pristine)
    src.backup(dst)
    src.close()
    dst.close()
    return pristine, thread


def _source(tmp_path: Path, prepared: tuple[Path, Any]) -> Settings:
    settings = make_settings(tmp_path, data_url="")
    settings.data_path.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(prepared[0])
    dst = sqlite3.connect(settings.database_path)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode = WAL")
    dst.close()
    return settings


def _checksums(end: Endpoint, lite: Path) -> dict[str, Any]:
    schema = sqlite3.connect(lite)
    tables = read_tables(schema)
    schema.close()
    side = SqliteSide(end.path) if end.engine == "sqlite" else PgSide(end.location)
    try:
        return {t.name: checksum(side, t) for t in tables}
    finally:
        side.close()


def test_sqlite_to_postgresql_serves_the_same_thread_and_back(
    tmp_path: Path, prepared: tuple[Path, Any]
) -> None:
    settings = _source(tmp_path, prepared)
    url = fresh_database()
    result = _invoke(["migrate-store", "--data-dir", str(settings.data_path), "--to", url])
    assert result.exit_code == 0, result.output
    assert "Every table matches." in result.output
    assert "MISMATCH" not in result.output
    assert "comments " in result.output

    source = Endpoint("sqlite", str(settings.database_path))
    copied = Endpoint("postgresql", url)
    before = _checksums(source, settings.database_path)
    assert before == _checksums(copied, settings.database_path)
    assert before["comments"].rows > 10 and before["inbound_messages"].rows >= 1
    assert before["outbox"].rows >= 2 and before["rejection_replies"].rows == 3
    with psycopg.connect(url) as conn:
        raw = conn.execute("SELECT raw FROM inbound_raw ORDER BY inbound_id LIMIT 1").fetchone()
        assert raw is not None and bytes(raw[0]) == RAW
        # No trigger fired during the copy: no push queued for copied comments.
        assert conn.execute("SELECT count(*) FROM wp_push").fetchone() == (1,)

    on_pg = make_settings(tmp_path / "pg", data_dir=str(settings.data_path), data_url=url)

    async def serve_and_post() -> tuple[Any, int]:
        async with running(on_pg, resolver=no_dmarc_zone()) as daemon:
            thread = await _thread_json(daemon)
            new_id = await post_comment(daemon, body="A new comment on PostgreSQL.")
            return thread, new_id

    thread, new_id = asyncio.run(serve_and_post())
    assert thread == prepared[1]
    assert new_id > max(c for (c,) in _ids(settings.database_path, "comments"))

    # And back, into a data directory that does not exist yet.
    back = tmp_path / "back"
    result = _invoke(["migrate-store", "--to", f"sqlite://{back}/"], MAILBRIDGE_DATA_URL=url)
    assert result.exit_code == 0, result.output
    after = _checksums(Endpoint("sqlite", str(back / "mailbridge.sqlite3")), settings.database_path)
    assert after == _checksums(copied, settings.database_path)
    assert after["comments"].rows == before["comments"].rows + 1


def _ids(database: Path, table: str) -> list[tuple[int]]:
    db = sqlite3.connect(database)
    try:
        return db.execute(f"SELECT id FROM {table}").fetchall()
    finally:
        db.close()


def test_an_interrupted_copy_continues_where_it_stopped(
    tmp_path: Path, prepared: tuple[Path, Any]
) -> None:
    settings = _source(tmp_path, prepared)
    url = fresh_database()
    batches: list[tuple[str, int]] = []

    class Interrupted(Exception):
        pass

    def stop_after_five(table: str, rows: int) -> None:
        batches.append((table, rows))
        if len(batches) == 5:
            raise Interrupted

    source = Endpoint("sqlite", str(settings.database_path))
    with pytest.raises(Interrupted):
        migrate_store(
            source,
            Endpoint("postgresql", url),
            limits=Limits(batch_rows=2),
            after_batch=stop_after_five,
            say=lambda _line: None,
        )
    with psycopg.connect(url) as conn:
        done = conn.execute(
            "SELECT sum(rows_copied), count(*) FILTER (WHERE done = 0) FROM migrate_store_progress"
        ).fetchone()
    assert done is not None and done[0] == 10 and done[1] == 1  # five batches of two

    result = _invoke(
        ["migrate-store", "--data-dir", str(settings.data_path), "--to", url, "--batch-rows", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "Continuing the copy started" in result.output
    assert "(continued after " in result.output
    # Every 20 batches of a table; this run started after 10 rows of addresses.
    assert "  addresses: 70 rows so far...\n  addresses: 130 rows so far..." in result.stderr
    assert _checksums(source, settings.database_path) == _checksums(
        Endpoint("postgresql", url), settings.database_path
    )
    # Run again: nothing to copy, verified again.
    again = _invoke(["migrate-store", "--data-dir", str(settings.data_path), "--to", url])
    assert again.exit_code == 0, again.output
    assert "Copied before (verified " in again.output

    # A destination changed since: the verification says which table, exit 3.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE api_tokens SET name = 'changed'")
    changed = _invoke(["migrate-store", "--data-dir", str(settings.data_path), "--to", url])
    assert changed.exit_code == 3, changed.output
    assert "MISMATCH" in changed.output
    assert "the copy differs from the source in: api_tokens" in changed.output


def test_refusals_are_one_line_with_exit_status_1(
    tmp_path: Path, prepared: tuple[Path, Any]
) -> None:
    settings = _source(tmp_path, prepared)
    data = ["migrate-store", "--data-dir", str(settings.data_path)]

    # A destination with rows of its own.
    url = fresh_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO threads (key, title, created_at) VALUES ('t', 'T', '2026-01-01')")
    result = _invoke([*data, "--to", url])
    assert result.exit_code == 1
    assert "is not empty (table threads has rows)" in _one_line_error(result)

    # A copy of another source.
    other = _source(tmp_path / "other", prepared)
    url = fresh_database()
    assert (
        _invoke(["migrate-store", "--data-dir", str(other.data_path), "--to", url]).exit_code == 0
    )
    result = _invoke([*data, "--to", url])
    assert result.exit_code == 1
    assert "holds a copy of sqlite://" in _one_line_error(result)

    # Unreachable, without the password.
    result = _invoke([*data, "--to", "postgresql://mb:s3cr3t-pw@127.0.0.1:1/mailbridge"])
    assert result.exit_code == 1
    line = _one_line_error(result)
    assert "s3cr3t-pw" not in result.output
    assert "postgresql://mb@127.0.0.1:1/mailbridge" in line

    # Unknown scheme; the same engine on both ends.
    result = _invoke([*data, "--to", "mysql://mb:pw@db/mailbridge"])
    assert result.exit_code == 1
    assert "unknown scheme 'mysql:'" in _one_line_error(result)
    result = _invoke([*data, "--to", str(tmp_path / "copy.sqlite3")])
    assert result.exit_code == 1
    assert "use mailbridge backup" in _one_line_error(result)

    # The daemon (here, another process with the database open) still running.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('SELECT count(*) FROM comments').fetchone(); "
            "print('open', flush=True); sys.stdin.read()",
            str(settings.database_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        result = _invoke([*data, "--to", fresh_database()])
        assert result.exit_code == 1
        assert "is open in another process: stop the daemon" in _one_line_error(result)
    finally:
        holder.communicate("")

    # A source at another schema version.
    db = sqlite3.connect(settings.database_path)
    db.execute(
        "DELETE FROM schema_migrations WHERE name = (SELECT max(name) FROM schema_migrations)"
    )
    db.commit()
    db.close()
    result = _invoke([*data, "--to", fresh_database()])
    assert result.exit_code == 1
    assert "lacks this version's migrations" in _one_line_error(result)


def test_a_fresh_database_has_rows_only_in_the_seeded_tables(
    tmp_path: Path, pg_server: str
) -> None:
    """SEEDED is what counts as empty: check it against both engines' migrations."""
    from mailbridge.migrate_store.schema import SEEDED

    settings = make_settings(tmp_path, data_url="")

    async def create() -> None:
        from mailbridge.store import Store

        store = await Store.open(settings.database_path)
        await store.close()

    asyncio.run(create())
    lite = SqliteSide(settings.database_path)
    pg = PgSide(fresh_database())
    try:
        for side in (lite, pg):
            tables = read_tables(lite.conn)
            filled = {t.name for t in tables if checksum(side, t).rows}
            assert filled == set(SEEDED), side.engine
    finally:
        lite.close()
        pg.close()


def test_unreadable_destination_keeps_the_source_as_it_was(
    tmp_path: Path, prepared: tuple[Path, Any]
) -> None:
    settings = _source(tmp_path, prepared)
    before = _checksums(Endpoint("sqlite", str(settings.database_path)), settings.database_path)
    with pytest.raises(MigrateRefused):
        migrate_store(
            Endpoint("sqlite", str(settings.database_path)),
            Endpoint("postgresql", "postgresql://mb:pw@127.0.0.1:1/none"),
            say=lambda _line: None,
        )
    assert (
        _checksums(Endpoint("sqlite", str(settings.database_path)), settings.database_path)
        == before
    )
    assert json.dumps(prepared[1])  # the fixture's thread is JSON


def test_batches_end_by_size_and_a_connected_postgresql_source_is_refused(
    tmp_path: Path, prepared: tuple[Path, Any]
) -> None:
    settings = _source(tmp_path, prepared)
    url = fresh_database()
    source = Endpoint("sqlite", str(settings.database_path))
    batches: list[tuple[str, int]] = []
    outcome = migrate_store(
        source,
        Endpoint("postgresql", url),
        limits=Limits(batch_rows=1000, batch_bytes=1),
        after_batch=lambda table, rows: batches.append((table, rows)),
        say=lambda _line: None,
    )
    assert outcome.ok
    # One row per batch when each row is over the size: rows never pile up in memory.
    inbound = [rows for table, rows in batches if table == "inbound_messages"]
    assert inbound == list(range(1, len(inbound) + 1))
    assert len(batches) == sum(check.source.rows for check in outcome.checks)

    # The way back while something (a daemon) is still connected to the source.
    with psycopg.connect(url, application_name="mailbridge-daemon"):
        result = _invoke(
            ["migrate-store", "--to", f"sqlite://{tmp_path}/back/"], MAILBRIDGE_DATA_URL=url
        )
    assert result.exit_code == 1
    assert "has other sessions of the same user (1 mailbridge-daemon)" in _one_line_error(result)


def test_the_source_takes_no_writes_while_it_is_copied(
    tmp_path: Path, prepared: tuple[Path, Any]
) -> None:
    """A daemon started on the source by mistake cannot change rows behind the copy:
    its writes wait and fail (it answers 'try again later'), both ways."""
    settings = _source(tmp_path, prepared)
    url = fresh_database()
    refused: list[str] = []

    def write_to_sqlite(_table: str, _rows: int) -> None:
        if refused:
            return
        other = sqlite3.connect(settings.database_path, timeout=0.1)
        try:
            other.execute("UPDATE threads SET title = 'changed behind the copy'")
            other.commit()
        except sqlite3.OperationalError as exc:
            refused.append(str(exc))
        finally:
            other.close()

    outcome = migrate_store(
        Endpoint("sqlite", str(settings.database_path)),
        Endpoint("postgresql", url),
        after_batch=write_to_sqlite,
        say=lambda _line: None,
    )
    assert outcome.ok and refused == ["database is locked"]

    refused.clear()

    def write_to_postgresql(_table: str, _rows: int) -> None:
        if refused:
            return
        with psycopg.connect(url, autocommit=True) as other:
            other.execute("SET lock_timeout = '100ms'")
            try:
                other.execute("UPDATE threads SET title = 'changed behind the copy'")
            except psycopg.errors.LockNotAvailable as exc:
                refused.append(type(exc).__name__)

    outcome = migrate_store(
        Endpoint("postgresql", url),
        Endpoint("sqlite", str(tmp_path / "back.sqlite3")),
        after_batch=write_to_postgresql,
        say=lambda _line: None,
    )
    assert outcome.ok and refused == ["LockNotAvailable"]


def test_the_way_back_resumes_too(tmp_path: Path, prepared: tuple[Path, Any]) -> None:
    settings = _source(tmp_path, prepared)
    url = fresh_database()
    source = Endpoint("sqlite", str(settings.database_path))
    assert migrate_store(source, Endpoint("postgresql", url), say=lambda _line: None).ok
    back = tmp_path / "back" / "mailbridge.sqlite3"

    calls: list[str] = []

    def stop_after_three(table: str, _rows: int) -> None:
        calls.append(table)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        migrate_store(
            Endpoint("postgresql", url),
            Endpoint("sqlite", str(back)),
            limits=Limits(batch_rows=50),
            after_batch=stop_after_three,
            say=lambda _line: None,
        )
    result = _invoke(["migrate-store", "--to", str(back)], MAILBRIDGE_DATA_URL=url)
    assert result.exit_code == 0, result.output
    assert "Continuing the copy started" in result.output
    assert _checksums(Endpoint("sqlite", str(back)), back) == _checksums(source, back)


def test_ids_deleted_at_the_source_are_not_given_again_after_a_copy(
    tmp_path: Path, prepared: tuple[Path, Any]
) -> None:
    """Signed links carry ids: the copy's sequences start past every id the source ever
    gave, a deleted newest row's included, both ways."""
    settings = _source(tmp_path, prepared)
    insert = (
        "INSERT INTO comments (thread_id, author, body, status, source, created_at) "
        "SELECT thread_id, 'Gone', 'soon deleted', 'pending', 'web', 'now' FROM comments "
        "WHERE id = (SELECT min(id) FROM comments)"
    )
    db = sqlite3.connect(settings.database_path, isolation_level=None)
    deleted = db.execute(insert + " RETURNING id").fetchone()[0]
    db.execute("DELETE FROM comments WHERE id = ?", (deleted,))
    db.close()
    url = fresh_database()
    result = _invoke(["migrate-store", "--data-dir", str(settings.data_path), "--to", url])
    assert result.exit_code == 0, result.output
    with psycopg.connect(url, autocommit=True) as conn:
        on_pg = conn.execute(insert.replace("'now'", "'pg'") + " RETURNING id").fetchone()
        assert on_pg is not None and on_pg[0] == deleted + 1
        conn.execute("DELETE FROM comments WHERE id = %s", (on_pg[0],))
    back = tmp_path / "back"
    result = _invoke(["migrate-store", "--to", f"sqlite://{back}/"], MAILBRIDGE_DATA_URL=url)
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(back / "mailbridge.sqlite3", isolation_level=None)
    try:
        again = db.execute(insert + " RETURNING id").fetchone()[0]
    finally:
        db.close()
    assert again == deleted + 2
