"""An upgrade whose migration cannot finish: the file may not grow (RLIMIT_FSIZE on
the real `mailbridge` process, which SQLite meets as a failed write half-way through
the step, as on a full disk), then the next start with room to write.

The command stops with one line naming the step and the cause, never a traceback, and
not SQLite's "cannot rollback - no transaction is active" (SQLite had rolled back on
its own: the runner's ROLLBACK failed and hid why) nor the data directory's advice
(permissions, or another data directory). The database is as before the step; the
next start applies it and the rest, and nothing is lost.
"""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import import_seed, make_settings

from mailbridge.store import migrations

# The -shm index (32 KiB) fits; a dozen WAL frames do not, fewer than 0029's rebuild.
FILE_LIMIT = 40_000


def _status(data_dir: Path, limit: int | None) -> subprocess.CompletedProcess[str]:
    def limited() -> None:
        if limit is not None:  # Python ignores SIGXFSZ: a write past it fails (EFBIG)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "mailbridge", "status", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=limited,  # the child sets its own limit only, before exec
    )


def _facts(database: Path) -> tuple[str, int, int]:
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        [(last,)] = conn.execute("SELECT max(name) FROM schema_migrations").fetchall()
        [(comments,)] = conn.execute("SELECT count(*) FROM comments").fetchall()
        [(threads,)] = conn.execute("SELECT count(*) FROM threads").fetchall()
    return str(last), int(comments), int(threads)


@pytest.mark.sqlite_only("a file that may not grow is SQLite's; PostgreSQL rolls back alike")
@pytest.mark.asyncio
async def test_a_migration_that_cannot_write_says_which_and_why_and_the_next_start_ends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = migrations.migrations()
    monkeypatch.setattr(migrations, "migrations", lambda: [m for m in shipped if m.name < "0029"])
    settings = make_settings(tmp_path)
    await import_seed(settings)  # the sample thread, at 0028
    monkeypatch.undo()
    database = settings.database_path
    before = _facts(database)
    assert before == ("0028_sign_in_links_once", 243, 1)

    failed = _status(settings.data_path, FILE_LIMIT)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stderr.startswith("Error: "), failed.stderr
    assert "Traceback" not in failed.stderr
    assert "migration 0029_outbox_withdrawn could not be applied (disk I/O error)" in (
        failed.stderr
    ), failed.stderr
    assert "no transaction is active" not in failed.stderr
    assert "permissions" not in failed.stderr
    assert _facts(database) == before

    done = _status(settings.data_path, None)
    assert done.returncode == 0, done.stderr
    assert "Comments: 243 approved" in done.stdout
    assert _facts(database) == (shipped[-1].name, 243, 1)
