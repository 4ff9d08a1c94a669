"""/metrics (issue 15): scraped from the running daemon after real traffic (a web
comment, an emailed reply over SMTP, a refused recipient, an approval and its
notification), parsed with prometheus-client's own parser, every family checked with
its values; and answered only to the networks allowed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from click.testing import CliRunner
from flows import post_comment, reply_notification
from scraping import Samples, samples, scrape
from support import (
    FakeClock,
    SinkHandler,
    command_env,
    db_rows,
    import_seed,
    make_settings,
    no_dmarc_zone,
    reply_address,
    reply_to_notification,
    smtp_send,
    started,
    until,
)

from mailbridge.app import running
from mailbridge.cli import cli
from mailbridge.extract import Extraction


async def scrape_until_sent(daemon: Any, count: int) -> tuple[int, str, str]:
    """Scrape until the outbox counts ``count`` emails sent, for at most 10 seconds."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        status, content_type, text = await scrape(daemon)
        sent = samples(text).get("mailbridge_outbox_messages", {}).get((("status", "sent"),), 0)
        if sent >= count or asyncio.get_running_loop().time() > deadline:
            return status, content_type, text
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_metrics_after_real_traffic(tmp_path: Path) -> None:
    async with started(tmp_path) as daemon:
        note = await reply_notification(daemon)  # a web comment, approved, notified
        reply = reply_to_notification(note, "Thank you, Ann.", message_id="<m-1@client.example>")
        assert (await smtp_send(daemon, "reader002.4a549d@example.org", reply_address(note),
                                reply.as_bytes())).startswith("250")  # fmt: skip
        refused = await smtp_send_refused(daemon, "reply+not-a-token@reply.example.org")
        assert refused.startswith("5"), refused
        # The reply's moderation email goes out after the 250, from the outbox worker:
        # scrape until the three emails are counted sent (bounded), not at once.
        status, content_type, text = await scrape_until_sent(daemon, 3)
    assert status == 200 and content_type.startswith("text/plain; version=")
    got = samples(text)
    received = got["mailbridge_messages_received_total"]
    assert received[(("disposition", "accepted"),)] == 1
    assert received[(("disposition", "refused"),)] == 1
    assert received[(("disposition", "dropped"),)] == 0
    comments = got["mailbridge_comments"]
    assert comments[(("status", "approved"),)] == 244  # the seed's 243 and Ann's
    assert comments[(("status", "pending"),)] == 1  # the emailed reply
    outbox = got["mailbridge_outbox_messages"]
    assert outbox[(("status", "sent"),)] >= 3  # moderation emails and the notification
    assert (
        got["mailbridge_deliveries_total"][(("result", "sent"),)] == outbox[(("status", "sent"),)]
    )
    assert got["mailbridge_outbox_oldest_age_seconds"][()] >= 0
    assert got["mailbridge_delivery_attempts_total"][()] >= outbox[(("status", "sent"),)]
    assert got["mailbridge_wordpress_pushes_waiting"][()] == 0
    assert got["mailbridge_wordpress_failing"] == {
        (("reason", "credentials"),): 0,
        (("reason", "unreachable"),): 0,
        (("reason", "too_large"),): 0,
        (("reason", "error"),): 0,
    }
    assert got["mailbridge_wordpress_last_poll_timestamp_seconds"][()] == 0
    # Nothing stuck: no reply unprocessed, every moderation email and notification
    # built, the database writable, no periodic job failing.
    assert got["mailbridge_inbound_unprocessed_oldest_age_seconds"][()] == 0
    assert got["mailbridge_moderation_mail_waiting"][()] == 0
    assert got["mailbridge_moderation_mail_oldest_age_seconds"][()] == 0
    assert got["mailbridge_notifications_overdue_seconds"][()] == 0
    assert got["mailbridge_database_writable"][()] == 1
    assert got["mailbridge_periodic_job_failures"] == {
        (("name", "housekeeping"),): 0,
        (("name", "moderation-digest"),): 0,
        (("name", "spam-report"),): 0,
    }
    assert got["mailbridge_extraction_seconds_count"][()] == 1  # the one emailed reply
    requests = got["mailbridge_http_request_seconds_count"]
    posted = (("method", "POST"), ("route", "/api/threads/{thread}/comments"), ("status", "2xx"))
    assert requests[posted] == 1


async def smtp_send_refused(daemon: Any, rcpt: str) -> str:
    import aiosmtplib

    host, port = daemon.smtp_address
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) as client:
        await client.mail("someone@example.net")
        try:
            answer = await client.rcpt(rcpt)
        except aiosmtplib.SMTPRecipientRefused as exc:
            return f"{exc.code} {exc.message}"
    return f"{answer.code} {answer.message}"


