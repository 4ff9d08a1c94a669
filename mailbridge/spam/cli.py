"""``mailbridge spam``: score comments from anywhere, and see the spam folder."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

import aiosqlite
import click

from mailbridge.cli_options import config_options, settings_from
from mailbridge.clock import SystemClock, iso
from mailbridge.models import Comment
from mailbridge.spam.rules import rule_score
from mailbridge.store import comments

__all__ = ["spam_command"]


@click.group("spam")
def spam_command() -> None:
    """Spam scoring (docs/spam.md)."""


@spam_command.command("score")
@config_options
def score_command(config_file: Path | None, data_dir: Path | None) -> None:
    """Score JSON lines {"id", "author", "body"} from stdin; print {"id", "score", "spam"}.

    Uses the rules alone (no outside service, nothing learnt from this data), with
    spam.threshold, so anyone can measure the scorer on their own comments.
    """
    threshold = settings_from(config_file, data_dir).spam.threshold
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            body = item["body"]
            if not isinstance(body, str):
                raise TypeError("body must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(
                f"line {number}: expected a JSON object with a string body ({exc})"
            ) from None
        scored = rule_score(body)
        click.echo(
            json.dumps(
                {
                    "id": item.get("id"),
                    "score": round(scored.score, 4),
                    "spam": scored.score >= threshold,
                    "signals": list(scored.signals),
                },
                ensure_ascii=False,
            )
        )


@spam_command.command("list")
@config_options
@click.option("--days", default=7, show_default=True, help="How far back to look.")
def list_command(config_file: Path | None, data_dir: Path | None, days: int) -> None:
    """Comments that went to the spam folder, with why; rescue with `comment ID --approve`."""
    from mailbridge.app import open_store

    settings = settings_from(config_file, data_dir)
    since = iso(SystemClock().now() - timedelta(days=days))

    async def main() -> list[Comment]:
        store = await open_store(settings)
        try:

            async def work(conn: aiosqlite.Connection) -> list[Comment]:
                return await comments.spam_folder(conn, since)

            return await store.read(work)
        finally:
            await store.close()

    found = asyncio.run(main())
    if not found:
        click.echo(f"No comment went to spam in the last {days} days.")
    for comment in found:
        text = " ".join(comment.body.split())
        click.echo(f"{comment.id:>7}  {comment.created_at[:16]}  {comment.author}: {text[:70]}")
        click.echo(f"         {comment.held_reason or ''}")
    if found:
        click.echo("Rescue one with: mailbridge comment ID --approve")
