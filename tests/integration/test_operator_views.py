"""What the operator sees: the inbound log, reprocessing, bounce state, revocation,
and raw bodies forgotten after the retention time."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib
import pytest
from click.testing import CliRunner
from flows import post_comment, reply_notification
from support import (
    FakeClock,
    SinkHandler,
    command_env,
    db_rows,
    import_seed,
    make_settings,
    no_dmarc_zone,
    reply_to_notification,
    smtp_send,
    started,
    store_rows,
    until,
)

from mailbridge.app import running
from mailbridge.cli import cli
from mailbridge.housekeeping import Housekeeping

READER = "reader002.4a549d@example.org"


async def run(*args: str, ok: bool = True) -> str:
    """The command as an operator runs it, beside the running daemon (its own process
    would do the same: the CLI opens the database itself)."""
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.asyncio
async def test_inbound_log_lists_shows_and_reprocesses(tmp_path: Path) -> None:
    async with started(tmp_path) as daemon:
        note = await reply_notification(daemon)
        host, port = daemon.smtp_address
        forged = reply_to_notification(
            note, "not me", sender="mallory@example.net", message_id="<forged@x>"
        )
        with pytest.raises(aiosmtplib.SMTPDataError):
            await aiosmtplib.send(forged, hostname=host, port=port, start_tls=False)
        good = reply_to_notification(note, "It is me.", message_id="<good@x>")
        await aiosmtplib.send(good, hostname=host, port=port, start_tls=False)
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await aiosmtplib.send(
                good,
                recipients=["nobody@reply.example.org"],
                hostname=host,
                port=port,
                start_tls=False,
            )
        data_dir = str(daemon.settings.data_path)
        listing = await run("inbound", "--data-dir", data_dir)
        lines = listing.splitlines()
        assert lines[0].split()[:4] == ["id", "received", "(UTC)", "status"]
        assert "refused" in lines[1] and "unknown_recipient" in lines[1]
        assert "accepted" in lines[2] and "<good@x>" in lines[2]
        assert "rejected" in lines[3] and "sender_mismatch" in lines[3]
        only = await run("inbound", "--data-dir", data_dir, "--reason", "sender_mismatch", "--json")
        [entry] = [json.loads(line) for line in only.splitlines()]
        assert entry["mail_from"] == "mallory@example.net" and entry["has_raw"] is True
        detail = await run("inbound", str(entry["id"]), "--data-dir", data_dir)
        assert "outcome     rejected (sender_mismatch)" in detail
        assert "answered    550 5.7.1" in detail
        assert "Message-ID: <forged@x>" in detail  # the headers are kept
        raw = await run("inbound", str(entry["id"]), "--raw", "--data-dir", data_dir)
        assert "not me" in raw
        # Reprocessing gives the same answer for the same message: nothing filed twice.
        again = await run("reprocess", str(entry["id"]), "--data-dir", data_dir)
        assert again.startswith("550 5.7.1")
        [accepted] = [line for line in lines if "<good@x>" in line]
        again = await run("reprocess", accepted.split()[0], "--data-dir", data_dir)
        assert again.startswith("250 2.0.0")
        assert "no inbound message 999" in await run(
            "reprocess", "999", "--data-dir", data_dir, ok=False
        )
        # The address of the reply is also revocable from the command line.
        assert "now refused" in await run("revoke", READER, "--data-dir", data_dir)
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await aiosmtplib.send(
                reply_to_notification(note, "after revoke", message_id="<r>"),
                hostname=host,
                port=port,
                start_tls=False,
            )


@pytest.mark.asyncio
async def test_bounce_state_is_shown_and_can_be_resumed(tmp_path: Path) -> None:
    from mailbridge.store import threads

    async with started(tmp_path) as daemon:
        data_dir = str(daemon.settings.data_path)
        assert (await run("bounces", "--data-dir", data_dir)).strip() == "No address has bounced."

        async def bounce(conn):  # type: ignore[no-untyped-def]
            state = await threads.address_state(conn, email=READER)
            for _ in range(2):
                await threads.count_bounce(conn, state.id, "hard", "2026-11-25T10:00:00+00:00", 2)

        await daemon.store.write(bounce)
        table = await run("bounces", "--data-dir", data_dir)
        assert READER in table and "stopped 2026-11-25 (2 hard bounces)" in table
        assert "mailing resumed" in await run("bounces", "--resume", READER, "--data-dir", data_dir)
        assert (await run("bounces", "--data-dir", data_dir)).strip() == "No address has bounced."


@pytest.mark.asyncio
async def test_sent_emails_bytes_are_forgotten_once_no_reply_can_be_filed(
    tmp_path: Path,
) -> None:
    """A sent email's bytes are kept smtp.reply_token_days (the extractor reads a
    notification to cut it from a reply); its row stays, and so does what is unsent."""
    async with started(tmp_path) as daemon:
        await reply_notification(daemon)
        data_dir = str(daemon.settings.data_path)
        listed = await run("outbox", "--status", "sent", "--json", "--data-dir", data_dir)
        sent = [json.loads(line) for line in listed.splitlines() if line.strip()]
        assert sent, "no email was sent"
        first = str(sent[0]["id"])
        assert "Message-ID:" in await run("outbox", first, "--data-dir", data_dir)
        clock = FakeClock()
        days = daemon.settings.smtp.reply_token_days
        keeper = Housekeeping(daemon.store, clock, raw_retention_days=days + 30, sent_days=days)
        await keeper.run_once()
        assert "Message-ID:" in await run("outbox", first, "--data-dir", data_dir)
        # Half a day past the bytes' period, half a day short of the row's (its reply
        # address works to the end of its last day): a whole day past was on the row's
        # cut-off to the second, and the row went when a second ticked between the
        # send and the fake clock's start (1 run in 8).
        clock.advance(timedelta(days=days + 0.5).total_seconds())
        await keeper.run_once()
        shown = await run("outbox", first, "--data-dir", data_dir)
        assert "its bytes are no longer kept" in shown and "Message-ID:" not in shown
        assert "status       sent" in shown
        detail = json.loads(await run("outbox", first, "--json", "--data-dir", data_dir))
        assert (detail["kept"], detail["headers"]) == (False, [])
        kept = await db_rows(daemon, "SELECT count(*) FROM outbox_messages")
        unsent = await db_rows(daemon, "SELECT count(*) FROM outbox WHERE status != 'sent'")
        assert kept == unsent
        # What each sent notification carried (kept to withdraw it) is forgotten too.
        assert await db_rows(daemon, "SELECT count(*) FROM outbox_items") == [(0,)]


@pytest.mark.asyncio
async def test_raw_bodies_are_forgotten_after_retention(tmp_path: Path) -> None:
    async with started(tmp_path) as daemon:
        note = await reply_notification(daemon)
        host, port = daemon.smtp_address
        await aiosmtplib.send(
            reply_to_notification(note, "Keep my words, not my mail."),
            hostname=host,
            port=port,
            start_tls=False,
        )
        clock = FakeClock()
        keeper = Housekeeping(daemon.store, clock, raw_retention_days=30, sent_days=90)
        assert await keeper.run_once() == 0
        clock.advance(timedelta(days=31).total_seconds())
        assert await keeper.run_once() == 1
        detail = await run("inbound", "1", "--data-dir", str(daemon.settings.data_path))
        assert "(raw bytes expired)" in detail and "Message-ID:" in detail
        assert "outcome     accepted" in detail


def _inbound(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mailbridge inbound` as the operator runs it, in a process of its own."""
    command = ["inbound", "--data-dir", str(data_dir), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "mailbridge", *command],
        env={**env, **command_env(command)}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


