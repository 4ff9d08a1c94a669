"""``mailbridge token``: API tokens for the admin API (docs/api.md)."""

from __future__ import annotations

from pathlib import Path

import click

from mailbridge.admin import tokens
from mailbridge.cli_options import config_options, in_store, settings_from
from mailbridge.clock import SystemClock, iso

__all__ = ["token_command"]


@click.group("token")
def token_command() -> None:
    """API tokens for software that integrates (the admin API)."""


@token_command.command("create")
@config_options
@click.option("--name", required=True, help="What the token is for, e.g. the CMS's name.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(tokens.SCOPES),
    help="read (list and get comments), moderate (approve, reject, spam, edit, threads), "
    "people (export and erase a person's data); read and moderate by default.",
)
def create_command(
    config_file: Path | None, data_dir: Path | None, name: str, scopes: tuple[str, ...]
) -> None:
    """Create a token and print it once: only its hash is kept."""
    settings = settings_from(config_file, data_dir)
    chosen = scopes or tokens.DEFAULT_SCOPES
    now = iso(SystemClock().now())
    token_id, token = in_store(settings, lambda c: tokens.create(c, name.strip(), chosen, now))
    click.echo(f"Token {token_id} ({name}, scopes: {' '.join(sorted(chosen))}):")
    click.echo(token)
    click.echo("It is shown only now; send it as: Authorization: Bearer <token>")


@token_command.command("list")
@config_options
def list_command(config_file: Path | None, data_dir: Path | None) -> None:
    """Every token: id, name, scopes, created, and whether it was revoked."""
    found = in_store(settings_from(config_file, data_dir), tokens.list_tokens, write=False)
    if not found:
        click.echo("No API token yet: mailbridge token create --name NAME")
    for t in found:
        state = f"revoked {t.revoked_at[:16]}" if t.revoked_at else "active"
        click.echo(f"{t.id:>5}  {state:<24} {' '.join(sorted(t.scopes)):<15} {t.name}")


@token_command.command("revoke")
@config_options
@click.argument("token_id", type=int)
def revoke_command(config_file: Path | None, data_dir: Path | None, token_id: int) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    now = iso(SystemClock().now())
    if in_store(settings_from(config_file, data_dir), lambda c: tokens.revoke(c, token_id, now)):
        click.echo(f"Token {token_id} revoked.")
    else:
        raise click.ClickException(f"no active token {token_id}")
