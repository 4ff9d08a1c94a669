"""Options every command shares: where the configuration comes from."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from mailbridge.errors import ConfigError
from mailbridge.settings import Settings, load_settings
from mailbridge.store import UnitOfWork

__all__ = ["config_options", "in_store", "settings_from", "utc_moment", "utc_time"]

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


def utc_moment(text: str) -> datetime | None:
    """A date (its midnight) or a date and time, as an operator types it (ISO 8601: a
    "T" or a space between, an offset or "Z" optional); a time without an offset is
    UTC, as the commands show it. None when it is neither."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_time(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback for --since/--until: the moment in the storage form
    (mailbridge.clock.iso). The times are compared as text, so "2026-12-7" or
    "12/07/2026" used to match nothing, or everything, without a word."""
    if value is None:
        return None
    moment = utc_moment(value)
    if moment is None:
        raise click.BadParameter(
            f"expected a date YYYY-MM-DD or a UTC time YYYY-MM-DDTHH:MM, got {value!r}"
        )
    return moment.isoformat(timespec="seconds")


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
