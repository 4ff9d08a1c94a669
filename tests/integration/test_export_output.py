"""Where `mailbridge export` writes: a file made whole or not at all, standard output
for none or '-', and one line (no traceback, nothing left) when it cannot."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pg import store_option
from support import SEED_JSON, command_env

from mailbridge.cli import cli


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=command_env(list(args)))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    where = tmp_path / "var"
    assert invoke("import", "--data-dir", str(where), str(SEED_JSON)).exit_code == 0
    return where


def test_a_data_dir_without_a_database_is_refused_not_exported_empty(tmp_path: Path) -> None:
    if store_option() == "postgresql":
        pytest.skip("data_url names the database; no SQLite file is looked for")
    typo = tmp_path / "vra"
    out = tmp_path / "blog.json"
    result = invoke("export", "--data-dir", str(typo), "--all", "-o", str(out))
    assert result.exit_code == 1, result.output
    assert "no database here (is --data-dir right?); nothing exported" in result.output
    assert not out.exists() and not (tmp_path / "blog.json.partial").exists()
    assert not (typo / "mailbridge.sqlite3").exists()  # no empty database made there


def test_an_output_directory_that_is_not_there_is_one_line(tmp_path: Path, data: Path) -> None:
    out = tmp_path / "no-such-dir" / "blog.wxr"
    result = invoke("export", "--data-dir", str(data), "--all", "--format", "wxr", "-o", str(out))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "blog.wxr: cannot write the export there (No such file or directory)" in result.output
    assert "Traceback" not in result.output


def test_a_dash_is_standard_output(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a file named '-' would be made
    result = invoke("export", "--data-dir", str(data), "--all", "-o", "-")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "-").exists()
    assert len(json.loads(result.stdout)["threads"]) == 1


def _no_bigger_than(size: int) -> None:
    # A full disk, as write() meets it: EFBIG (SIGXFSZ ignored) past ``size`` bytes.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


@pytest.mark.parametrize("fmt", ["json", "wxr"])
def test_a_full_disk_midway_leaves_nothing(tmp_path: Path, data: Path, fmt: str) -> None:
    out = tmp_path / f"blog.{fmt}"
    args = ["export", "--data-dir", str(data), "--all", "--format", fmt, "-o", str(out)]
    # The database is opened before the limit matters: it is only read, and its
    # files are larger than the limit already (SQLite writes nothing past it).
    done = subprocess.run(
        [sys.executable, "-m", "mailbridge", *args],
        env={**os.environ, **command_env(args)},
        preexec_fn=lambda: _no_bigger_than(64 * 1024),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "the export could not be written (File too large); nothing left there" in done.stderr
    assert "Traceback" not in done.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name != "var"] == []


@pytest.mark.parametrize("name", ["mailbridge.sqlite3", "mailbridge.sqlite3-wal"])
def test_the_database_itself_is_refused_as_the_output(data: Path, name: str) -> None:
    if store_option() == "postgresql":
        pytest.skip("data_url names the database; there is no file to write over")
    database = data / "mailbridge.sqlite3"
    before = database.read_bytes()
    result = invoke("export", "--data-dir", str(data), "--all", "-o", str(data / name))
    assert result.exit_code == 1, result.output
    assert "is the database itself" in result.output
    assert database.read_bytes() == before  # not replaced by a JSON file
    assert not (data / f"{name}.partial").exists()
