"""``mailbridge person``: export or erase what is held about one email address."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import click

from mailbridge.cli_options import config_options, in_store, settings_from
from mailbridge.people import data
from mailbridge.store.opening import open_store

__all__ = ["person_command"]

log = logging.getLogger(__name__)


@click.group("person")
def person_command() -> None:
    """A person's own data: everything held about an email address (docs/privacy.md)."""


@person_command.command("export")
@config_options
@click.argument("email")
def export_command(config_file: Path | None, data_dir: Path | None, email: str) -> None:
    """Print, as JSON, everything held about EMAIL (empty lists when nothing is)."""
    settings = settings_from(config_file, data_dir)
    found = in_store(settings, lambda c: data.export(c, email.strip()), write=False)
    click.echo(json.dumps(found, ensure_ascii=False, indent=2))


@person_command.command("erase")
@config_options
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(config_file: Path | None, data_dir: Path | None, email: str, yes: bool) -> None:
    """Erase everything held about EMAIL; comments per privacy.erased_comments."""
    settings = settings_from(config_file, data_dir)
    mode = settings.privacy.erased_comments
    if not yes:
        click.confirm(f"Erase everything held about this address (comments: {mode})?",
                      abort=True)  # fmt: skip
    remove = mode == "remove"
    now = datetime.now(UTC)

    async def main() -> data.Erased:
        store = await open_store(settings)
        try:
            return await data.erase_from(store, email.strip(), remove, now)
        finally:
            await store.close()

    done = asyncio.run(main())
    # Logged without the address: the log must not keep what was just erased.
    log.info("person: an address was erased (%s)", done.line())
    click.echo(f"Erased: {done.line()}.")
