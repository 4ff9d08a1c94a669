"""``mailbridge export``: threads and comments in a format another system imports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import TextIO

import click

from mailbridge.cli_options import config_options, settings_from
from mailbridge.errors import NotFound
from mailbridge.exporter.write import FORMATS, export

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
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (made anew, mode 0600: it holds commenters' addresses); default stdout.",
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
        return f"Exported {done.threads} thread(s), {done.comments} comment(s) as {fmt}."

    with contextlib.ExitStack() as stack:
        if output is None:
            out: TextIO = sys.stdout
        else:
            # Written whole or not at all: a partial file is removed on failure.
            partial = output.with_name(output.name + ".partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            out = stack.enter_context(os.fdopen(fd, "w", encoding="utf-8"))
        try:
            summary = asyncio.run(main(out))
        except NotFound as exc:
            if output is not None:
                out.close()
                partial.unlink(missing_ok=True)
            raise click.ClickException(str(exc)) from None
    if output is not None:
        partial.replace(output)
    click.echo(summary, err=True)
