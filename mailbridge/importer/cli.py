"""``mailbridge import``: another system's comments into mailbridge's store."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from mailbridge.cli_options import config_options, settings_from
from mailbridge.clock import SystemClock
from mailbridge.errors import ConfigError, ImportFormatError
from mailbridge.store.opening import open_store
from mailbridge.store.postgres import redacted

__all__ = ["import_command"]

# A WXR or JSON file at least this large is parsed by a process of its own while this
# one writes; under it, starting that process costs as much as it saves (measured: even
# at 25 MB, 0.54 s faster at 50 MB, 0.84 s at 83 MB).
READ_APART_FROM = 24 << 20
# The import's page cache (KiB): a large import's indexes outgrow SQLite's 2 MiB.
IMPORT_CACHE_KIB = 16 << 10


@click.command("import")
@config_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--notify/--no-notify",
    default=True,
    show_default=True,
    help="Email imported commenters when someone answers them.",
)
@click.option(
    "--again",
    is_flag=True,
    help="Read the file even if this very file was imported before (adds what is missing).",
)
def import_command(
    config_file: Path | None, data_dir: Path | None, file: Path, notify: bool, again: bool
) -> None:
    """Import a WordPress (WXR), Disqus, Isso, Commento, Remark42 or mailbridge JSON file.

    The format is detected from the content. Importing the same file again adds
    nothing twice: a file imported whole before (the same bytes) is not even read
    again, unless --again. Imported comments keep their status and send no email.
    """
    from tqdm import tqdm

    from mailbridge.importer import import_file
    from mailbridge.importer.records import EPOCH

    settings = settings_from(config_file, data_dir)

    async def main() -> str:
        store = await open_store(settings)
        await store.set_write_cache(IMPORT_CACHE_KIB)
        bar = tqdm(unit=" comments", disable=not sys.stderr.isatty(), file=sys.stderr)
        try:

            def on_total(total: int) -> None:
                bar.reset(total=total)

            report = await import_file(
                store,
                file,
                SystemClock(),
                on_total=on_total,
                progress=bar.update,
                notify=notify,
                smtputf8=settings.outbound.smtputf8,
                again=again,
                read_apart_from=READ_APART_FROM,
            )
        finally:
            bar.close()
            await store.close()
        if report.unchanged_since is not None:
            return (
                f"{file} ({report.format}) was imported whole on {report.unchanged_since} "
                f"and has not changed since ({report.threads_existing} thread(s), "
                f"{report.comments_existing} comment(s)): nothing to do. "
                "--again reads it anyway and adds what is missing."
            )
        summary = (
            f"Imported {file} ({report.format}): "
            f"{report.threads_created} thread(s) created, "
            f"{report.threads_existing} already present; "
            f"{report.comments_added} comment(s) added, "
            f"{report.comments_existing} already present."
        )
        # Where it went: an import run without the daemon's --config fills the default
        # data directory's database, and the daemon then shows none of it.
        where = redacted(settings.data_url) if settings.data_url else str(settings.database_path)
        summary += (
            f"\nInto {where}"
            + ("" if config_file or data_dir else " (no --config: the default settings' data_dir)")
            + "."
        )
        if report.skipped:
            why = "; ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items()))
            summary += f"\nNot imported: {why}."
        if report.orphans:
            n = report.orphans
            summary += (
                f"\nAt the top level: {n} repl{'y' if n == 1 else 'ies'} whose parent is not "
                "in the file."
            )
        if report.undated:
            summary += (
                f"\nDated {EPOCH[:10]}: {report.undated} comment(s) whose date is missing "
                "or cannot be read."
            )
        if report.addresses_refused:
            shown = "".join(f"\n  {line}" for line in report.refusals)
            more = report.addresses_refused - len(report.refusals)
            summary += (
                f"\n{report.addresses_refused} email address(es) could not be used; those "
                f"posts and comments were imported without an address:{shown}"
                + (f"\n  … and {more} more" if more else "")
            )
        return summary

    try:
        click.echo(asyncio.run(main()))
    except (ImportFormatError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
