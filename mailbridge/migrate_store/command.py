"""``mailbridge migrate-store --to URL``: the command; registered in mailbridge.cli."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailbridge.cli_options import config_options, settings_from

if TYPE_CHECKING:
    from mailbridge.migrate_store.verify import TableCheck

__all__ = ["MISMATCH_EXIT", "migrate_store_command"]

# Copied, but the verification found a table that differs: not 1 (refused or failed).
MISMATCH_EXIT = 3
_EVERY = 20  # batches between two "rows so far" lines on standard error


def _report(checks: list[TableCheck]) -> str:
    width = max([len("table"), *(len(c.table) for c in checks)])
    lines = [
        "Verification: rows and SHA-256 of each table, read in key order on both sides.",
        f"{'table':<{width}}  {'source rows':>12}  {'destination rows':>16}  checksum",
    ]
    for c in checks:
        verdict = (
            f"ok {c.source.sha256[:12]}"
            if c.ok
            else f"MISMATCH {c.source.sha256[:12]} != {c.destination.sha256[:12]}"
        )
        lines.append(
            f"{c.table:<{width}}  {c.source.rows:>12}  {c.destination.rows:>16}  {verdict}"
        )
    return "\n".join(lines)


@click.command()
@config_options
@click.option(
    "--to",
    "to",
    required=True,
    metavar="URL",
    help="Where to copy: postgresql://user:password@host:port/dbname, or sqlite:///PATH "
    "(or a plain path; a directory means its mailbridge.sqlite3).",
)
@click.option(
    "--batch-rows",
    type=click.IntRange(1, 1_000_000),
    default=5000,
    show_default=True,
    help="Rows per committed batch (a batch also ends at about 32 MiB).",
)
def migrate_store_command(
    config_file: Path | None, data_dir: Path | None, to: str, batch_rows: int
) -> None:
    """Copy the configured store (data_dir's SQLite, or data_url's PostgreSQL) into
    --to, on the other engine, then verify every table's row count and checksum.

    Stop the daemon first. The destination must be empty or an unfinished copy of
    the same source: an interrupted copy continues where it stopped when the same
    command is run again. Exit status 0 when every table matches, 1 when refused or
    failed, 3 when the copy is done but a table differs (docs/migrate-store.md).
    """
    # Imported when used: every other command starts without them.
    from mailbridge.migrate_store.copier import Limits
    from mailbridge.migrate_store.endpoints import MigrateRefused, destination_of, source_of
    from mailbridge.migrate_store.run import migrate_store

    settings = settings_from(config_file, data_dir)
    batches: dict[str, int] = {}

    def so_far(table: str, rows: int) -> None:
        batches[table] = batches.get(table, 0) + 1
        if batches[table] % _EVERY == 0:  # a large table shows it is moving
            click.echo(f"  {table}: {rows} rows so far...", err=True)

    try:
        outcome = migrate_store(
            source_of(settings),
            destination_of(to),
            limits=Limits(batch_rows=batch_rows),
            after_batch=so_far,
            say=click.echo,
        )
    except MigrateRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_report(outcome.checks))
    if not outcome.ok:
        bad = ", ".join(c.table for c in outcome.checks if not c.ok)
        click.echo(f"Error: the copy differs from the source in: {bad}", err=True)
        raise SystemExit(MISMATCH_EXIT)
    click.echo(
        "Every table matches. Point data_url (or data_dir) at the destination and start "
        "the daemon there."
    )
