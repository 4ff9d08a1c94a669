"""``mailbridge trust``: trusted and blocked commenters, for the operator.

Trusted addresses are published without waiting (unless held or
``moderation.hold_everything``); blocked ones are rejected quietly. A moderator's
"Approve and trust this person" button does ``trust add`` for the comment's writer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TypeVar

import aiosqlite
import click

from mailbridge.addresses import normalise
from mailbridge.cli_options import config_options, settings_from
from mailbridge.clock import SystemClock, iso
from mailbridge.errors import InvalidAddress
from mailbridge.settings import Settings
from mailbridge.store import UnitOfWork, threads, trust
from mailbridge.store.trust import Standing

__all__ = ["trust_command"]

T = TypeVar("T")


def _address(value: str) -> str:
    try:
        return normalise(value, smtputf8=True)
    except InvalidAddress as exc:
        raise click.BadParameter(f"{value!r}: {exc.reason}") from None


async def _with_store(settings: Settings, work: UnitOfWork[T]) -> T:
    from mailbridge.store.opening import open_store

    store = await open_store(settings)
    try:
        return await store.write(work)
    finally:
        await store.close()


@click.group("trust")
def trust_command() -> None:
    """Trusted commenters (published at once) and blocked ones (rejected quietly)."""


def _set(standing: Standing | None, verb: str) -> click.Command:
    @config_options
    @click.argument("email")
    def command(config_file: Path | None, data_dir: Path | None, email: str) -> None:
        settings = settings_from(config_file, data_dir)
        address = _address(email)
        now = iso(SystemClock().now())

        async def work(conn: aiosqlite.Connection) -> str:
            address_id = await threads.upsert_address(conn, address, now)
            if standing is None:
                removed = await trust.clear(conn, address_id)
                return f"{address}: " + (
                    "no longer trusted or blocked." if removed else "was neither."
                )
            await trust.set_standing(conn, address_id, standing, now, None)
            return f"{address}: {verb}."

        click.echo(asyncio.run(_with_store(settings, work)))

    command.__doc__ = {
        Standing.TRUSTED: "Trust EMAIL: their comments are published without waiting.",
        Standing.BLOCKED: "Block EMAIL: their comments are rejected, with no moderation email.",
        None: "Neither trust nor block EMAIL any more (their comments wait as anyone's).",
    }[standing]
    return click.command(verb.split()[0] if standing else "remove")(command)


trust_command.add_command(_set(Standing.TRUSTED, "trusted"), name="add")
trust_command.add_command(_set(Standing.BLOCKED, "blocked"), name="block")
trust_command.add_command(_set(None, "remove"), name="remove")


@trust_command.command("list")
@config_options
def list_command(config_file: Path | None, data_dir: Path | None) -> None:
    """Every trusted and blocked address, with since when."""
    settings = settings_from(config_file, data_dir)
    rows = asyncio.run(_with_store(settings, trust.list_all))
    if not rows:
        click.echo("No trusted or blocked addresses.")
    for row in rows:
        click.echo(f"{row.standing.value:<8} {row.email}  (since {row.since})")
