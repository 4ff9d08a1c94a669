"""A failure inside the pipeline loses nothing: 451 to the sender, raw kept, retry works."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path

import aiosmtplib
import pytest
from click.testing import CliRunner
from flows import reply_notification
from support import (
    LOGGED,
    db_rows,
    import_seed,
    make_settings,
    no_dmarc_zone,
    reply_to_notification,
)

from mailbridge.app import running
from mailbridge.cli import cli
from mailbridge.extract import Extraction


def broken_extractor(raw: bytes, sent: Sequence[str] = ()) -> Extraction:
    raise RuntimeError("parser bug")


@pytest.mark.asyncio
async def test_crash_in_processing_answers_451_and_keeps_the_message(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    async with running(settings, extractor=broken_extractor, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)
        reply = reply_to_notification(note, "Words that must not be lost.")
        host, port = daemon.smtp_address
        with pytest.raises(aiosmtplib.SMTPDataError) as info:
            await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)
        assert info.value.code == 451
        assert "parser bug" not in info.value.message  # nothing internal leaks

        # The bytes are searched here, not in SQL: SQLite's instr() and PostgreSQL's
        # position() differ, and the test is of what was kept, on either engine.
        stored = await db_rows(daemon, f"SELECT m.status, r.raw FROM {LOGGED}")
        assert [(status, b"Words that must not be lost." in bytes(raw))
                for status, raw in stored] == [("received", True)]  # fmt: skip
        # `mailbridge status` shows it among the recent errors.
        shown = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", str(settings.data_path)], env={}
        )
        assert shown.exit_code == 0, shown.output
        assert "Recent errors: 1 inbound message(s) kept but not processed" in shown.output
        assert re.search(r"^Last inbound: \d{4}-\d\d-\d\dT\S+ \(received\)$", shown.output, re.M)
        assert "Last email sent: none yet" not in shown.output  # the notification went out

    # The sending server retries later; by then the bug is fixed (a normal daemon).
    settings = make_settings(tmp_path, smtp={"listen": "127.0.0.1:0"})
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        host, port = daemon.smtp_address
        await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)

        outcome = await db_rows(
            daemon,
            "SELECT i.status, i.deliveries, c.body FROM inbound_messages i "
            "JOIN comments c ON c.id = i.comment_id",
        )
        assert outcome == [("accepted", 2, "Words that must not be lost.")]
