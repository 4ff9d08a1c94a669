"""Options every command shares: where the configuration comes from."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mailbridge.errors import ConfigError
from mailbridge.settings import Settings, load_settings
from mailbridge.store import UnitOfWork

__all__ = ["config_options", "in_store", "settings_from"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


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


def in_store(settings: Settings, work: UnitOfWork[T], *, write: bool = True) -> T:
    """Open the database, run ``work`` in one transaction, close it: for commands."""
    from mailbridge.store.opening import open_store

    async def main() -> T:
        store = await open_store(settings)
        try:
            return await (store.write(work) if write else store.read(work))
        finally:
            await store.close()

    return asyncio.run(main())