@pytest.mark.asyncio
async def test_inbound_by_time_takes_only_times_it_can_compare(tmp_path: Path) -> None:
    # --since was compared as text: "2026-1-5" or "12/07/2026" listed nothing, or
    # everything, with exit 0, and the message looked for seemed never to have come.
    async with started(tmp_path) as daemon:
        data_dir = daemon.settings.data_path
        raw = b"From: a@example.net\r\nSubject: hello\r\nMessage-ID: <when@x>\r\n\r\nHi.\r\n"
        await smtp_send(daemon, "a@example.net", "postmaster@reply.example.org", raw)
    [(received,)] = await store_rows(daemon.settings, "SELECT received_at FROM inbound_messages")
    at = datetime.fromisoformat(received)
    for typed in ("2026-1-5", "12/07/2026", "yesterday"):
        wrong = await asyncio.to_thread(_inbound, data_dir, "--since", typed)
        assert wrong.returncode == 2 and wrong.stdout == "", wrong.stdout
        assert f"Invalid value for '--since': expected a date YYYY-MM-DD or a UTC time " \
               f"YYYY-MM-DDTHH:MM, got '{typed}'" in wrong.stderr  # fmt: skip
    minute = (at - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")  # as typed: UTC
    later = (at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%MZ")
    window = await asyncio.to_thread(_inbound, data_dir, "--since", minute, "--until", later)
    assert window.returncode == 0 and "<when@x>" in window.stdout, window.stderr
    day = at.date().isoformat()
    assert "<when@x>" in (await asyncio.to_thread(_inbound, data_dir, "--since", day)).stdout
    before = await asyncio.to_thread(_inbound, data_dir, "--until", minute)
    assert before.stdout.strip() == "No inbound messages match."
    after = (at + timedelta(days=1)).date().isoformat()
    none = await asyncio.to_thread(_inbound, data_dir, "--since", after)
    assert none.stdout.strip() == "No inbound messages match."


@pytest.mark.asyncio
async def test_inbound_shows_what_the_comment_became_and_why(tmp_path: Path) -> None:
    # A reply filed into the spam folder, or held for a phone number, was "accepted"
    # and nothing more in `mailbridge inbound`: no moderator had been asked, and the
    # operator looking for it by its Message-ID could not tell, nor why.
    async with started(tmp_path) as daemon:
        note = await reply_notification(daemon)
        host, port = daemon.smtp_address
        spammy = "Check out my channel!!! http://spam.example/watch subscribe please"
        private = "Thank you. Call me on 020 7946 0958 if you want to talk about it."
        for body, mid in ((spammy, "<spam@x>"), (private, "<phone@x>")):
            reply = reply_to_notification(note, body, message_id=mid)
            await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)
        data_dir = daemon.settings.data_path
    listing = await asyncio.to_thread(_inbound, data_dir, "--search", "@x>")
    assert listing.returncode == 0, listing.stderr
    [spam_line] = [x for x in listing.stdout.splitlines() if "<spam@x>" in x]
    [phone_line] = [x for x in listing.stdout.splitlines() if "<phone@x>" in x]
    assert " spam " in spam_line and " pending " in phone_line
    spam_id, phone_id = spam_line.split()[0], phone_line.split()[0]
    shown = await asyncio.to_thread(_inbound, data_dir, spam_id)
    assert re.search(r"^  comment     \d+ spam$", shown.stdout, re.M), shown.stdout
    assert re.search(r"^  held        spam score", shown.stdout, re.M), shown.stdout
    shown = await asyncio.to_thread(_inbound, data_dir, phone_id)
    assert re.search(r"^  comment     \d+ pending$", shown.stdout, re.M), shown.stdout
    assert re.search(r"^  held        .*phone", shown.stdout, re.M), shown.stdout
    as_json = await asyncio.to_thread(_inbound, data_dir, spam_id, "--json")
    assert json.loads(as_json.stdout)["comment_status"] == "spam"


def test_inbound_refuses_an_outcome_that_is_none(tmp_path: Path) -> None:
    # --status was compared as typed: "acepted" listed nothing, exit 0, as if no such
    # message had come; now the outcomes are the dispositions of docs/rejections.md.
    wrong = _inbound(tmp_path / "var", "--status", "acepted")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert "Invalid value for '--status': 'acepted' is not one of 'received', 'accepted'" in (
        wrong.stderr
    )


@pytest.mark.asyncio
async def test_inbound_raw_is_the_message_byte_for_byte(tmp_path: Path) -> None:
    # --raw decoded the bytes as UTF-8 with replacement: a reply in Latin-1 saved with
    # it for `mailbridge extract` or a report had each accented letter as U+FFFD.
    raw = (
        b"From: a@example.net\r\nSubject: caf\xe9\r\nMessage-ID: <latin@x>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nUn caf\xe9 cr\xe8me, merci.\r\n"
    )
    async with started(tmp_path) as daemon:
        data_dir = daemon.settings.data_path
        await smtp_send(daemon, "a@example.net", "postmaster@reply.example.org", raw)
    [(inbound_id,)] = await store_rows(daemon.settings, "SELECT id FROM inbound_messages")
    args = [str(inbound_id), "--raw"]
    command = ["inbound", "--data-dir", str(data_dir), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "mailbridge", *command],
        env={**env, **command_env(command)}, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == raw
    no_id = await asyncio.to_thread(_inbound, data_dir, "--raw")
    assert no_id.returncode == 2 and "--raw needs an ID" in no_id.stderr


@pytest.mark.asyncio
async def test_status_shows_mail_that_gave_up_today(
    tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    # "Recent errors" counted the dead letters *queued* in the last 24 hours: an email
    # that gave up today after outbound.give_up_hours (120) of a relay refusing was
    # queued five days ago, and `mailbridge status` said "Recent errors: none".
    sink, port = smtp_sink
    sink.refuse_next = ["451 4.3.0 try later"] * 50
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=121))
    settings = make_settings(tmp_path, outbound={"transport": f"smtp://127.0.0.1:{port}"})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        await post_comment(daemon, body="A comment whose moderation email never leaves.")
        await until(
            "a refused attempt", lambda: db_rows(daemon, "SELECT 1 FROM outbox WHERE attempts = 1")
        )
        clock.advance(121 * 3600)  # five days of refusals later: now
        daemon.worker.wake()
        await until(
            "the give-up",
            lambda: db_rows(daemon, "SELECT 1 FROM outbox WHERE status = 'failed'"),
        )
    command = ["status", "--data-dir", str(settings.data_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "mailbridge", *command],
        env={**env, **command_env(command)}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Recent errors: 1 email(s) failed for good in 24 hours, the last: gave up after" in (
        done.stdout
    ), done.stdout


