"""The spam folder's retention (spam.keep_days): before, nothing ever left the folder,
and a blog under a flood of robots kept all their comments, and the addresses they
typed, for good. What went there by itself is deleted once older than the setting; what
a moderator marked spam (the trained filter's lesson) stays, as do the other comments."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flows import post_comment
from support import FakeClock, db_rows, make_settings, started

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
