"""Importing an Isso database (issue 12): a real SQLite file in Isso's schema (the
tables and columns of isso/db/threads.py and isso/db/comments.py), with published,
pending and deleted comments, a reply to a deleted one, imported twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner
from support import ISSO_SCHEMA, command_env, data_rows

from mailbridge.cli import cli


def isso_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(ISSO_SCHEMA)
    conn.execute("INSERT INTO threads VALUES (1, '/2019/on-boundaries/', 'On boundaries')")
    conn.execute("INSERT INTO threads VALUES (2, '/about', NULL)")
    rows = [
        (1, 1, None, 1570000000.0, 1, "A *first* thought.", "Ann", "ann@example.org"),
        (1, 2, 1, 1570000100.0, 1, "Agreed.", "Bob", "bob@example.org"),
        (1, 3, None, 1570000200.0, 2, "Waiting for moderation.", "Cy", None),
        (1, 4, None, 1570000300.0, 4, "", None, None),  # deleted, but answered
        (1, 5, 4, 1570000400.0, 1, "An answer to a deleted one.", "Dee", "not an address"),
        (2, 6, None, 1570000500.0, 1, "Nice page.", None, None),
    ]
    conn.executemany(
        "INSERT INTO comments (tid, id, parent, created, mode, text, author, email, voters) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, x'00')",
        rows,
    )
    conn.commit()
    conn.close()
    return path


def run(*args: str) -> str:
    env = command_env(list(args), {"MAILBRIDGE_SITE_NAME": "Blog"})
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_an_isso_database_is_imported_once(tmp_path: Path) -> None:
    source = isso_db(tmp_path / "comments.db")
    before = source.read_bytes()
    data = tmp_path / "var"
    first = run("import", "--data-dir", str(data), str(source))
    assert "(isso): 2 thread(s) created" in first and "5 comment(s) added" in first
    assert "Not imported: 1 deleted in Isso." in first
    assert "1 email address(es) could not be used" in first
    again = run("import", "--data-dir", str(data), "--again", str(source))
    assert "0 comment(s) added, 5 already present" in again
    got = data_rows(
        data,
        "SELECT c.source_ref, p.source_ref, c.status, c.author, c.body, t.key "
        "FROM comments c JOIN threads t ON t.id = c.thread_id "
        "LEFT JOIN comments p ON p.id = c.parent_id ORDER BY c.id",
    )
    threads = data_rows(data, "SELECT key, title, url FROM threads ORDER BY id")
    assert got == [
        ("isso:1", None, "approved", "Ann", "A *first* thought.", "on-boundaries"),
        ("isso:2", "isso:1", "approved", "Bob", "Agreed.", "on-boundaries"),
        ("isso:3", None, "pending", "Cy", "Waiting for moderation.", "on-boundaries"),
        ("isso:6", None, "approved", "Anonymous", "Nice page.", "about"),
        ("isso:5", None, "approved", "Dee", "An answer to a deleted one.", "on-boundaries"),
    ]
    # A relative uri is not a link mailbridge can use: the thread keeps no URL.
    assert threads == [("on-boundaries", "On boundaries", ""), ("about", "about", "")]
    assert source.read_bytes() == before  # opened read-only: Isso's file is untouched


def test_another_sqlite_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    args = ["import", "--data-dir", str(tmp_path / "v"), str(other)]
    result = CliRunner().invoke(cli, args, env=command_env(args))
    assert result.exit_code == 1 and "not Isso's" in result.output
