"""Replies read from a mailbox over IMAP (issue 15): a real Dovecot on loopback, with
IDLE. A reply to a notification appended to the mailbox becomes the same pending
comment an SMTP delivery makes, and only then is the message flagged done (and moved
when a done mailbox is set); the same message delivered twice is one comment; a
message for no reply address is refused in the inbound log and flagged done too; a
wrong password is logged with what the server said."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import aioimaplib
import pytest
from dovecot_server import Mailbox, Relay
from flows import reply_notification
from support import (
    db_rows,
    db_value,
    free_port,
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
async def test_a_reply_read_over_imap_becomes_a_comment(tmp_path: Path, dovecot: Mailbox) -> None:
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
        failures, last_round = await imap_metrics(daemon)
        assert failures == 0 and last_round > 0
        # Done only now: moved to Filed, flagged, and nothing left in INBOX.
        await until("moved", lambda: _async(box.count("Filed") == 1))
        assert box.count("INBOX") == 0
        assert "$MailbridgeDone" in box.flags("Filed", 1) and "\\Seen" in box.flags("Filed", 1)

        # The same message delivered again (two MX hosts, a resend): one comment.
        box.append(raw)
        await until("the second copy done", lambda: _async(box.count("Filed") == 2))
        assert await db_value(daemon, "SELECT count(*) FROM comments WHERE body = ?",
                            "Read from the mailbox, word for word.") == 1  # fmt: skip

        # Behind a catch-all, as Postfix writes it: Delivered-To the mailbox (reply@, at
        # the reply domain, no token), X-Original-To the reply address. Before, the
        # mailbox's address was taken: refused as no such mailbox, and done.
        caught = reply_to_notification(note, "Through a catch-all.",
                                       message_id="<imap-2@client.example>")  # fmt: skip
        box.append(b"Delivered-To: reply@reply.example.org\r\nX-Original-To: "
                   + reply_address(note).encode() + b"\r\n"
                   + caught.as_bytes().replace(b"\n", b"\r\n"))  # fmt: skip
        await until("the catch-all one done", lambda: _async(box.count("Filed") == 3))
        assert await db_value(daemon, "SELECT status FROM comments WHERE body = ?",
                              "Through a catch-all.") == "pending"  # fmt: skip

        # For no reply address at all: refused, said in the inbound log, done.
        stray = (b"From: someone@example.net\r\nTo: someone-else@example.org\r\n"
                 b"Subject: hello\r\nMessage-ID: <stray@example.net>\r\n\r\nHi\r\n")  # fmt: skip
        box.append(stray)
        await until("the stray done", lambda: _async(box.count("Filed") == 4))
        sql = "SELECT status || ' ' || reason FROM inbound_messages WHERE rcpt_to = ?"
        assert await db_value(daemon, sql, "someone-else@example.org") == "refused relay_denied"


@pytest.mark.asyncio
async def test_a_refused_login_is_logged_and_retried(
    tmp_path: Path,
    dovecot: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mailbridge.imap")
    settings = settings_for(tmp_path, dovecot, password="wrong", poll_seconds=0.2)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        for _ in range(100):
            if "trying again in" in caplog.text:
                break
            await asyncio.sleep(0.1)
        # /metrics says so too, for an alert (docs/imap.md).
        failures, last_round = await imap_metrics(daemon)
        assert failures >= 1 and last_round == 0
    assert "LOGIN: the server answered NO" in caplog.text
    # At once (a restarted server), then poll_seconds, doubling (once: 2 poll_seconds first).
    assert "trying again in 0.2 s" in caplog.text


async def imap_metrics(daemon: Any) -> tuple[float, float]:
    """mailbridge_imap_failures and mailbridge_imap_last_round_timestamp_seconds."""
    host, port = daemon.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{host}:{port}/metrics") as resp,
    ):
        text = await resp.text()
    found = dict(re.findall(r"^(mailbridge_imap_\w+) (\S+)$", text, re.M))
    return (float(found["mailbridge_imap_failures"]),
            float(found["mailbridge_imap_last_round_timestamp_seconds"]))  # fmt: skip


@pytest.mark.asyncio
async def test_a_connection_cut_while_idling_is_noticed_at_once(
    tmp_path: Path,
    dovecot: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The connection cut under IDLE: before, aioimaplib waited on it for poll_seconds
    and then timeout_seconds (here 120 + 30 s) and the log said only "TimeoutError";
    now the session ends at once, says so, and reconnects a second later."""
    caplog.set_level(logging.WARNING, logger="mailbridge.imap")
    box = dovecot
    box.create("Filed")
    async with Relay(box) as relay:
        settings = settings_for(tmp_path, box, port=relay.port, done_mailbox="Filed")
        async with running(settings, resolver=no_dmarc_zone()):
            box.append(_stray(1))
            await until("the first done", lambda: _async(box.count("Filed") == 1), seconds=30)
            relay.cut()
            box.append(_stray(2))
            await until("the second done", lambda: _async(box.count("Filed") == 2), seconds=30)
    assert "the server closed the connection; trying again in 1.0 s" in caplog.text


