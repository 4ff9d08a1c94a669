"""Ids are never given twice (migration 0027 on SQLite, the sequences on PostgreSQL):
signed links carry row ids and outlive the rows. Without it SQLite gave a deleted
newest row's id to the next one, and a link for the deleted row acted on the new one:
the Approve link of a deleted comment approved a new comment nobody had seen, and an
erased person's privacy link showed the next person's data."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from flows import post_comment
from pg import database_for, store_option
from support import AUTHOR_EMAIL, ISSO_SCHEMA, command_env, data_rows, db_rows

from mailbridge.app import Running
from mailbridge.cli import cli
from mailbridge.settings import Settings, load_settings
from mailbridge.tokens import Action, make_moderation_token, make_privacy_token


async def mb(*args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


def url(daemon: Running, path: str) -> str:
    host, port = daemon.http_address
    return f"http://{host}:{port}{path}"


@pytest.mark.asyncio
async def test_a_deleted_comments_approve_link_approves_no_new_comment(daemon: Running) -> None:
    data = ["--data-dir", str(daemon.settings.data_path)]
    made = await mb("token", "create", "--name", "test", *data)
    found = re.search(r"^(mbt_\S+)$", made.output, re.M)
    assert made.exit_code == 0 and found, made.output
    bearer = {"Authorization": f"Bearer {found.group(1)}"}
    deleted = await post_comment(daemon, body="Posted in haste.")
    assert await db_rows(daemon, "SELECT max(id) FROM comments") == [(deleted,)]
    [(moderator,)] = await db_rows(daemon, "SELECT id FROM addresses WHERE email = ?", AUTHOR_EMAIL)
    later = datetime.now(UTC) + timedelta(days=1)
    link = make_moderation_token(
        daemon.keyring.moderation, deleted, Action.APPROVE, later, moderator
    )
    async with aiohttp.ClientSession() as session:
        path = f"/api/admin/comments/{deleted}"
        async with session.delete(url(daemon, path), headers=bearer) as r:
            assert r.status == 200, await r.text()
        newer = await post_comment(daemon, body="Something else entirely.", email="bo@example.org")
        assert newer > deleted
        async with session.post(url(daemon, f"/moderate/{link}")) as r:
            assert r.status == 404, await r.text()
    rows = await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", newer)
    assert [tuple(r) for r in rows] == [("pending",)]


@pytest.mark.asyncio
async def test_an_erased_persons_privacy_link_names_nobody_after(daemon: Running) -> None:
    data = ["--data-dir", str(daemon.settings.data_path)]
    await post_comment(daemon, email="first.person@example.org", body="Mine.")
    [(erased,)] = await db_rows(
        daemon, "SELECT id FROM addresses WHERE email = 'first.person@example.org'"
    )
    assert await db_rows(daemon, "SELECT max(id) FROM addresses") == [(erased,)]
    link = make_privacy_token(
        daemon.keyring.subscription, erased, datetime.now(UTC) + timedelta(hours=1)
    )
    done = await mb("person", "erase", "first.person@example.org", "--yes", *data)
    assert done.exit_code == 0, done.output
    await post_comment(daemon, email="next.person@example.org", author="Next", body="Hello.")
    [(newer,)] = await db_rows(
        daemon, "SELECT id FROM addresses WHERE email = 'next.person@example.org'"
    )
    assert newer > erased
    async with aiohttp.ClientSession() as session:
        async with session.get(url(daemon, f"/privacy/{link}")) as r:
            page = await r.text()
            assert r.status == 200 and "Nothing is held" in page
            assert "next.person" not in page
        async with session.get(url(daemon, f"/privacy/{link}/export.json")) as r:
            assert "next.person" not in await r.text()


def _isso(path: Path, uri: str, first: int) -> Path:
    """A small Isso database (support.ISSO_SCHEMA)."""
    conn = sqlite3.connect(path)
    conn.executescript(ISSO_SCHEMA)
    conn.execute("INSERT INTO threads VALUES (1, ?, 'A post')", (uri,))
    conn.executemany(
        "INSERT INTO comments (tid, id, parent, created, mode, text, author, email, voters) "
        "VALUES (1, ?, ?, ?, 1, ?, 'Ann', 'ann@example.org', x'00')",
        [(first, None, 1570000000.0, "First."), (first + 1, first, 1570000100.0, "Second.")],
    )
    conn.commit()
    conn.close()
    return path


async def _write(settings: Settings, sql: str, *args: object) -> None:
    from mailbridge.store.opening import open_store

    store = await open_store(settings)
    try:
        await store.write(lambda c: c.execute(sql, args))
    finally:
        await store.close()


def test_an_import_after_the_newest_comment_was_deleted_takes_new_ids(tmp_path: Path) -> None:
    data = tmp_path / "var"
    args = ["--data-dir", str(data)]

    def run(*more: str) -> None:
        every = ["import", *args, *more]
        done = CliRunner().invoke(cli, every, env=command_env(every))
        assert done.exit_code == 0, done.output

    run(str(_isso(tmp_path / "one.db", "/one", 1)))
    [(newest,)] = data_rows(data, "SELECT max(id) FROM comments")
    overrides = {"data_dir": str(data)}
    if store_option() == "postgresql":
        overrides["data_url"] = database_for(data)
    settings = load_settings(None, environ={}, overrides=overrides)
    asyncio.run(_write(settings, "DELETE FROM comments WHERE id = ?", newest))
    run(str(_isso(tmp_path / "two.db", "/two", 11)))
    got = data_rows(data, "SELECT id, parent_id FROM comments WHERE id >= ? ORDER BY id", newest)
    assert got == [(newest + 1, None), (newest + 2, newest + 1)]
    # Whoever inserts next (the daemon, without an id) continues past the chosen ids.
    asyncio.run(
        _write(
            settings,
            "INSERT INTO comments (thread_id, author, body, status, source, created_at) "
            "SELECT thread_id, 'Web', 'Later.', 'pending', 'web', 'now' FROM comments "
            "WHERE id = ?",
            newest + 1,
        )
    )
    assert data_rows(data, "SELECT max(id) FROM comments") == [(newest + 3,)]
