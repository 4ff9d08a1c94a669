"""``mailbridge backup FILE``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from mailbridge.cli_options import config_options, settings_from
from mailbridge.errors import DataDirUnusable
from mailbridge.store.backup import BackupRefused, backup

__all__ = ["backup_command"]


@click.command()
@config_options
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(config_file: Path | None, data_dir: Path | None, file: Path) -> None:
    """Copy the database to FILE, consistent, while the daemon runs (mode 0600).

    Restore: stop the daemon, put FILE in the data directory as mailbridge.sqlite3
    (removing mailbridge.sqlite3-wal and -shm), start it (docs/operating.md).
    """
    settings = settings_from(config_file, data_dir)
    if settings.data_url:
        # The backup copies the SQLite file; a PostgreSQL database is PostgreSQL's to back up.
        raise click.ClickException(
            "data_url names a PostgreSQL database: back it up with pg_dump "
            "(docs/postgresql.md); mailbridge backup copies the SQLite database only"
        )
    try:
        done = backup(settings.database_path, file)
    except (DataDirUnusable, BackupRefused) as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        # A damaged database, or one locked past the timeout (a migration running):
        # one line for a cron job's mail, not a traceback; no copy was left.
        raise click.ClickException(
            f"{settings.database_path}: could not be copied to {file} ({exc}); nothing written"
        ) from None
    except OSError as exc:
        raise click.ClickException(
            f"{file}: cannot write the backup there ({exc.strerror or exc})"
        ) from None
    click.echo(
        f"Backed up {settings.database_path} to {done.path}: {done.size} bytes, "
        f"{done.comments} comment(s), integrity checked."
    )
