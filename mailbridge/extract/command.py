"""``mailbridge extract [--jsonl] FILE...``: print the comment each saved message becomes.

It calls :func:`mailbridge.extract.extract`, the same function the daemon
calls, in process and without network access.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from mailbridge.extract import extract

__all__ = ["extract_command"]


@click.command(name="extract")
@click.option("--jsonl", is_flag=True, help="One JSON object per file and line instead of text.")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True)
)
def extract_command(jsonl: bool, files: tuple[str, ...]) -> None:
    """Print the comment text the daemon would create from each saved message.

    FILE is a raw RFC 5322 message (an .eml file); "-" reads standard input.
    Without --jsonl the texts are printed one after another, each under a
    "==> FILE <==" line when more than one file is given.  With --jsonl each
    line is an object with "file", "text", "part", "attachments", "elided",
    "charset", "charset_fallback" and "defects".
    """
    for n, name in enumerate(files):
        with click.open_file(name, "rb") as fh:
            raw = fh.read()
        result = extract(raw)
        if jsonl:
            record = {"file": name, **asdict(result)}
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        if len(files) > 1:
            click.echo(("\n" if n else "") + f"==> {name} <==")
        click.echo(result.text)