@pytest.mark.asyncio
async def test_status_counts_a_retried_dead_letter_as_waiting_since_its_retry(
    tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    # "oldest waiting since" read created_at: a dead letter from two days ago queued
    # again by `mailbridge outbox --retry` a minute ago was "waiting since" two days,
    # while mailbridge_outbox_oldest_age_seconds (docs/metrics.md: "as `mailbridge
    # status` says") counted a minute.
    sink, port = smtp_sink
    sink.refuse_next = ["550 5.7.1 relaying denied"]
    clock = FakeClock(datetime.now(UTC) - timedelta(days=2))
    settings = make_settings(tmp_path, outbound={"transport": f"smtp://127.0.0.1:{port}"})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        await post_comment(daemon, body="A comment whose moderation email is refused.")
        [(row_id, created)] = await until(
            "the dead letter",
            lambda: db_rows(daemon, "SELECT id, created_at FROM outbox WHERE status = 'failed'"),
        )
    data_dir = str(settings.data_path)
    runner = CliRunner()
    retried = await asyncio.to_thread(
        runner.invoke, cli, ["outbox", "--retry", str(row_id), "--data-dir", data_dir], env={}
    )
    assert retried.exit_code == 0, retried.output
    shown = await asyncio.to_thread(runner.invoke, cli, ["status", "--data-dir", data_dir], env={})
    found = re.search(r"^Outbox: 1 queued, .*; oldest waiting since (\S+)$", shown.output, re.M)
    assert found, shown.output
    since = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
    assert created.startswith(clock.now().date().isoformat())  # two days ago
    assert datetime.now(UTC) - since < timedelta(hours=1)
