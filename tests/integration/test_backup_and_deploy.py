"""Operating it (issue 15): `mailbridge backup` while the daemon runs and takes
replies, restored into a new data directory that the daemon starts on; the systemd
unit checked by systemd-analyze; the container file linted."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flows import post_comment
from programs import requires_program
from support import ROOT, make_settings, started

from mailbridge.app import running
from mailbridge.cli import cli


@pytest.mark.sqlite_only(
    "mailbridge backup copies the SQLite file; on PostgreSQL it refuses and names pg_dump "
    "(tests/postgres/test_pg_schema.py)"
)
@pytest.mark.asyncio
async def test_backup_while_running_then_restore(tmp_path: Path) -> None:
    copy = tmp_path / "backups" / "mailbridge-backup.sqlite3"
    copy.parent.mkdir()
    async with started(tmp_path) as daemon:
        data = str(daemon.settings.data_path)
        # Comments keep coming while the copy is made: it is one consistent moment.
        writers = [asyncio.create_task(post_comment(daemon, body=f"During the backup {n}."))
                   for n in range(20)]  # fmt: skip
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["backup", "--data-dir", data, str(copy)]
        )
        await asyncio.gather(*writers)
    assert result.exit_code == 0, result.output
    assert "integrity checked" in result.output
    assert copy.stat().st_mode & 0o777 == 0o600
    assert not copy.with_name(copy.name + ".partial").exists()
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        backed = conn.execute("SELECT count(*) FROM comments").fetchone()[0]
    finally:
        conn.close()
    assert 243 <= backed <= 263

    # Restore: a new data directory with the copy as its database; the daemon starts.
    restored = make_settings(tmp_path / "restored")
    restored.data_path.mkdir(parents=True)
    shutil.copy(copy, restored.database_path)
    async with running(restored) as daemon:

        async def count(conn: Any) -> int:
            async with conn.execute("SELECT count(*) FROM comments") as cur:
                return int((await cur.fetchone())[0])

        assert await daemon.store.read(count) == backed


def test_backup_refuses_what_is_not_there(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["backup", "--data-dir", str(tmp_path / "none"),
                                      str(tmp_path / "x.sqlite3")])  # fmt: skip
    assert result.exit_code == 1 and "no database here" in result.output
    assert not (tmp_path / "x.sqlite3").exists()


@pytest.mark.sqlite_only("a damaged SQLite file; PostgreSQL is pg_dump's to back up")
def test_backup_of_a_damaged_database_or_to_nowhere_is_one_line(tmp_path: Path) -> None:
    # Was a traceback (sqlite3.DatabaseError) in the mail of the cron job that runs it.
    data = tmp_path / "var"
    data.mkdir()
    (data / "mailbridge.sqlite3").write_bytes(b"\x13garbage, not SQLite\n" * 400)
    earlier = tmp_path / "backup.sqlite3"
    earlier.write_bytes(b"yesterday's backup")

    def backup(target: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailbridge", "backup", "--data-dir", str(data), str(target)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    damaged = backup(earlier)
    assert damaged.returncode == 1
    assert "Traceback" not in damaged.stderr
    assert damaged.stderr.strip().splitlines() == [
        f"Error: {data}/mailbridge.sqlite3: could not be copied to {earlier} "
        "(file is not a database); nothing written"
    ]
    assert earlier.read_bytes() == b"yesterday's backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.sqlite3", "var"]

    nowhere = backup(tmp_path / "no-such-dir" / "b.sqlite3")
    assert nowhere.returncode == 1
    assert nowhere.stderr.strip().splitlines() == [
        f"Error: {tmp_path}/no-such-dir/b.sqlite3: cannot write the backup there "
        "(No such file or directory)"
    ]


@pytest.mark.sqlite_only("the SQLite file itself as the backup's target")
@pytest.mark.asyncio
async def test_backup_onto_the_live_database_is_refused(tmp_path: Path) -> None:
    # "mailbridge backup var/mailbridge.sqlite3" (FILE taken for what to back up) renamed
    # the copy over the live database under the running daemon: its connections stayed
    # on the unlinked file, and what a checkpoint wrote there between the copy and the
    # rename was not in the new one. Refused now, and the daemon goes on unharmed.
    async with started(tmp_path) as daemon:
        data = daemon.settings.data_path
        database = daemon.settings.database_path
        inode = database.stat().st_ino
        for target in (database, data / "mailbridge.sqlite3-wal"):
            done = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "mailbridge", "backup", "--data-dir", str(data),
                 str(target)],
                cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert done.returncode == 1, done.stdout
            assert done.stderr.strip().splitlines() == [
                f"Error: {target}: is the database itself (or its -wal, -shm or -journal "
                "file); FILE is where the copy goes: name a file elsewhere"
            ]
        assert database.stat().st_ino == inode
        await post_comment(daemon, body="Accepted after the refused backup.")
    conn = sqlite3.connect(database)
    try:
        found = conn.execute(
            "SELECT count(*) FROM comments WHERE body = 'Accepted after the refused backup.'"
        ).fetchone()[0]
    finally:
        conn.close()
    assert found == 1


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = requires_program("systemd-analyze", package="systemd")
    unit = (ROOT / "deploy" / "mailbridge.service").read_text()
    assert "NoNewPrivileges=yes" in unit and "ProtectSystem=strict" in unit
    # Verified as installed: its ExecStart pointed at a mailbridge that exists here.
    here = shutil.which("mailbridge") or str(
        Path(__import__("sys").executable).with_name("mailbridge")
    )
    (tmp_path / "mailbridge.service").write_text(
        unit.replace("/opt/mailbridge/bin/mailbridge", here)
    )
    verify = subprocess.run(
        [analyze, "verify", str(tmp_path / "mailbridge.service")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    problems = [line for line in verify.stderr.splitlines() if "mailbridge.service" in line]
    assert verify.returncode == 0 and not problems, verify.stderr


def test_the_container_file_is_sound() -> None:
    """No container engine runs here (docker's daemon is absent, and base images cannot
    be pulled): the file is checked for what a review would check."""
    text = (ROOT / "deploy" / "Containerfile").read_text()
    joined = re.sub(r"\\\n", " ", text).splitlines()
    lines = [ln.strip() for ln in joined if ln.strip() and not ln.strip().startswith("#")]
    instructions = [ln.split()[0] for ln in lines]
    assert instructions[0] == "FROM" and all(
        ln.startswith("FROM python:3.11-slim") for ln in lines if ln.startswith("FROM")
    )
    for line in lines:
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source  # everything copied is in the repository
    assert "ADD" not in instructions
    user = max(i for i, name in enumerate(instructions) if name == "USER")
    assert lines[user].split()[1] != "root" and user < instructions.index("ENTRYPOINT")
    assert "HEALTHCHECK" in instructions and "/healthz" in text
    assert "MAILBRIDGE_DATA_DIR=/data" in text and 'VOLUME ["/data"]' in text
    # The configuration from the environment, not the entry point's arguments, so that
    # `docker exec NAME mailbridge status` (or check-config --api) reads the daemon's.
    assert "MAILBRIDGE_CONFIG=/etc/mailbridge/mailbridge.toml" in text
    assert "CMD" not in instructions and "--config" not in lines[instructions.index("ENTRYPOINT")]
    # ses:// needs the [ses] extra: the build can add it.
    assert 'pip install --no-cache-dir ".${EXTRAS}"' in text and 'ARG EXTRAS=""' in lines
