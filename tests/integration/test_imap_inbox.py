"""Replies read from a mailbox over IMAP (issue 15): a real Dovecot on loopback, with
IDLE. A reply to a notification appended to the mailbox becomes the same pending
comment an SMTP delivery makes, and only then is the message flagged done (and moved
when a done mailbox is set); the same message delivered twice is one comment; a
message for no reply address is refused in the inbound log and flagged done too; a
wrong password is logged with what the server said."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from dovecot_server import Mailbox, dovecot, dovecot_server  # noqa: F401 - fixtures
from flows import reply_notification
from support import (
    db_value,
    import_seed,
    make_settings,
    no_dmarc_zone,
    reply_address,
    reply_to_notification,
    until,
)

from mailbridge.app import running


def settings_for(tmp_path: Path, box: Mailbox, **imap: Any) -> Any:
    return make_settings(
        tmp_path,
        imap={
            "host": box.host, "port": box.port, "tls": False, "user": box.user,
            "password": box.password, "poll_seconds": 120.0, **imap,
        },
    )  # fmt: skip


@pytest.mark.asyncio
async def test_a_reply_read_over_imap_becomes_a_comment(tmp_path: Path, dovecot: Mailbox) -> None:  # noqa: F811
    box = dovecot
    box.create("Filed")
    settings = settings_for(tmp_path, box, done_mailbox="Filed")
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)
        reply = reply_to_notification(note, "Read from the mailbox, word for word.",
                                      message_id="<imap-1@client.example>")  # fmt: skip
        raw = reply.as_bytes().replace(b"\n", b"\r\n")
        # The mailbox's server delivers it; IDLE tells mailbridge at once (poll_seconds is
        # 120 here, longer than any wait below: without IDLE this test would time out).
        box.append(raw)
        comment = await until(
            "the comment filed",
            lambda: db_value(daemon, "SELECT id FROM comments WHERE body = ?",
                           "Read from the mailbox, word for word."),
        )  # fmt: skip
        assert (
            await db_value(daemon, "SELECT status FROM comments WHERE id = ?", comment) == "pending"
        )
        row = await db_value(
            daemon, "SELECT peer || ' ' || status || ' ' || rcpt_to FROM inbound_messages "
                    "WHERE comment_id = ?", comment,
        )  # fmt: skip
        assert row == f"imap:127.0.0.1 accepted {reply_address(note)}"
        # Done only now: moved to Filed, flagged, and nothing left in INBOX.
        await until("moved", lambda: _async(box.count("Filed") == 1))
        assert box.count("INBOX") == 0
        assert "$MailbridgeDone" in box.flags("Filed", 1) and "\\Seen" in box.flags("Filed", 1)

        # The same message delivered again (two MX hosts, a resend): one comment.
        box.append(raw)
        await until("the second copy done", lambda: _async(box.count("Filed") == 2))
        assert await db_value(daemon, "SELECT count(*) FROM comments WHERE body = ?",
                            "Read from the mailbox, word for word.") == 1  # fmt: skip

        # For no reply address at all: refused, said in the inbound log, done.
        stray = (b"From: someone@example.net\r\nTo: someone-else@example.org\r\n"
                 b"Subject: hello\r\nMessage-ID: <stray@example.net>\r\n\r\nHi\r\n")  # fmt: skip
        box.append(stray)
        await until("the stray done", lambda: _async(box.count("Filed") == 3))
        sql = "SELECT status || ' ' || reason FROM inbound_messages WHERE rcpt_to = ?"
        assert await db_value(daemon, sql, "someone-else@example.org") == "refused relay_denied"


@pytest.mark.asyncio
async def test_a_refused_login_is_logged_and_retried(
    tmp_path: Path,
    dovecot: Mailbox,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mailbridge.imap")
    settings = settings_for(tmp_path, dovecot, password="wrong", poll_seconds=0.2)
    async with running(settings, resolver=no_dmarc_zone()):
        for _ in range(100):
            if "trying again in" in caplog.text:
                break
            await asyncio.sleep(0.1)
    assert "LOGIN: the server answered NO" in caplog.text
    assert "trying again in" in caplog.text


async def _async(value: Any) -> Any:
    return value
