"""Options every command shares: where the configuration comes from."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mailbridge.errors import ConfigError
from mailbridge.settings import Settings, load_settings

__all__ = ["config_options", "settings_from"]

F = TypeVar("F", bound=Callable[..., Any])


def config_options(func: F) -> F:
    """--config FILE (or MAILBRIDGE_CONFIG) and --data-dir."""
    func = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Override data_dir (database, Maildir, secret).",
    )(func)
    func = click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="MAILBRIDGE_CONFIG",
        help="TOML configuration file (see config/mailbridge.example.toml).",
    )(func)
    return func


def settings_from(config_file: Path | None, data_dir: Path | None) -> Settings:
    """The settings for a command: defaults, file, environment, then --data-dir."""
    overrides = {"data_dir": str(data_dir)} if data_dir else None
    try:
        return load_settings(config_file, environ=os.environ, overrides=overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