@pytest.mark.asyncio
async def test_metrics_only_for_the_networks_allowed(tmp_path: Path) -> None:
    async with started(tmp_path / "a", http={"metrics_networks": ["10.0.0.0/8"]}) as daemon:
        status, _type, _text = await scrape(daemon)
        assert status == 404
    async with started(tmp_path / "b", http={"metrics_networks": []}) as daemon:
        status, _type, _text = await scrape(daemon)
        assert status == 404


async def scrape_until(
    daemon: Any, name: str, labels: tuple[tuple[str, str], ...], at_least: float
) -> Samples:
    """Scrape until ``name{labels}`` reaches ``at_least``, for at most 10 seconds."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        got = samples((await scrape(daemon))[2])
        if got.get(name, {}).get(labels, 0) >= at_least:
            return got
        assert asyncio.get_running_loop().time() < deadline, f"{name}{labels}: {got.get(name)}"
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_dead_letters_count_up_only_and_the_process_is_measured(
    tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    # mailbridge_deliveries_total{result="failed"} was the dead letters there now: the
    # operator's `mailbridge outbox --retry` took it down, Prometheus read a counter
    # reset, and the documented alert on its increase fired for every dead letter left.
    sink, port = smtp_sink
    sink.refuse_next = ["550 5.1.1 no such user"]
    relay = {"transport": f"smtp://127.0.0.1:{port}"}
    async with started(tmp_path, outbound=relay) as daemon:
        await post_comment(daemon, body="A comment whose moderation email bounces.")
        failed = (("result", "failed"),)
        got = await scrape_until(daemon, "mailbridge_deliveries_total", failed, 1)
        assert got["mailbridge_deliveries_total"][failed] == 1
        [(row_id,)] = await db_rows(daemon, "SELECT id FROM outbox WHERE status = 'failed'")
        args = ["outbox", "--retry", str(row_id), "--data-dir", str(daemon.settings.data_path)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}
        retried = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "mailbridge", *args],
            env={**env, **command_env(args)}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert retried.returncode == 0 and "queued again" in retried.stdout, retried.stderr
        got = samples((await scrape(daemon))[2])
        assert got["mailbridge_deliveries_total"][failed] == 1  # it failed once: still so
        assert got["mailbridge_outbox_messages"][(("status", "failed"),)] == 0  # the gauge
        # The process itself, as Prometheus's own client reports it.
        assert got["process_resident_memory_bytes"][()] > 0
        assert got["process_start_time_seconds"][()] > 0
        assert got["process_cpu_seconds_total"][()] >= 0


@pytest.mark.asyncio
async def test_the_outbox_age_grows_while_the_relay_refuses(
    tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    # The age was counted from each message's next attempt, which every failed
    # attempt moves to the future: with the relay refusing for hours it stayed near 0,
    # and the documented alert (> 900: "mail is not leaving") never fired.
    sink, port = smtp_sink
    sink.refuse_next = ["451 4.3.0 try later"] * 50
    clock = FakeClock()
    settings = make_settings(tmp_path, outbound={"transport": f"smtp://127.0.0.1:{port}"})
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        await post_comment(daemon, body="A comment whose moderation email waits.")
        # Its first attempt refused: the next one is 30 s ± 25 % later (docs/delivery.md).
        await until(
            "a refused attempt",
            lambda: db_rows(
                daemon, "SELECT 1 FROM outbox WHERE attempts = 1 AND status = 'queued'"
            ),
        )
        clock.advance(20)  # not due again yet: waiting 20 s all the same
        got = samples((await scrape(daemon))[2])
        assert got["mailbridge_outbox_oldest_age_seconds"][()] >= 20
        assert got["mailbridge_outbox_messages"][(("status", "queued"),)] >= 1


@pytest.mark.asyncio
async def test_metrics_behind_a_proxy_on_the_host_only_for_the_host(tmp_path: Path) -> None:
    # Behind nginx on the same host (docs/operating.md: http.trusted_proxies =
    # ["127.0.0.1"]) every request came from 127.0.0.1, inside the default
    # metrics_networks: /metrics answered anyone on the internet through the proxy.
    async with started(tmp_path, http={"trusted_proxies": ["127.0.0.1"]}) as daemon:
        host, port = daemon.http_address
        url = f"http://{host}:{port}/metrics"
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers={"X-Forwarded-For": "203.0.113.9"}) as r:
                assert r.status == 404
            async with session.get(url) as r:  # Prometheus on the host itself
                assert r.status == 200
            async with session.get(url, headers={"X-Forwarded-For": "127.0.0.1"}) as r:
                assert r.status == 200  # a scraper on the host, through the proxy


@pytest.mark.asyncio
async def test_an_erasure_takes_nothing_off_the_counters(
    tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    # The counters were counts of rows: an erasure deletes the person's messages and
    # the emails about their comments, the counters went down, Prometheus read a
    # reset, and increase() counted them all again: the documented dead-letter alert
    # fired after erasing someone whose moderation email had been refused.
    sink, port = smtp_sink
    sink.refuse_next = ["550 5.7.1 relaying denied"]
    async with started(tmp_path, outbound={"transport": f"smtp://127.0.0.1:{port}"}) as daemon:
        await post_comment(daemon, email="zoe@example.com", body="A first comment.")
        await post_comment(daemon, email="zoe@example.com", body="A second comment.")
        note = b"From: zoe@example.com\r\nSubject: Hello\r\n\r\nA word for the postmaster.\r\n"
        answer = await smtp_send(daemon, "zoe@example.com", "postmaster@reply.example.org", note)
        assert answer.startswith("250"), answer
        got = await scrape_until(daemon, "mailbridge_deliveries_total", (("result", "sent"),), 1)
        before = {
            "failed": got["mailbridge_deliveries_total"][(("result", "failed"),)],
            "sent": got["mailbridge_deliveries_total"][(("result", "sent"),)],
            "postmaster": got["mailbridge_messages_received_total"][
                (("disposition", "postmaster"),)
            ],
            "attempts": got["mailbridge_delivery_attempts_total"][()],
        }
        assert before == {"failed": 1, "sent": 1, "postmaster": 1, "attempts": 2}
        args = ["person", "erase", "zoe@example.com", "--yes",
                "--data-dir", str(daemon.settings.data_path)]  # fmt: skip
        erased = await asyncio.to_thread(CliRunner().invoke, cli, args, env={})
        assert erased.exit_code == 0, erased.output
        assert await db_rows(daemon, "SELECT id FROM outbox") == []  # gone with her
        got = samples((await scrape(daemon))[2])
    after = {
        "failed": got["mailbridge_deliveries_total"][(("result", "failed"),)],
        "sent": got["mailbridge_deliveries_total"][(("result", "sent"),)],
        "postmaster": got["mailbridge_messages_received_total"][(("disposition", "postmaster"),)],
        "attempts": got["mailbridge_delivery_attempts_total"][()],
    }
    assert after == before


def broken_extractor(raw: bytes, sent: Sequence[str] = ()) -> Extraction:
    raise RuntimeError("parser bug")


def went_down(before: Samples, after: Samples, name: str) -> list[str]:
    """The series of counter ``name`` lower in ``after`` than in ``before`` (or gone)."""
    return [
        f"{labels}: {value} -> {after.get(name, {}).get(labels)}"
        for labels, value in before.get(name, {}).items()
        if after.get(name, {}).get(labels, -1) < value
    ]


@pytest.mark.asyncio
async def test_a_reply_answered_451_then_filed_takes_nothing_off_the_received_counter(
    tmp_path: Path,
) -> None:
    # It was counted under disposition="received" while kept (answered 451), then under
    # "accepted" once its sender's retry was filed, and "received" went from 1 to 0:
    # Prometheus reads a counter going down as a reset.
    clock = FakeClock()
    settings = make_settings(tmp_path)
    await import_seed(settings)
    async with running(settings, extractor=broken_extractor, clock=clock,
                       resolver=no_dmarc_zone()) as daemon:  # fmt: skip
        note = await reply_notification(daemon)
        before = samples((await scrape(daemon))[2])
        reply = reply_to_notification(note, "Words that must not be lost.")
        host, port = daemon.smtp_address
        with pytest.raises(aiosmtplib.SMTPDataError) as info:
            await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)
        assert info.value.code == 451
        kept = samples((await scrape(daemon))[2])
    settings = make_settings(tmp_path, smtp={"listen": "127.0.0.1:0"})
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        host, port = daemon.smtp_address
        await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)
        filed = samples((await scrape(daemon))[2])
    name = "mailbridge_messages_received_total"
    assert not went_down(before, kept, name) and not went_down(kept, filed, name)
    accepted = (("disposition", "accepted"),)
    assert (before[name][accepted], kept[name][accepted], filed[name][accepted]) == (0, 0, 1)
    # Kept unprocessed shows in a gauge, as a number now, not in the counter.
    unprocessed = [s["mailbridge_inbound_unprocessed_messages"][()] for s in (before, kept, filed)]
    assert unprocessed == [0, 1, 0]
