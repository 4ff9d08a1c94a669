"""``mailbridge spam``: score comments from anywhere, and see the spam folder."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import aiosqlite
import click

from mailbridge.cli_options import config_options, settings_from
from mailbridge.clock import SystemClock, iso
from mailbridge.models import Comment
from mailbridge.spam import training
from mailbridge.spam.bayes import MIN_DOCS
from mailbridge.spam.rules import RuleScore, own_link_prefixes
from mailbridge.spam.scorer import score_text
from mailbridge.store import comments

__all__ = ["spam_command"]


@click.group("spam")
def spam_command() -> None:
    """Spam scoring (docs/spam.md)."""


def _json_lines(stream: BinaryIO) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object with a string body) for each non-blank line.

    Bytes, decoded here: sys.stdin's own decoding either raised a traceback at the
    first byte that is not UTF-8 or, under the C locale, let it through as a lone
    surrogate that printing the line's id then failed on (or learnt it as a word)."""
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise click.ClickException(
                f"line {number}: not UTF-8 text (byte {exc.start + 1})"
            ) from None
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("body"), str):
                raise TypeError("body must be a string")
            # JSON's "\ud800" escapes give strings nothing can print or store.
            json.dumps(item, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise click.ClickException(
                f"line {number}: a string holds a lone surrogate (\\ud800-\\udfff)"
            ) from None
        except (ValueError, TypeError, RecursionError) as exc:
            raise click.ClickException(
                f"line {number}: expected a JSON object with a string body ({exc})"
            ) from None
        yield number, item


@spam_command.command("score")
@config_options
def score_command(config_file: Path | None, data_dir: Path | None) -> None:
    """Score JSON lines {"id", "author", "body"} from stdin; print {"id", "score", "spam"}.

    Uses the rules and, when the data directory holds a trained filter (moderators'
    Spam and Approve decisions, `spam train`), that filter; the rules alone otherwise.
    Nothing is learnt from the comments scored.
    """
    settings = settings_from(config_file, data_dir)
    threshold = settings.spam.threshold
    own = own_link_prefixes(settings.site.public_url, *settings.site.allowed_origins)

    async def main() -> None:
        store = None
        if settings.data_url or settings.database_path.exists():
            from mailbridge.store.opening import open_store

            store = await open_store(settings)
        try:
            for _number, item in _json_lines(sys.stdin.buffer):
                work = functools.partial(_score, body=item["body"], own=own)
                scored = await (store.read(work) if store else work(None))
                out = {
                    "id": item.get("id"),
                    "score": round(scored.score, 4),
                    "spam": scored.score >= threshold,
                    "signals": list(scored.signals),
                }
                click.echo(json.dumps(out, ensure_ascii=False))
        finally:
            if store is not None:
                await store.close()

    asyncio.run(main())


async def _score(
    conn: aiosqlite.Connection | None, *, body: str, own: tuple[str, ...]
) -> RuleScore:
    return await score_text(conn, body, own_links=own)


# Comments learnt per transaction by `spam train` (some 100 ms of the write lock each),
# and the seconds it leaves the lock free between two.
_BATCH = 500
_PAUSE = 0.15


@spam_command.command("train")
@config_options
def train_command(config_file: Path | None, data_dir: Path | None) -> None:
    """Teach the filter labelled JSON lines {"body", "spam": true|false} from stdin.

    For a head start from comments labelled elsewhere (an old blog's spam folder);
    moderators' Spam and Approve decisions train it anyway. Prints what it now knows.
    """
    from mailbridge.store.opening import open_store

    settings = settings_from(config_file, data_dir)
    items = []
    for number, item in _json_lines(sys.stdin.buffer):
        if not isinstance(item.get("spam"), bool):
            raise click.ClickException(f'line {number}: "spam" must be true or false')
        items.append((item["body"], item["spam"]))

    async def main() -> tuple[int, int]:
        store = await open_store(settings)
        try:
            found = (0, 0)
            # A transaction per batch: in one, a big file held the database's write
            # lock for as long as it took (60,000 comments, 20 s), and a daemon on the
            # same data directory refused comments with 503 and replies with 451.
            # The pause between batches lets a daemon's write in: SQLite's busy
            # handler polls every 100 ms at most, and a lock taken again at once
            # starved it all the same.
            for start in range(0, len(items), _BATCH):
                if start:
                    await asyncio.sleep(_PAUSE)
                batch = items[start : start + _BATCH]

                async def work(
                    conn: aiosqlite.Connection, batch: list[tuple[str, bool]] = batch
                ) -> tuple[int, int]:
                    for body, spam in batch:
                        await training.learn_text(conn, body, spam)
                    return await training.trained_docs(conn)

                found = await store.write(work)
            return found if items else await store.read(training.trained_docs)
        finally:
            await store.close()

    spam, ham = asyncio.run(main())
    click.echo(f"Learnt {len(items)} comments; the filter now knows {spam} spam and {ham} ham.")
    if min(spam, ham) < MIN_DOCS:
        click.echo(f"It takes part in scores once it knows {MIN_DOCS} of each.")


@spam_command.command("list")
@config_options
@click.option(
    "--days",
    default=7,
    show_default=True,
    # Bounded: 10**8 days was a traceback (a date before year 1), -3 "the last -3 days".
    type=click.IntRange(1, 36_500),
    help="How far back to look (1 to 36500).",
)
def list_command(config_file: Path | None, data_dir: Path | None, days: int) -> None:
    """Comments that went to the spam folder, with why; rescue with `comment ID --approve`."""
    from mailbridge.store.opening import open_store

    settings = settings_from(config_file, data_dir)
    since = iso(SystemClock().now() - timedelta(days=days))

    async def main() -> tuple[list[Comment], int]:
        store = await open_store(settings)
        try:

            async def work(conn: aiosqlite.Connection) -> tuple[list[Comment], int]:
                return await comments.spam_folder(conn, since)

            return await store.read(work)
        finally:
            await store.close()

    found, total = asyncio.run(main())
    if not found:
        click.echo(f"No comment went to spam in the last {days} days.")
    for comment in found:
        text = " ".join(comment.body.split())
        click.echo(f"{comment.id:>7}  {comment.created_at[:16]}  {comment.author}: {text[:70]}")
        click.echo(f"         {comment.held_reason or ''}")
    if total > len(found):
        # After a robot run the newest 200 were all it printed, as if they were all.
        click.echo(
            f"And {total - len(found):,} older ones of the last {days} days, not listed: "
            "the spam folder's page (/moderate/spam) lists them all, a page at a time."
        )
    if found:
        click.echo("Rescue one with: mailbridge comment ID --approve")
