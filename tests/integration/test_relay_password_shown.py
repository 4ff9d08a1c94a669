"""The relay password in outbound.transport (smtp://user:password@host, as
docs/delivery.md shows) is never printed: not in serve's start-up banner, which a
service manager writes to the system log, nor by check-config."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import free_port

from mailbridge.cli import cli

PASSWORD = "s3cret-Pa55"


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "mailbridge.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "var"}"\n'
        f'[smtp]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[http]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[outbound]\ntransport = "smtp://blog:{PASSWORD}@127.0.0.1:{free_port()}?tls=required"\n'
    )
    return config


@pytest.mark.asyncio
async def test_serve_banner_names_the_relay_without_its_password(tmp_path: Path) -> None:
    program = Path(sys.executable).with_name("mailbridge")
    daemon = await asyncio.create_subprocess_exec(
        str(program), "serve", "--config", str(_config(tmp_path)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")},
    )  # fmt: skip
    assert daemon.stdout is not None
    banner = []
    try:
        async with asyncio.timeout(60):
            while not banner or "Press Ctrl-C" not in banner[-1]:
                line = await daemon.stdout.readline()
                assert line, "serve ended before its banner:\n" + "".join(banner)
                banner.append(line.decode())
    finally:
        daemon.terminate()
        await daemon.wait()
    shown = "".join(banner)
    assert "outgoing mail" in shown and "smtp://blog:***@127.0.0.1:" in shown
    assert PASSWORD not in shown


def test_check_config_names_the_relay_without_its_password(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["check-config", "--config", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "smtp://blog:***@127.0.0.1:" in result.output
    assert PASSWORD not in result.output


def test_a_mistyped_scheme_is_reported_without_the_password(tmp_path: Path) -> None:
    config = _config(tmp_path)
    config.write_text(config.read_text().replace('"smtp://', '"smpt://'))
    result = CliRunner().invoke(cli, ["check-config", "--config", str(config)])
    assert result.exit_code == 1
    assert "got 'smpt://blog:***@127.0.0.1:" in result.output
    assert PASSWORD not in result.output
