"""A data directory that cannot be used stops every command at once, with one line.

Before: a traceback, and for a database that opened but could not be used (read-only,
corrupt) a process that never exited (aiosqlite's worker thread kept it alive), so
systemd's Restart= never fired. CI runs as root, where chmod stops nothing, so the
data directory is made unusable in ways that stop root too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import free_port


def under_a_file(tmp: Path) -> Path:
    (tmp / "afile").write_text("not a directory\n")
    return tmp / "afile" / "var"


def database_is_a_directory(tmp: Path) -> Path:
    (tmp / "var" / "mailbridge.sqlite3").mkdir(parents=True)
    return tmp / "var"


def database_is_no_database(tmp: Path) -> Path:
    # Opens, then fails on the first statement: the path that used to hang.
    (tmp / "var").mkdir()
    (tmp / "var" / "mailbridge.sqlite3").write_bytes(b"\x13garbage, not SQLite\n" * 400)
    return tmp / "var"


SETUPS: dict[str, Callable[[Path], Path]] = {
    "under a regular file": under_a_file,
    "database is a directory": database_is_a_directory,
    "database is no database": database_is_no_database,
}


# What is in place of the SQLite file is SQLite's alone: under --store=postgresql the
# database is elsewhere, and these two would test SQLite again.
_SQLITE_FILE = pytest.mark.sqlite_only("puts garbage where the SQLite file goes")
SETUP_PARAMS = [
    pytest.param(name, marks=[_SQLITE_FILE] if "database" in name else []) for name in SETUPS
]


@pytest.mark.parametrize("command", ["serve", "inbound", "import"])
@pytest.mark.parametrize("setup", SETUP_PARAMS)
def test_an_unusable_data_dir_is_one_line_and_a_prompt_non_zero_exit(
    setup: str, command: str, tmp_path: Path
) -> None:
    data_dir = SETUPS[setup](tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}
    env["MAILBRIDGE_SMTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    env["MAILBRIDGE_HTTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    args = [command, "--data-dir", str(data_dir)]
    if command == "import":
        wxr = tmp_path / "empty.json"
        wxr.write_text('{"threads": []}')
        args.append(str(wxr))

    try:
        done = subprocess.run(
            [sys.executable, "-m", "mailbridge", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mailbridge {command} did not exit: {exc.stderr!r}")

    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Error: {tmp_path}"), lines[0]
    assert "--data-dir" in lines[0]
    assert done.stdout == ""
