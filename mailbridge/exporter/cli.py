"""``mailbridge export``: threads and comments in a format another system imports."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from mailbridge.cli_options import config_options, settings_from
from mailbridge.errors import NotFound
from mailbridge.exporter.write import FORMATS, export
from mailbridge.store.backup import is_the_database

__all__ = ["export_command"]


@click.command()
@config_options
@click.argument("thread", required=False)
@click.option("--all", "everything", is_flag=True, help="Every thread.")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True,
    help="wxr: WordPress (Tools, Import); json: mailbridge's own; disqus: Disqus-style XML.",
)  # fmt: skip
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write here (made anew, mode 0600: it holds commenters' addresses); "
    "default or '-': stdout.",
)  # fmt: skip
def export_command(
    config_file: Path | None,
    data_dir: Path | None,
    thread: str | None,
    everything: bool,
    fmt: str,
    output: Path | None,
) -> None:
    """Export THREAD (its key), or every thread with --all, with every comment, its
    status, parent and writer's address, so that a site can leave.

    `mailbridge import` reads each format back; docs/importing.md says what each keeps.
    """
    from tqdm import tqdm

    from mailbridge.store.opening import open_store

    if (thread is None) == (not everything):
        raise click.UsageError("name one THREAD, or --all")
    settings = settings_from(config_file, data_dir)
    if not settings.data_url and not settings.database_path.exists():
        # Opening would make an empty database there: a mistyped --data-dir exported
        # nothing, said so with exit 0, and left a new database behind.
        raise click.ClickException(
            f"{settings.database_path}: no database here (is --data-dir right?); nothing exported"
        )

    async def main(out: TextIO) -> str:
        store = await open_store(settings)
        bar = tqdm(unit=" comments", disable=not sys.stderr.isatty(), file=sys.stderr)
        try:
            done = await export(
                store, fmt, thread, out, settings.site.public_url, progress=bar.update
            )
        finally:
            bar.close()
            await store.close()
        summary = f"Exported {done.threads} thread(s), {done.comments} comment(s) as {fmt}."
        if done.keys and thread is not None and done.keys[0] != thread:
            summary += f" '{thread}' is thread '{done.keys[0]}' now (renamed in WordPress)."
        return summary

    def run(out: TextIO) -> str:
        try:
            return asyncio.run(main(out))
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None

    if output is None or str(output) == "-":
        summary = run(sys.stdout)
    else:
        if not settings.data_url and is_the_database(settings.database_path, output):
            # Renamed over it at the end, the export replaced the whole database.
            raise click.ClickException(
                f"{output}: is the database itself (or its -wal, -shm or -journal file); "
                "--output is where the export goes: name a file elsewhere"
            )
        summary = _written_whole(output, run)
    click.echo(summary, err=True)


def _written_whole(output: Path, run: Callable[[TextIO], str]) -> str:
    """``run`` writing to a ``.partial`` file renamed to ``output`` once synced: a
    failure (a full disk, an error, Ctrl-C) leaves neither ``output`` nor the
    partial file, which would hold commenters' addresses."""
    partial = output.with_name(output.name + ".partial")
    try:
        partial.unlink(missing_ok=True)  # made anew below with mode 0600
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise click.ClickException(
            f"{output}: cannot write the export there ({exc.strerror or exc})"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            summary = run(out)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(output)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise click.ClickException(
                f"{output}: the export could not be written ({exc.strerror or exc}); "
                "nothing left there"
            ) from None
        raise
    return summary
