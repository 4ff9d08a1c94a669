"""mailbridge migrate-store's parts that need no PostgreSQL: what --to names, the
redaction, the canonical encoding, the table order (tests/postgres/ copies for real)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbridge.cli import cli
from mailbridge.migrate_store.endpoints import (
    Endpoint,
    MigrateRefused,
    destination_of,
    redacted,
    scrubbed,
)
from mailbridge.migrate_store.schema import read_tables
from mailbridge.migrate_store.sqlite_side import held_by_another_process
from mailbridge.migrate_store.verify import encode
from mailbridge.store import Store


def test_what_to_names(tmp_path: Path) -> None:
    url = "postgresql://mb:pw@db.example:5433/mailbridge"
    assert destination_of(url) == Endpoint("postgresql", url)
    assert destination_of("postgres://db/x").engine == "postgresql"
    file = tmp_path / "new.sqlite3"
    assert destination_of(f"sqlite://{file}") == Endpoint("sqlite", str(file))
    assert destination_of(str(file)) == Endpoint("sqlite", str(file))
    # A directory, existing or written with a slash: a data directory.
    assert destination_of(f"{tmp_path}").path == tmp_path / "mailbridge.sqlite3"
    assert destination_of(f"sqlite://{tmp_path}/new/").path == tmp_path / "new/mailbridge.sqlite3"
    for wrong in ("mysql://mb:pw@db/x", "https://example.org/"):
        with pytest.raises(MigrateRefused, match="unknown scheme"):
            destination_of(wrong)
    with pytest.raises(MigrateRefused, match="takes an absolute path"):
        destination_of("sqlite://relative/path")


def test_the_password_is_never_shown() -> None:
    url = "postgresql://mb:s3cr%40t@db.example:5433/mailbridge?sslmode=require"
    assert redacted(url) == "postgresql://mb@db.example:5433/mailbridge?sslmode=require"
    assert Endpoint("postgresql", url).shown == redacted(url)
    said = scrubbed(f"could not use {url}:\n\tpassword s3cr%40t refused", url)
    assert "s3cr" not in said and "\n" not in said
    assert redacted("postgresql:///mailbridge") == "postgresql:///mailbridge"


def test_canonical_encoding_tells_values_apart_and_numbers_by_value() -> None:
    values: list[object] = [None, 0, 1, -1, 1.5, "", "1", "N", b"", b"1", "é", 2**62]
    encoded = [encode(v) for v in values]
    assert len(set(encoded)) == len(values)
    assert encode(0) == encode(0.0) and encode(3) == encode(3.0)
    assert encode(True) == encode(1)
    assert encode(memoryview(b"ab")) == encode(b"ab")
    # Lengths first: two columns never read as one.
    assert encode("ab") + encode("c") != encode("a") + encode("bc")


def test_tables_come_parents_first_and_skip_the_bookkeeping(tmp_path: Path) -> None:
    database = tmp_path / "mailbridge.sqlite3"

    async def create() -> None:
        store = await Store.open(database)
        await store.close()

    asyncio.run(create())
    db = sqlite3.connect(database)
    try:
        db.execute("CREATE TABLE migrate_store_progress (table_name TEXT PRIMARY KEY)")
        tables = read_tables(db)
    finally:
        db.close()
    names = [t.name for t in tables]
    assert "schema_migrations" not in names and "migrate_store_progress" not in names
    for table in tables:
        for parent in table.depends_on:
            assert names.index(parent) < names.index(table.name), (parent, table.name)
    comments = next(t for t in tables if t.name == "comments")
    assert comments.self_refs == ("parent_id",) and comments.key == ("id",)
    replies = next(t for t in tables if t.name == "rejection_replies")
    assert replies.key == ("sender", "hour") and replies.text_key == (True, True)
    assert not held_by_another_process(database)


def test_same_engine_and_a_missing_source_are_refused(tmp_path: Path) -> None:
    data = ["migrate-store", "--data-dir", str(tmp_path / "var")]
    result = CliRunner().invoke(cli, [*data, "--to", str(tmp_path / "copy.sqlite3")])
    assert result.exit_code == 1
    assert "both sqlite" in result.output and "mailbridge backup" in result.output
    result = CliRunner().invoke(cli, [*data, "--to", "postgresql://mb:pw@127.0.0.1:1/x"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no database at ") and "pw" not in result.output


def test_a_source_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "mailbridge.sqlite3").write_bytes(b"not a database, " * 100)
    result = CliRunner().invoke(
        cli,
        ["migrate-store", "--data-dir", str(tmp_path / "var"), "--to", "postgres://h:1/x"],
    )
    assert result.exit_code == 1
    database = (tmp_path / "var" / "mailbridge.sqlite3").resolve()
    assert result.output == f"Error: SQLite ({database}): file is not a database\n"
