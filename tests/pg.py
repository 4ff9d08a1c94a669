"""A private PostgreSQL server for the tests: one per session, a fresh database per test.

The server is Debian's PostgreSQL 15, started by tests/recipes/postgres.sh (a
copy of the recipe the CI uses) in a temporary directory on a free loopback port, and
stopped at the end of the session. Each test gets its own database, created empty
(``pg_url``) so that tests never see each other's rows.

Without the server's programs the tests that need it are skipped with the package to
install (tests/programs.py); with REQUIRE_EXTERNAL_TOOLS=1 they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from programs import unavailable
from support import free_port

RECIPE = Path(__file__).resolve().parent / "recipes" / "postgres.sh"
PG_CTL = Path("/usr/lib/postgresql/15/bin/pg_ctl")
MISSING = "needs PostgreSQL 15 from postgresql: apt-get install postgresql"
# The recipe runs programs as the postgres user (runuser): found on the system's own
# PATH, never on a test's PATH of links in a private directory that user cannot read
# (the suite's tools-hidden run, tests/programs.py).
_RECIPE_ENV = {**os.environ, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def missing() -> str | None:
    if not PG_CTL.exists():
        return MISSING
    if not RECIPE.exists():
        return f"needs the recipe {RECIPE} to start PostgreSQL"
    return None


# Set by pg_server: the maintenance URL of the session's server, for fresh_database.
_server_url: str | None = None
# The superuser's, over the server's socket: only it may end an autovacuum worker
# that DROP DATABASE ... WITH (FORCE) finds in a test's database.
_admin_url: str | None = None
TEMPLATE = "mailbridge_template"


def store_option() -> str:
    """ "postgresql" when the suite's stores and daemons run on PostgreSQL
    (``--store=postgresql`` or PYTEST_MAILBRIDGE_STORE=postgresql), else "sqlite"."""
    return os.environ.get("PYTEST_MAILBRIDGE_STORE", "sqlite")


# Data directory -> its database, for the test that is running (tests/conftest.py
# empties it after each test): make_settings called again for one directory.
_by_data_dir: dict[Path, str] = {}


def database_for(data_dir: Path) -> str:
    """The database of ``data_dir`` in this test: made on first use, then the same."""
    key = data_dir.resolve()
    if key not in _by_data_dir:
        _by_data_dir[key] = fresh_database()
    return _by_data_dir[key]


def forget_databases() -> None:
    _by_data_dir.clear()


def fresh_database() -> str:
    """A new database holding the migrated schema, for one test's settings."""
    assert _server_url is not None, "pg_server has not started (see tests/conftest.py)"
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
    return f"{_server_url.rpartition('/')[0]}/{name}"


def _migrated_template(url: str) -> None:
    """A template database with every migration applied: a copy is made in
    milliseconds, where applying twenty migrations per test would take a second."""
    import asyncio

    from mailbridge.store.postgres import migrations
    from mailbridge.store.postgres.connection import connect

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")

    async def migrate() -> None:
        db = await connect(f"{url.rpartition('/')[0]}/{TEMPLATE}")
        try:
            await migrations.apply_pending(db)
        finally:
            await db.close()

    asyncio.run(migrate())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of the session's server's maintenance database (the role may create
    databases)."""
    problem = missing()
    if problem is not None:
        unavailable(problem)
    # Under /tmp itself: the server runs as the postgres user, which must traverse
    # every parent directory (pytest's own temporary directories are private).
    directory = Path(tempfile.mkdtemp(prefix="mailbridge-pg-"))
    port = free_port()
    started = subprocess.run(
        ["bash", str(RECIPE), "start", str(directory), str(port)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=_RECIPE_ENV,
    )
    if started.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"postgres.sh start failed: {started.stderr[-2000:]}", pytrace=False)
    url = next(
        line.split("=", 1)[1]
        for line in started.stdout.splitlines()
        if line.startswith("DATABASE_URL=")
    )
    with psycopg.connect(_admin(directory), autocommit=True) as admin:
        # The tests create and drop a database each.
        admin.execute("ALTER ROLE mailbridge CREATEDB")
    global _server_url, _admin_url
    _migrated_template(url)
    _server_url, _admin_url = url, _admin(directory)
    try:
        yield url
    finally:
        _server_url = _admin_url = None
        subprocess.run(
            ["bash", str(RECIPE), "stop", str(directory)],
            capture_output=True,
            timeout=120,
            check=False,
            env=_RECIPE_ENV,
        )
        shutil.rmtree(directory, ignore_errors=True)


def _admin(directory: Path) -> str:
    port = (directory / "port").read_text().strip()
    return f"host={directory / 'pgsock'} port={port} user=postgres dbname=postgres"


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A URL of a new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = pg_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_admin_url or pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_server: str) -> str:
    """A URL of a new database holding the migrated schema, for a test that runs a
    daemon on PostgreSQL whichever engine the suite runs on (``data_url=``): the
    PostgreSQL counterpart of a SQLite-only test."""
    return fresh_database()


async def waiting_for_a_lock(url: str, task: asyncio.Task[Any]) -> None:
    """Until a session of ``url``'s database waits for a lock (a row another session's
    open transaction holds), or ``task`` is done without having waited (bounded: 10 s):
    the moment a concurrency test lets the holding transaction go on."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as watcher:
        for _ in range(200):
            cur = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            row = await cur.fetchone()
            if task.done() or (row is not None and row[0] > 0):
                return
            await asyncio.sleep(0.05)
    raise AssertionError("no session waited for a lock, and the task did not finish")