@pytest.mark.asyncio
async def test_a_session_whose_idle_the_server_answers_with_no_is_left(
    tmp_path: Path,
    dovecot: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Dovecot, the selected mailbox deleted and made again at the wrong moment (the
    UIDVALIDITY test below, now and then under load), answers each IDLE at once with
    "* NO Internal error occurred", never closes, and shows the old mailbox until a new
    login. The relay says it so on the first connection. Before, each NO was taken as
    news of mail: a round and IDLE again at once, about 600 a second on that connection
    without end, never reconnecting (the UIDVALIDITY test timed out). Now the session
    ends, says what the server said, and the next one, a second later, reads the mail."""
    caplog.set_level(logging.WARNING, logger="mailbridge")
    box = dovecot
    box.create("Filed")
    said = b"* NO Internal error occurred. Refer to server log for more information.\r\n"
    async with Relay(box, idle_says=said) as relay:
        settings = settings_for(tmp_path, box, port=relay.port, done_mailbox="Filed")
        async with running(settings, resolver=no_dmarc_zone()):
            await until("a new session", lambda: _async(len(relay.idles) >= 2), seconds=10)
            box.append(_stray(1))
            await until("the message done", lambda: _async(box.count("Filed") == 1), seconds=30)
    assert relay.idles[0] == 1  # its one IDLE, answered NO: not hundreds
    assert (
        "IDLE: the server answered NO Internal error occurred. Refer to server log for more "
        "information.; trying again in 1.0 s"
    ) in caplog.text
    assert "did not stop" not in caplog.text


@pytest.mark.asyncio
async def test_a_stop_the_client_library_loses_still_ends_the_session(
    tmp_path: Path,
    dovecot: Mailbox,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under Python 3.11 asyncio.wait_for, which aioimaplib waits with, returns what it
    waited for instead of raising when the cancellation comes as that completes (CPython
    gh-86296). With the IDLE loop above, a daemon stopped that way went on: 25,170
    IDLEs in the 30 s it waited, then "task mailbridge-imap did not stop". Here the wait
    in IDLE loses the stop every time, as it does when the server speaks at that moment;
    before, the session went on to a round and IDLE again (poll_seconds: 120)."""
    caplog.set_level(logging.WARNING, logger="mailbridge")
    monkeypatch.setattr("mailbridge.app._DRAIN_SECONDS", 3.0)
    real = aioimaplib.IMAP4.wait_server_push

    async def losing(self: aioimaplib.IMAP4, timeout: float = 1800.0) -> Any:
        try:
            return await real(self, timeout=timeout)
        except asyncio.CancelledError:
            return []  # what wait_for returns when the push came with the stop

    monkeypatch.setattr(aioimaplib.IMAP4, "wait_server_push", losing)
    settings = settings_for(tmp_path, dovecot)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        await until("a round", lambda: _last_round(daemon))
        await asyncio.sleep(0.3)  # idling now
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 2.5
    assert "did not stop" not in caplog.text


async def _last_round(daemon: Any) -> bool:
    _failures, last_round = await imap_metrics(daemon)
    return last_round > 0


def _stray(n: int) -> bytes:
    """A message for no reply address: refused for good at once (no extraction)."""
    return (f"From: someone@example.net\r\nTo: other-{n}@example.org\r\nSubject: hi\r\n"
            f"Message-ID: <stray-{n}@example.net>\r\n\r\nHi\r\n").encode()  # fmt: skip


@pytest.mark.asyncio
async def test_a_full_mailbox_is_read_in_batches_without_waiting(
    tmp_path: Path,
    dovecot: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More messages than one batch: the next batch follows at once, not after
    poll_seconds (120 here; once a batch took a whole IDLE wait)."""
    monkeypatch.setattr("mailbridge.imap.inbox._ROUND", 2)
    box = dovecot
    box.create("Filed")
    for n in range(5):
        box.append(_stray(n))
    settings = settings_for(tmp_path, box, done_mailbox="Filed")
    async with running(settings, resolver=no_dmarc_zone()):
        await until("all five done", lambda: _async(box.count("Filed") == 5), seconds=30)
        assert box.count("INBOX") == 0


@pytest.mark.asyncio
async def test_a_message_too_large_is_refused_without_being_read(
    tmp_path: Path,
    dovecot: Mailbox,
) -> None:
    """Over SMTP it would get 552; read from the mailbox it was read whole and filed.
    Now only its size and a few headers are read; it is refused in the inbound log and
    marked done, and stays in the mailbox."""
    box = dovecot
    box.create("Filed")
    settings = make_settings(
        tmp_path,
        smtp={"max_message_size": 20_000},
        imap={"host": box.host, "port": box.port, "tls": False, "user": box.user,
              "password": box.password, "poll_seconds": 120.0, "done_mailbox": "Filed"},
    )  # fmt: skip
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)
        big = reply_to_notification(note, "Big. " + "word " * 5000,
                                    message_id="<imap-big@client.example>")  # fmt: skip
        box.append(big.as_bytes().replace(b"\n", b"\r\n"))
        await until("the big one done", lambda: _async(box.count("Filed") == 1), seconds=30)
        sql = "SELECT status, reason, stage, rcpt_to FROM inbound_messages WHERE peer LIKE 'imap:%'"
        assert await db_rows(daemon, sql) == [("refused", "too_large", "rcpt", reply_address(note))]
        assert await db_value(daemon, "SELECT count(*) FROM comments WHERE body LIKE 'Big.%'") == 0


async def _async(value: Any) -> Any:
    return value


@pytest.mark.sqlite_only("holds SQLite's write lock from a second connection to the file")
@pytest.mark.asyncio
async def test_a_store_that_cannot_write_leaves_the_message_for_the_next_round(
    tmp_path: Path,
    dovecot: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database locked: a message for no reply address cannot have its refusal
    logged, so it is left as it is (before: the refusal's write escaped, the session
    ended with a traceback and reconnected); unlocked, the next round marks it done."""
    caplog.set_level(logging.INFO, logger="mailbridge")
    box = dovecot
    box.create("Filed")
    settings = make_settings(
        tmp_path,
        database_busy_timeout_seconds=0.3,
        imap={"host": box.host, "port": box.port, "tls": False, "user": box.user,
              "password": box.password, "poll_seconds": 1.0, "done_mailbox": "Filed"},
    )  # fmt: skip
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        box.append(_stray(0))  # the inbox at work (it took its lead) before the lock
        await until("the first done", lambda: _async(box.count("Filed") == 1), seconds=30)
        other = sqlite3.connect(
            daemon.settings.database_path, isolation_level=None, check_same_thread=False
        )
        try:
            await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
            box.append(_stray(1))
            await until("left for later", lambda: _async("left for the next round" in caplog.text),
                        seconds=30)  # fmt: skip
            assert box.count("Filed") == 1 and box.count("INBOX") == 1
        finally:
            other.execute("ROLLBACK")
            other.close()
        await until("done once unlocked", lambda: _async(box.count("Filed") == 2), seconds=30)
    assert "the inbox failed" not in caplog.text


@pytest.mark.asyncio
async def test_a_done_mailbox_that_does_not_exist_is_said_and_replies_go_on(
    tmp_path: Path,
    dovecot: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before, the MOVE failed after each message, ending the session each time: one
    message per backoff (here 1 s, then poll_seconds: 120 s). Now it is said once, and
    every message is done, flagged, where it is."""
    caplog.set_level(logging.WARNING, logger="mailbridge.imap")
    box = dovecot
    for n in range(3):
        box.append(_stray(n))
    settings = settings_for(tmp_path, box, done_mailbox="Missing")
    async with running(settings, resolver=no_dmarc_zone()):
        for n in (1, 2, 3):
            await until(f"message {n} done",
                        lambda n=n: _async("$MailbridgeDone" in box.flags("INBOX", n)),
                        seconds=30)  # fmt: skip
    assert "imap.done_mailbox 'Missing': the server answered NO" in caplog.text
    assert "trying again" not in caplog.text


@pytest.mark.asyncio
async def test_a_message_flagged_done_but_not_moved_is_moved(
    tmp_path: Path,
    dovecot: Mailbox,
) -> None:
    """mailbridge stopped between flagging a message done and moving it: before, it
    stayed in INBOX for good (flagged done, never read again); now the next session
    moves it, without reading it."""
    box = dovecot
    box.create("Filed")
    box.append(_stray(1), flags="($MailbridgeDone \\Seen)")
    settings = settings_for(tmp_path, box, done_mailbox="Filed")
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        await until("moved", lambda: _async(box.count("Filed") == 1), seconds=30)
        assert box.count("INBOX") == 0
        assert await db_rows(daemon, "SELECT id FROM inbound_messages") == []


@pytest.mark.asyncio
async def test_a_mailbox_made_again_new_uidvalidity_files_nothing_twice(
    tmp_path: Path,
    dovecot: Mailbox,
) -> None:
    """The mailbox deleted and made again under mailbridge (a new UIDVALIDITY, every
    flag gone) with the same reply in it: Dovecot closes the connection, mailbridge
    reconnects at once, reads the reply again, and the dedupe keeps it one comment.
    Nothing is kept by UID between sessions: the server's flag and the inbound log are
    the state."""
    box = dovecot
    box.create("Replies")
    settings = settings_for(tmp_path, box, mailbox="Replies")
    await import_seed(settings)
    try:
        async with running(settings, resolver=no_dmarc_zone()) as daemon:
            note = await reply_notification(daemon)
            raw = reply_to_notification(note, "Across UIDVALIDITY.", message_id="<uv@client>")
            box.append(raw.as_bytes().replace(b"\n", b"\r\n"), "Replies")
            await until("done", lambda: _async(box.undone("Replies") == 0), seconds=30)
            box.delete("Replies")
            box.create("Replies")
            box.append(raw.as_bytes().replace(b"\n", b"\r\n"), "Replies")
            await until("done again", lambda: _async(box.undone("Replies") == 0), seconds=30)
            sql = "SELECT status, deliveries FROM inbound_messages"
            assert await db_rows(daemon, sql) == [("accepted", 2)]
            assert await db_value(daemon, "SELECT count(*) FROM comments WHERE body = ?",
                                  "Across UIDVALIDITY.") == 1  # fmt: skip
    finally:
        box.delete("Replies")


@pytest.mark.asyncio
async def test_a_server_that_is_down_is_said_so_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listening was logged as "[Errno 111] Connect call failed ('127.0.0.1',
    # 993)": the errno, where a refused login says what the server answered.
    caplog.set_level(logging.WARNING, logger="mailbridge.imap")
    port = free_port()
    box = Mailbox("127.0.0.1", port, "mailbridge", "unused-password")
    async with running(settings_for(tmp_path, box, poll_seconds=0.2),
                       resolver=no_dmarc_zone()) as daemon:  # fmt: skip
        for _ in range(100):
            if "trying again in" in caplog.text:
                break
            await asyncio.sleep(0.1)
        failures, last_round = await imap_metrics(daemon)
    assert failures >= 1 and last_round == 0
    assert (
        f"imap 127.0.0.1:{port}: [Errno 111] Connect call failed ('127.0.0.1', {port}) "
        "(connection refused: nothing listens there; the server is down, or imap.host or "
        "imap.port is wrong); trying again in"
    ) in caplog.text
