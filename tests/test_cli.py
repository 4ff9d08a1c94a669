"""The command line, in process through click's runner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner
from support import SEED_JSON, command_env

from mailbridge.cli import cli

COMMANDS = {
    "serve",
    "send-reply",
    "import",
    "extract",
    "inbound",
    "reprocess",
    "comment",
    "bounces",
    "revoke",
    "outbox",
    "dkim",
    "preview",
    "trust",
    "spam",
    "sessions",
    "token",
    "person",
    "status",
    "export",
    "backup",
    "migrate-store",
    "check-config",
}


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mailbridge", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    listed = {
        line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()
    }
    assert listed == COMMANDS == set(cli.list_commands(click.Context(cli)))
    for name in COMMANDS:
        sub = CliRunner().invoke(cli, [name, "--help"])
        assert sub.exit_code == 0 and len(sub.output) > 100, name


def test_a_command_imports_only_what_it_uses() -> None:
    # Each command group is imported when run: `mailbridge import` does not pay for
    # the daemon, aiohttp or dkimpy (a tenth of a 50,000-comment import's time), nor
    # markdownify and BeautifulSoup, which only a comment holding tags needs (0.1 s).
    code = (
        "import sys; from mailbridge.cli import cli; "
        "from mailbridge.importer.cli import import_command; "
        "from mailbridge.importer import import_file; "
        "heavy = [m for m in ('aiohttp', 'dkim', 'mailbridge.app', 'mailbridge.embed.demo', "
        "'mailbridge.outbound.dkim', 'jinja2', 'markdownify', 'bs4') if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_import_twice_then_a_bad_file(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["import", "--data-dir", str(tmp_path / "var"), str(SEED_JSON)]
    env = command_env(args)  # the suite's engine
    first = runner.invoke(cli, args, env={**env, "MAILBRIDGE_SITE_NAME": "Blog"})
    assert first.exit_code == 0, first.output
    assert "1 thread(s) created" in first.output and "243 comment(s) added" in first.output
    # Where it went: the daemon must be started on the same data directory.
    if "MAILBRIDGE_DATA_URL" not in env:
        assert f"\nInto {tmp_path / 'var' / 'mailbridge.sqlite3'}.\n" in first.output
    second = runner.invoke(cli, args, env=env)
    assert second.exit_code == 0, second.output
    assert "was imported whole on 20" in second.output
    assert "has not changed since (1 thread(s), 243 comment(s)): nothing to do" in second.output
    third = runner.invoke(cli, [*args, "--again"], env=env)
    assert "0 comment(s) added, 243 already present" in third.output
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes")
    result = runner.invoke(cli, ["import", "--data-dir", str(tmp_path / "var"), str(bad)], env=env)
    assert result.exit_code == 1
    assert "not a WordPress export" in result.output


def test_unknown_environment_setting_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["import", "--data-dir", str(tmp_path), str(SEED_JSON)],
        env={"MAILBRIDGE_SMTP_LISTN": "127.0.0.1:25"},
    )
    assert result.exit_code == 1
    assert "MAILBRIDGE_SMTP_LISTEN" in result.output


def test_extract_prints_what_the_daemon_would_file(tmp_path: Path) -> None:
    message = tmp_path / "reply.eml"
    message.write_bytes(
        b"From: Ann <ann@example.com>\r\nTo: reply+x@reply.example.org\r\nSubject: Re: hi\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Yes, exactly.\r\n\r\nOn Tue, 24 Nov 2026 at 10:00, Blog <b@example.org> wrote:\r\n"
        b"> the original\r\n"
    )
    result = CliRunner().invoke(cli, ["extract", "--jsonl", str(message)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["file"] == str(message)
    assert record["text"] == "Yes, exactly."
