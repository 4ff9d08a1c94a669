"""How long the emails to moderators keep their bytes. They list pending comments with
their writers' names and addresses (the spam report, the folder's catch), and were kept
as long as a reader's notification, smtp.reply_token_days (90), although nothing reads
them once a moderator's reply to them is refused: after moderation.link_days (14). They
now go then; a notification to a reader keeps its bytes for the extractor."""

from __future__ import annotations

from pathlib import Path

import pytest
from flows import delivered, reply_notification
from support import FakeClock, db_rows, import_seed, make_settings, no_dmarc_zone

from mailbridge.app import running

DAY = 86400.0

KEPT = (
    "SELECT o.kind FROM outbox o JOIN outbox_messages m ON m.outbox_id = o.id "
    "WHERE o.status = 'sent' ORDER BY o.kind"
)


@pytest.mark.asyncio
async def test_emails_to_moderators_keep_their_bytes_as_long_as_their_links(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    settings = make_settings(tmp_path, moderation={"link_days": 14})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        await reply_notification(daemon)  # a moderation email, then a notification
        await delivered(daemon)  # in the Maildir before its row says sent
        assert await db_rows(daemon, KEPT) == [("moderation_request",), ("reply_notification",)]
        keeper = next(job for job in daemon.periodic if job.name == "housekeeping")
        clock.advance(15 * DAY)  # the moderation reply address still counts today
        await keeper.run_once()
        assert await db_rows(daemon, KEPT) == [("moderation_request",), ("reply_notification",)]
        clock.advance(1 * DAY)
        await keeper.run_once()
        assert await db_rows(daemon, KEPT) == [("reply_notification",)]
        # The rows stay (kind, recipient, dates); what it carried goes with the bytes.
        assert await db_rows(daemon, "SELECT count(*) FROM outbox WHERE status = 'sent'") == [(2,)]
        assert await db_rows(
            daemon,
            "SELECT count(*) FROM outbox_items i JOIN outbox o ON o.id = i.outbox_id "
            "WHERE o.kind = 'moderation_request'",
        ) == [(0,)]
        clock.advance(75 * DAY)
        await keeper.run_once()
        assert await db_rows(daemon, KEPT) == []
