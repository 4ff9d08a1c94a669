"""``mailbridge inbound`` and ``mailbridge reprocess``: the inbound log (every message
received and why it got its outcome), and a stored message run through the pipeline
again.

Registered in :mod:`mailbridge.cli`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

import click

from mailbridge.cli_options import config_options, settings_from, utc_time
from mailbridge.errors import NotFound
from mailbridge.store.inbound import Disposition
from mailbridge.store.opening import open_store

__all__ = ["inbound_command", "reprocess_command"]


@click.command("inbound")
@config_options
@click.argument("message_id", metavar="[ID]", type=int, required=False)
@click.option(
    "--status",
    # A typo ("acepted") listed nothing, as if no such message had come.
    type=click.Choice([d.value for d in Disposition]),
    help="Only this outcome.",
)
@click.option("--reason", help="Only this reason code (e.g. sender_mismatch).")
@click.option(
    "--since",
    metavar="DATE",
    callback=utc_time,
    help="Only messages received at or after this date or UTC time (YYYY-MM-DD[THH:MM]).",
)
@click.option(
    "--until",
    metavar="DATE",
    callback=utc_time,
    help="Only messages received before this date or UTC time (YYYY-MM-DD[THH:MM]).",
)
@click.option("--search", help="Only senders, recipients or Message-IDs containing this.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--raw", is_flag=True, help="With ID: the raw message as received, byte for byte.")
def inbound_command(
    config_file: Path | None,
    data_dir: Path | None,
    message_id: int | None,
    status: str | None,
    reason: str | None,
    since: str | None,
    until: str | None,
    search: str | None,
    limit: int,
    as_json: bool,
    raw: bool,
) -> None:
    """The inbound log: every message received and why it got its outcome.

    Without ID, lists the newest first. With ID, shows one message: envelope,
    outcome, what the sender was told, every check's result, and its headers.
    """
    from mailbridge.reports import inbound_detail, inbound_table
    from mailbridge.store import inbound as inbound_log

    if raw and message_id is None:
        raise click.UsageError("--raw needs an ID")
    settings = settings_from(config_file, data_dir)

    async def main() -> str | bytes:
        store = await open_store(settings)
        try:
            if message_id is not None:
                if raw:
                    data = await store.read(lambda c: inbound_log.raw_message(c, message_id))
                    if data is None:
                        raise click.ClickException(f"no raw bytes for inbound message {message_id}")
                    return data  # byte for byte: 8-bit text was U+FFFD when decoded
                entry = await store.read(lambda c: inbound_log.get_entry(c, message_id))
                if entry is None:
                    raise click.ClickException(f"no inbound message {message_id}")
                if as_json:
                    return json.dumps(asdict(entry), ensure_ascii=False)
                return inbound_detail(entry)
            entries = await store.read(
                lambda c: inbound_log.list_entries(
                    c,
                    status=status,
                    reason=reason,
                    since=since,
                    until=until,
                    search=search,
                    limit=limit,
                )
            )
            if as_json:
                return "\n".join(json.dumps(asdict(e), ensure_ascii=False) for e in entries)
            return inbound_table(entries)
        finally:
            await store.close()

    found = asyncio.run(main())
    click.echo(found, nl=not isinstance(found, bytes))


@click.command("reprocess")
@config_options
@click.argument("message_id", metavar="ID", type=int)
def reprocess_command(config_file: Path | None, data_dir: Path | None, message_id: int) -> None:
    """Run a stored inbound message through the pipeline again (e.g. after a fix).

    Prints the answer the sender would get now. A comment is never filed twice for
    the same message; emails it causes are sent by the running daemon.
    """
    settings = settings_from(config_file, data_dir)

    async def main() -> str:
        from mailbridge.app import core  # the daemon's parts: only when used

        async with core(settings) as parts:
            return await parts.intake.reprocess(message_id)

    try:
        click.echo(asyncio.run(main()))
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
