"""``mailbridge sessions``: who is signed in to the moderation queue; end sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TypeVar

import aiosqlite
import click

from mailbridge.cli_options import config_options, settings_from
from mailbridge.clock import SystemClock, iso
from mailbridge.moderate.moderators import moderates
from mailbridge.settings import Settings
from mailbridge.store import UnitOfWork, sessions

__all__ = ["sessions_command"]

T = TypeVar("T")


async def _write(settings: Settings, work: UnitOfWork[T]) -> T:
    from mailbridge.store.opening import open_store

    store = await open_store(settings)
    try:
        return await store.write(work)
    finally:
        await store.close()


@click.group("sessions")
def sessions_command() -> None:
    """Moderators' sessions on the /moderate queue page."""


@sessions_command.command("list")
@config_options
def list_command(config_file: Path | None, data_dir: Path | None) -> None:
    """Every session: who, since when, last seen, and whether it still works
    (active, expired, revoked, or removed: its address moderates nothing now)."""
    settings = settings_from(config_file, data_dir)

    async def listed(conn: aiosqlite.Connection) -> list[tuple[sessions.SessionRow, bool]]:
        configured = settings.moderation.moderators
        return [(row, await moderates(conn, configured, row.email))
                for row in await sessions.list_all(conn)]  # fmt: skip

    rows = asyncio.run(_write(settings, listed))
    now = iso(SystemClock().now())
    if not rows:
        click.echo("No sessions.")
    for row, moderating in rows:
        state = "revoked" if row.revoked_at else ("expired" if row.expires_at <= now else "active")
        if state == "active" and not moderating:
            # Refused (and revoked) at its next request: the address moderates nothing.
            state = "removed"
        click.echo(
            f"{row.id:>5}  {state:<8} {row.email}  since {row.created_at[:16]}  "
            f"last seen {row.last_seen_at[:16]}  {row.user_agent[:40]}"
        )


@sessions_command.command("revoke")
@config_options
@click.argument("session_id", required=False, type=int)
@click.option("--all", "everything", is_flag=True, help="End every session.")
def revoke_command(
    config_file: Path | None, data_dir: Path | None, session_id: int | None, everything: bool
) -> None:
    """End session SESSION_ID (from `sessions list`), or every session with --all."""
    if (session_id is None) == (not everything):
        raise click.UsageError("give a SESSION_ID or --all")
    settings = settings_from(config_file, data_dir)
    now = iso(SystemClock().now())
    count = asyncio.run(_write(settings, lambda c: sessions.revoke(c, session_id, now)))
    click.echo(f"{count} session{'s' if count != 1 else ''} ended.")
