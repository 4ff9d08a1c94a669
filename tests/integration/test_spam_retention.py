"""The spam folder's retention (spam.keep_days): before, nothing ever left the folder,
and a blog under a flood of robots kept all their comments, and the addresses they
typed, for good. What went there by itself is deleted once older than the setting; what
a moderator marked spam (the trained filter's lesson) stays, as do the other comments."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flows import post_comment
from held import files_holding, traces
from support import FakeClock, db_rows, make_settings, smtp_send, started

from mailbridge.cli import cli
from mailbridge.errors import ConfigError
from mailbridge.housekeeping import Housekeeping
from mailbridge.models import Channel, Decider
from mailbridge.tokens import Action

SPAMMY = "Check out my channel!!! http://spam.example/watch subscribe please"


async def statuses(daemon: object) -> dict[str, str]:
    rows = await db_rows(daemon, "SELECT author, status FROM comments WHERE source = 'web'")
    return {str(author): str(status) for author, status in rows}


@pytest.mark.asyncio
async def test_the_folder_forgets_what_nobody_rescued(tmp_path: Path) -> None:
    async with started(tmp_path, spam={"keep_days": 30}) as daemon:
        await post_comment(daemon, author="Robot", email="robot@example.net", body=SPAMMY)
        await post_comment(daemon, author="Reader", body="I found this moving, thank you.")
        taught = await post_comment(
            daemon, author="Seller", email="seller@example.net", body="Zorblax tonic works."
        )
        await daemon.service.moderate(taught, Action.SPAM, Decider(Channel.CLI, None))
        assert await statuses(daemon) == {"Robot": "spam", "Reader": "pending", "Seller": "spam"}
        clock = FakeClock()
        keeper = Housekeeping(
            daemon.store,
            clock,
            raw_retention_days=30,
            sent_days=90,
            spam_days=daemon.settings.spam.keep_days,
        )
        clock.advance(timedelta(days=29).total_seconds())
        await keeper.run_once()
        assert set(await statuses(daemon)) == {"Robot", "Reader", "Seller"}
        clock.advance(timedelta(days=2).total_seconds())
        await keeper.run_once()
        # The robot's comment is gone with its decisions; the moderator's lesson stays.
        assert await statuses(daemon) == {"Reader": "pending", "Seller": "spam"}
        assert await db_rows(
            daemon,
            "SELECT count(*) FROM moderation_decisions d LEFT JOIN comments c "
            "ON c.id = d.comment_id WHERE c.id IS NULL",
        ) == [(0,)]


def test_a_keep_days_shorter_than_the_queue_page_shows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"spam\.keep_days: must be 0 .* or 30 to 36500"):
        make_settings(tmp_path, spam={"keep_days": 7})
    assert make_settings(tmp_path).spam.keep_days == 0  # kept for ever unless asked


ROBOT = "victim.of.a.robot@example.net"
MODERATOR = "Mo <mo@example.org>"


@pytest.mark.asyncio
async def test_the_addresses_only_the_folders_comments_held_go_with_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A robot types a real person's address, asking to be notified: the address and
    the subscription held for a rescue stayed for good after the folder forgot the
    comment. The addresses something else still needs stay."""
    async with started(
        tmp_path, spam={"keep_days": 30}, moderation={"moderators": [MODERATOR]}
    ) as daemon:
        for author, email in (
            ("Robot", ROBOT),
            ("Blocked robot", "blocked@example.net"),  # the operator blocks it below
            ("Reader", "reader@example.net"),  # also wrote a comment that was kept
            ("Mo", "mo@example.org"),  # a moderator trying the filter out
            ("Asker", "asker@example.net"),  # asks the postmaster why, below
        ):
            await post_comment(daemon, author=author, email=email, body=SPAMMY, notify=True)
        question = b"From: asker@example.net\r\nSubject: My comment?\r\n\r\nWhere is it?\r\n"
        await smtp_send(daemon, "asker@example.net", "postmaster@reply.example.org", question)
        await post_comment(daemon, author="Reader", email="reader@example.net",
                           body="I found this moving, thank you.")  # fmt: skip
        blocked = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            ["trust", "block", "blocked@example.net", "--data-dir", str(daemon.settings.data_path)],
        )
        assert blocked.exit_code == 0, blocked.output
        spam = "SELECT count(*) FROM comments WHERE status = 'spam'"
        assert await db_rows(daemon, spam) == [(5,)]
        [(robot_id,)] = await db_rows(daemon, "SELECT id FROM addresses WHERE email = ?", ROBOT)
        assert await traces(daemon, ROBOT, robot_id)  # the scan finds what is held

        clock = FakeClock()
        keeper = Housekeeping(
            daemon.store, clock, raw_retention_days=30, sent_days=90, spam_days=30,
            moderators=daemon.settings.moderation.moderators,
        )  # fmt: skip
        clock.advance(timedelta(days=31).total_seconds())
        caplog.set_level(logging.INFO, logger="mailbridge")
        await keeper.run_once()

        assert await db_rows(daemon, spam) == [(0,)]
        assert await traces(daemon, ROBOT, robot_id) == []
        # Nor in the database's files: the write-ahead log kept the deleted pages.
        assert files_holding(daemon, ROBOT) == []
        kept = await db_rows(
            daemon,
            "SELECT a.email, t.trust FROM addresses a LEFT JOIN address_trust t "
            "ON t.address_id = a.id WHERE a.email LIKE '%example.net' OR a.email = ? "
            "ORDER BY a.email",
            "mo@example.org",
        )
        assert kept == [
            ("asker@example.net", None),
            ("blocked@example.net", "blocked"),
            ("mo@example.org", None),
            ("reader@example.net", None),
        ]
        assert "forgot 1 address(es)" in caplog.text and ROBOT not in caplog.text


@pytest.mark.asyncio
async def test_a_backlog_of_spam_goes_in_one_run_batch_after_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, at most one batch (500) an hour: a folder filling faster under a flood
    never caught up. Now batch after batch, each its own transaction, until none is left
    (here batches of 2, so that 7 comments take four)."""
    async with started(tmp_path, spam={"keep_days": 30}) as daemon:
        for n in range(7):
            await post_comment(
                daemon, author=f"Robot {n}", email=f"robot{n}@example.net", body=f"{SPAMMY} {n}"
            )
        await post_comment(daemon, author="Reader", body="I found this moving, thank you.")
        assert list((await statuses(daemon)).values()).count("spam") == 7
        clock = FakeClock()
        batches: list[int] = []

        async def between() -> None:
            batches.append(len(await statuses(daemon)))

        keeper = Housekeeping(
            daemon.store, clock, raw_retention_days=30, sent_days=90, spam_days=30,
            batches=(2, 1000), between=between,
        )  # fmt: skip
        clock.advance(timedelta(days=31).total_seconds())
        caplog.set_level(logging.INFO, logger="mailbridge")
        await keeper.run_once()
        assert await statuses(daemon) == {"Reader": "pending"}
        # Each batch committed before the next began: the folder seen shrinking by two.
        assert batches == [6, 4, 2]
        assert "forgot 2 comment(s) of the spam folder" in caplog.text
        assert "forgot 1 comment(s) of the spam folder" in caplog.text
