"""The alert rules docs/metrics.md prints, as an operator copies them: valid for
Prometheus's own ``promtool``, over metric names the daemon really exports, and each
firing for its failure, evaluated by ``promtool test rules`` over scrapes of a daemon
whose failure is real (a relay answering 451 or 550, templates that fail, a reply
answered 451, a full disk, a login Dovecot refuses, idle connections near the open
files limit, the daemon stopped), one scrape per minute of a clock the test moves; and
no longer firing once the failure ends. /healthz stays 200 meanwhile where the web
service works: a load balancer keeps the comment widget."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import resource
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from alert_rules import JOB, NAME, Minutes, firing, promtool_program, rules, rules_file
from click.testing import CliRunner
from dovecot_server import Mailbox
from flows import approve, moderation_email, post_comment, reply_notification
from scraping import samples, scrape
from support import (
    FakeClock,
    SinkHandler,
    db_rows,
    free_port,
    import_seed,
    make_settings,
    no_dmarc_zone,
    reply_to_notification,
    until,
)

from mailbridge.app import running
from mailbridge.cli import cli
from mailbridge.extract import Extraction


@pytest.fixture
def promtool() -> str:
    return promtool_program()


def test_the_documented_rules_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(rules_file())
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


@pytest.mark.asyncio
async def test_the_rules_read_only_metrics_the_daemon_exports(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        status, _type, text = await scrape(daemon)
    assert status == 200
    exported = set(samples(text))
    read = {name for expr in rules().values() for name in NAME.findall(expr)}
    assert read and read <= exported, sorted(read - exported)


# The WordPress rules, against a real WordPress failing: test_wordpress_alert_rules.py.
EVALUATED_IN = [Path(__file__), Path(__file__).with_name("test_wordpress_alert_rules.py")]


def test_every_rule_is_evaluated_for_its_failure() -> None:
    evaluated = {
        name for path in EVALUATED_IN
        for name in re.findall(r'firing\([^"]*"(\w+)"', path.read_text())
    }  # fmt: skip
    assert set(rules()) == evaluated, sorted(set(rules()) ^ evaluated)


async def outbox_empty(daemon: Any) -> bool:
    waiting = "SELECT 1 FROM outbox WHERE status IN ('queued', 'sending')"
    return not await db_rows(daemon, waiting)


async def healthz(daemon: Any) -> int:
    host, port = daemon.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{host}:{port}/healthz") as resp,
    ):
        return resp.status


async def status_output(data_dir: Path) -> str:
    shown = await asyncio.to_thread(
        CliRunner().invoke, cli, ["status", "--data-dir", str(data_dir)], env={}
    )
    assert shown.exit_code == 0, shown.output
    return str(shown.output)


@pytest.mark.asyncio
async def test_mail_not_leaving_fires_while_the_relay_answers_451_and_healthz_stays_ok(
    promtool: str, tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    sink.refuse_next = ["451 4.3.0 try later"] * 1000
    clock = FakeClock()
    settings = make_settings(tmp_path, outbound={"transport": f"smtp://127.0.0.1:{port}"})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        minutes = Minutes(daemon, clock)
        await minutes.scrape()  # before: nothing waits
        await post_comment(daemon, body="A comment whose moderation email waits.")
        await until("a refused attempt", lambda: db_rows(
            daemon, "SELECT 1 FROM outbox WHERE attempts >= 1 AND status = 'queued'"))  # fmt: skip
        await minutes.scrape(17)
        # A load balancer keeps the comment widget: comments are still taken.
        assert await healthz(daemon) == 200
        # The relay takes mail again; a new comment wakes the worker, which sends both.
        sink.refuse_next = []
        await post_comment(daemon, body="A second comment, once the relay is back.")
        await until("the outbox empty", lambda: outbox_empty(daemon))
        await minutes.scrape(2)
    # Waiting since minute 1: 900 s at minute 16, past it at 17; 0 again at 18.
    firing(promtool, tmp_path, minutes, "MailbridgeMailNotLeaving",
           at=[17], not_at=[*range(16), 18, 19])  # fmt: skip


@pytest.mark.asyncio
async def test_mail_not_leaving_fires_while_the_relay_is_down_and_status_says_why(
    promtool: str, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there yet: connection refused
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=1))  # for `mailbridge status`
    settings = make_settings(tmp_path, outbound={"transport": f"smtp://127.0.0.1:{port}"})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        minutes = Minutes(daemon, clock)
        await post_comment(daemon, body="A comment whose moderation email waits.")
        await until("a refused attempt", lambda: db_rows(
            daemon, "SELECT 1 FROM outbox WHERE attempts >= 1 AND status = 'queued'"))  # fmt: skip
        await minutes.scrape(17)
        shown = await status_output(settings.data_path)
        # What failed, and what to change (the log says it at each attempt too).
        last = re.search(r"^Recent errors: 1 email\(s\) being retried, the last error: (.+)$",
                         shown, re.M)  # fmt: skip
        assert last and last.group(1).startswith(f"smtp://127.0.0.1:{port}: connect failed")
        assert last.group(1).endswith("(connection refused: nothing listens there; the relay "
                                      "is down, or outbound.transport names the wrong host or "
                                      "port)"), shown  # fmt: skip
        assert await healthz(daemon) == 200
        relay = Controller(SinkHandler(), hostname="127.0.0.1", port=port)
        relay.start()  # the relay back
        try:
            await post_comment(daemon, body="A second comment, once the relay is back.")
            await until("the outbox empty", lambda: outbox_empty(daemon))
            await minutes.scrape(2)
        finally:
            relay.stop()
    assert "Recent errors: none" in await status_output(settings.data_path)
    # Waiting since minute 0: past 900 s at minute 16; 0 again at 17.
    firing(promtool, tmp_path, minutes, "MailbridgeMailNotLeaving",
           at=[16], not_at=[*range(15), 17, 18])  # fmt: skip


@pytest.mark.asyncio
async def test_dead_letters_fires_for_an_hour_after_the_relay_refuses_for_good(
    promtool: str, tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    sink.refuse_next = ["550 5.7.1 relaying denied"]
    clock = FakeClock()
    settings = make_settings(tmp_path, outbound={"transport": f"smtp://127.0.0.1:{port}"})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        minutes = Minutes(daemon, clock)
        await minutes.scrape()
        await post_comment(daemon, body="A comment whose moderation email is refused.")
        await until("a dead letter", lambda: db_rows(
            daemon, "SELECT 1 FROM outbox WHERE status = 'failed'"))  # fmt: skip
        await minutes.scrape(64)
    # Failed before minute 1: in the hour's window until minute 60, out of it from 61.
    firing(promtool, tmp_path, minutes, "MailbridgeDeadLetters", at=[1, 30, 59],
           not_at=[0, 62, 63, 64], labels={"job": "mailbridge", "result": "failed"})  # fmt: skip


@pytest.mark.asyncio
async def test_moderation_mail_stuck_fires_shows_in_status_and_clears(
    promtool: str, tmp_path: Path
) -> None:
    # An operator's moderation email template that fails: every new comment's
    # moderation email failed to build, the moderator was never told, and nothing
    # but a traceback in the log said so (no metric, no line of `mailbridge status`).
    override = tmp_path / "templates" / "email"
    override.mkdir(parents=True)
    broken = override / "moderation_request.txt.j2"
    broken.write_text("{{ comment.body | no_such_filter }}\n")
    # An hour ago: `mailbridge status`, on the real clock, sees the row an hour old.
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=1))
    templates = {"directory": str(tmp_path / "templates")}
    settings = make_settings(tmp_path / "site", templates=templates)
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        minutes = Minutes(daemon, clock)
        await post_comment(daemon, body="A comment its moderator must hear of.")
        await until("its row queued", lambda: db_rows(
            daemon, "SELECT 1 FROM moderation_mail_queue"))  # fmt: skip
        await minutes.scrape(17)
        assert minutes.scrapes[-1]["mailbridge_moderation_mail_waiting"][JOB] == 1
        shown = await status_output(settings.data_path)
        assert "1 new comment(s) whose moderation emails could not be built" in shown, shown
        assert await healthz(daemon) == 200
        broken.unlink()  # fixed: the packaged template again
        await post_comment(daemon, body="A second comment, once the template is fixed.")
        await until("both built", lambda: db_rows(
            daemon, "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM moderation_mail_queue)"))  # fmt: skip
        await minutes.scrape(2)
        assert minutes.scrapes[-1]["mailbridge_moderation_mail_waiting"][JOB] == 0
        assert "could not be built" not in await status_output(settings.data_path)
    # Waiting since minute 0: 900 s at minute 15, past it at 16; 0 again at 17.
    firing(promtool, tmp_path, minutes, "MailbridgeModerationMailStuck",
           at=[16], not_at=[*range(15), 17, 18])  # fmt: skip


def broken_extractor(raw: bytes, sent: Sequence[str] = ()) -> Extraction:
    raise RuntimeError("parser bug")


@pytest.mark.asyncio
async def test_replies_not_processed_fires_for_one_reply_answered_451_again_and_again(
    promtool: str, tmp_path: Path
) -> None:
    # The page's rule was increase(mailbridge_messages_received_total{disposition=
    # "received"}[15m]) > 0: the sender's retries are the same row, the count stood
    # still at 1, and the alert never fired for a reply kept unprocessed for hours.
    clock = FakeClock()
    settings = make_settings(tmp_path)
    await import_seed(settings)
    async with running(settings, extractor=broken_extractor, clock=clock,
                       resolver=no_dmarc_zone()) as daemon:  # fmt: skip
        minutes = Minutes(daemon, clock)
        note = await reply_notification(daemon)
        await minutes.scrape()
        reply = reply_to_notification(note, "Words that must not be lost.")
        host, port = daemon.smtp_address
        for _ in range(4):  # the sending server's retries, a few minutes apart
            with pytest.raises(aiosmtplib.SMTPDataError) as info:
                await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)
            assert info.value.code == 451
            await minutes.scrape(5)
    # The bug fixed (a normal daemon on the same data): the next retry is filed.
    settings = make_settings(tmp_path, smtp={"listen": "127.0.0.1:0"})
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        host, port = daemon.smtp_address
        await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)
        minutes.daemon = daemon
        await minutes.scrape(2)
    assert minutes.scrapes[-3]["mailbridge_inbound_unprocessed_messages"][JOB] == 1
    assert minutes.scrapes[-1]["mailbridge_inbound_unprocessed_messages"][JOB] == 0
    # Kept since minute 1: 900 s at minute 16, past it from 17 on; 0 again at 21.
    firing(promtool, tmp_path, minutes, "MailbridgeRepliesNotProcessed",
           at=[17, 18, 19, 20], not_at=[*range(16), 21, 22])  # fmt: skip


@pytest.mark.asyncio
async def test_imap_alerts_fire_while_the_login_is_refused_and_clear_once_it_reads(
    promtool: str, tmp_path: Path, dovecot: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    wrong = "Wr0ng-IMAP-pa55word"
    imap = {"host": dovecot.host, "port": dovecot.port, "tls": False, "user": dovecot.user,
            "poll_seconds": 0.2}  # fmt: skip
    clock = FakeClock()
    settings = make_settings(tmp_path, imap={**imap, "password": wrong})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        minutes = Minutes(daemon, clock)
        await until("a refused login", lambda: asyncio.sleep(0, "trying again in" in caplog.text))
        await minutes.scrape(17)
        assert await healthz(daemon) == 200  # the web works without the mailbox
        shown = [await healthz_text(daemon), (await scrape(daemon))[2]]
    # `mailbridge status`, the operator's first look, says so from the database: with
    # the daemon stopped too (it said "Recent errors: none" while no reply was read).
    status = await status_output(settings.data_path)
    said = re.search(r"^(?:Recent errors:|) +(\d+) IMAP session\(s\) failed in a row since "
                     r"\S+, the last at \S+: (.+)$", status, re.M)  # fmt: skip
    assert said and int(said.group(1)) >= 1, status
    assert said.group(2).startswith(f"{dovecot.host}:{dovecot.port}: LOGIN: the server answered NO")
    assert said.group(2).endswith("replies in the mailbox are not read (a login refused: check "
                                  "imap.user and imap.password; docs/imap.md)")  # fmt: skip
    # The password is nowhere an operator's tools show: log, /metrics, /healthz, status.
    assert "LOGIN: the server answered NO" in caplog.text
    assert all(wrong not in text for text in [caplog.text, *shown, status])
    # The password put right (a restart): the mailbox is read.
    settings = make_settings(tmp_path, imap={**imap, "password": dovecot.password},
                             smtp={"listen": "127.0.0.1:0"})  # fmt: skip
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        minutes.daemon = daemon
        read = (("mailbridge_imap_last_round_timestamp_seconds", ()),)
        await until("a round of the mailbox", lambda: scraped_above(daemon, read, 0))
        await minutes.scrape(2)
        assert "IMAP session(s) failed" not in await status_output(settings.data_path)
    # Failing since minute 0: 15 minutes later, for: 15m is met; 0 again at minute 17.
    firing(promtool, tmp_path, minutes, "MailbridgeImapFailing",
           at=[16], not_at=[*range(15), 17, 18], labels={})  # fmt: skip
    # Never read through: from the first scrape; read at minute 17.
    firing(promtool, tmp_path, minutes, "MailbridgeImapNotRead",
           at=list(range(17)), not_at=[17, 18], labels={})  # fmt: skip


async def healthz_text(daemon: Any) -> str:
    host, port = daemon.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{host}:{port}/healthz") as resp,
    ):
        return await resp.text()


async def scraped_above(
    daemon: Any, wanted: Sequence[tuple[str, tuple[tuple[str, str], ...]]], floor: float
) -> bool:
    got = samples((await scrape(daemon))[2])
    return all(got.get(name, {}).get(labels, 0) > floor for name, labels in wanted)


@pytest.mark.sqlite_only(
    "a full disk is injected with SQLite's max_page_count (as test_web_bad_input does)"
)
@pytest.mark.asyncio
async def test_database_not_writable_fires_while_the_disk_is_full(
    promtool: str, tmp_path: Path
) -> None:
    # A full disk refused every comment (503) and reply (451, not stored, so not
    # counted) and only /healthz said so: nothing for Prometheus to alert on.
    clock = FakeClock()
    settings = make_settings(tmp_path)
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        minutes = Minutes(daemon, clock)
        await minutes.scrape(2)
        writer = daemon.store._writer  # the daemon's own connection: the cap is its own
        [(pages,)] = await writer.execute_fetchall("PRAGMA page_count")
        await writer.execute(f"PRAGMA max_page_count = {pages}")  # as if the disk were full
        try:
            host, port = daemon.http_address
            url = (
                f"http://{host}:{port}/api/threads/attachment-theory-healing-relationship/comments"
            )
            big = {"author": "Ann", "email": "ann@example.com", "body": "words " * 3_000}
            async with aiohttp.ClientSession() as session, session.post(url, json=big) as resp:
                assert resp.status == 503
            await minutes.scrape(8)
            assert minutes.scrapes[-1]["mailbridge_database_writable"][JOB] == 0
        finally:
            await writer.execute("PRAGMA max_page_count = 1073741823")
        await post_comment(daemon, body="Space again: this one is kept.")
        await minutes.scrape(2)
        assert minutes.scrapes[-1]["mailbridge_database_writable"][JOB] == 1
    # Full from minute 2: for 5m met at minute 7; writable again at minute 10.
    firing(promtool, tmp_path, minutes, "MailbridgeDatabaseNotWritable",
           at=[7, 8, 9], not_at=[0, 1, 2, 3, 4, 5, 10, 11])  # fmt: skip


@pytest.mark.asyncio
async def test_file_descriptors_fires_as_idle_connections_near_the_limit_and_down_once_stopped(
    promtool: str, tmp_path: Path
) -> None:
    # Past the open-files limit the listeners cannot accept (asyncio logs it and
    # tries again), /healthz included: the rule warns before, from the process's own.
    clock = FakeClock()
    settings = make_settings(tmp_path, limits={"smtp_connections_per_ip": 1000})
    await import_seed(settings)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        minutes = Minutes(daemon, clock)
        await minutes.scrape(2)
        # The daemon runs in this process: its limit is this process's.
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 100, hard))
        writers: list[asyncio.StreamWriter] = []
        try:
            for _ in range(45):  # two descriptors each: the client's and the daemon's
                reader, writer = await asyncio.open_connection(*daemon.smtp_address)
                writers.append(writer)
                assert (await reader.readline()).startswith(b"220")  # accepted
            await minutes.scrape(7)
        finally:
            for writer in writers:
                writer.close()
            await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        fds = (("process_open_fds", ()),)
        await until("the daemon's ends closed", lambda: scraped_below(daemon, fds, 60))
        await minutes.scrape(2)
    await minutes.scrape(7)  # stopped: nothing answers
    firing(promtool, tmp_path, minutes, "MailbridgeFileDescriptors",
           at=[7, 8], not_at=[0, 1, 2, 3, 4, 5, 9, 10])  # fmt: skip
    # Down from minute 11: for 5m met at minute 16.
    firing(promtool, tmp_path, minutes, "MailbridgeDown",
           at=[16, 17], not_at=list(range(15)))  # fmt: skip


async def scraped_below(
    daemon: Any, wanted: Sequence[tuple[str, tuple[tuple[str, str], ...]]], ceiling: float
) -> bool:
    got = samples((await scrape(daemon))[2])
    return all(got[name][labels] < ceiling for name, labels in wanted)


@pytest.mark.asyncio
async def test_notifications_overdue_fires_shows_in_status_and_clears(
    promtool: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An operator's notification template that fails: each batch failed to build when
    # its window closed, the reader was never told of the reply, and only a traceback
    # every minute in the log said so.
    override = tmp_path / "templates" / "email"
    override.mkdir(parents=True)
    broken = [override / "reply_notification.txt.j2", override / "digest.txt.j2"]
    for path in broken:
        path.write_text("{{ no_such_name.body }}\n")
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=1))  # see the moderation test
    settings = make_settings(
        tmp_path / "site",
        templates={"directory": str(tmp_path / "templates")},
        notifications={"batch_window_seconds": 120},
    )
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        minutes = Minutes(daemon, clock)
        await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
        await approve(daemon, await moderation_email(daemon, "Ann", 1))
        await until("its notification waiting", lambda: db_rows(
            daemon, "SELECT 1 FROM pending_notifications"))  # fmt: skip
        await minutes.scrape(2)  # the window closes as the second minute ends
        daemon.digester.wake()
        await until("a batching failed", lambda: asyncio.sleep(0, "batching failed" in caplog.text))
        await minutes.scrape(17)
        shown = await status_output(settings.data_path)
        assert "1 notification(s) of replies not sent when their batch window closed" in shown
        assert await healthz(daemon) == 200
        for path in broken:
            path.unlink()  # fixed: the packaged templates again
        daemon.digester.wake()
        await until("it is sent", lambda: db_rows(
            daemon, "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM pending_notifications)"))  # fmt: skip
        await minutes.scrape(2)
        assert "batch window" not in await status_output(settings.data_path)
    assert minutes.scrapes[-1]["mailbridge_notifications_overdue_seconds"][JOB] == 0
    # Due from minute 2: 900 s past it at minute 17, more at 18; sent by minute 19.
    firing(promtool, tmp_path, minutes, "MailbridgeNotificationsOverdue",
           at=[18], not_at=[*range(17), 19, 20])  # fmt: skip


@pytest.mark.asyncio
async def test_periodic_job_failing_fires_while_the_moderation_digest_fails(
    promtool: str, tmp_path: Path
) -> None:
    # With moderation.mode = "digest", an operator's digest template that fails left
    # every new comment untold to its moderators, with only a traceback each minute in
    # the log: the moderation queue metric does not see it (the digest takes no row).
    override = tmp_path / "templates" / "email"
    override.mkdir(parents=True)
    broken = override / "moderation_digest.txt.j2"
    broken.write_text("{{ no_such_name.body }}\n")
    clock = FakeClock()
    settings = make_settings(
        tmp_path / "site",
        templates={"directory": str(tmp_path / "templates")},
        moderation={"mode": "digest", "digest_minutes": 0.02},  # every 1.2 s
    )
    await import_seed(settings)
    digest = (("mailbridge_periodic_job_failures", (("name", "moderation-digest"),)),)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        await post_comment(daemon, body="A comment for the next digest.")
        await until("the digest failing", lambda: scraped_above(daemon, digest, 0))
        minutes = Minutes(daemon, clock)
        await minutes.scrape(17)
        assert await healthz(daemon) == 200
        # `mailbridge status` says it too (it said "Recent errors: none"), and what to do.
        shown = await status_output(settings.data_path)
        said = re.search(
            r"^Recent errors: (\d+) run\(s\) of the moderation-digest job failed in a row "
            r"since \S+, the last at \S+: (.+)$", shown, re.M,
        )  # fmt: skip
        assert said and int(said.group(1)) >= 1, shown
        assert said.group(2) == (
            "UndefinedError: 'no_such_name' is undefined; moderators are not told of new "
            "comments (a template of templates.directory? the log has the traceback: "
            "'moderation digest failed')"
        )
        broken.unlink()  # fixed: the packaged template again
        await until("a digest sent", lambda: scraped_below(daemon, digest, 1))
        await minutes.scrape(2)
        assert "moderation-digest" not in await status_output(settings.data_path)
    # Failing from minute 0: for 15m met at minute 15; sent by minute 17.
    firing(promtool, tmp_path, minutes, "MailbridgePeriodicJobFailing", at=[15, 16],
           not_at=[*range(14), 17, 18], labels={"name": "moderation-digest"})  # fmt: skip
