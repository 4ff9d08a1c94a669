"""A daemon that sends through a mail service's API (no SMTP port): the notification
of an approved reply reaches the service's (fake) API as the exact bytes the Maildir
would hold after its trace lines, DKIM-verifiable; a refused key keeps the mail and
says why."""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import pytest
from click.testing import CliRunner
from delivery.apifakes import DOMAIN, KEY, REGION, SES_KEY, TOKEN, Fake, serving
from flows import approve, post_comment
from scraping import samples, scrape
from support import db_rows, is_notification, started

from mailbridge.cli import cli
from mailbridge.outbound.dkim_keys import load_key
from mailbridge.outbound.dkimtool import dkim_record

READER = "reader002.4a549d@example.org"


def _outbound(fake: Fake, scheme: str, key: str) -> dict[str, Any]:
    return {
        "transport": {
            "mailgun": f"mailgun://{DOMAIN}",
            "postmark": "postmark://",
            "ses": f"ses://{REGION}",
        }[scheme],
        "api_key": key,
        "api_url": fake.url,
        "relay_ca_file": str(fake.ca.ca_file),
    }


async def _arrived(fake: Fake, count: int) -> list[EmailMessage]:
    for _ in range(300):  # bounded: 15 s
        if len(fake.accepted()) >= count:
            break
        await asyncio.sleep(0.05)
    got = fake.accepted()
    assert len(got) >= count, [r.status for r in fake.received]
    return [message_from_bytes(r.message, policy=policy.default) for r in got]  # type: ignore[misc]


def _keygen(data: Path) -> dict[str, str]:
    result = CliRunner().invoke(
        cli, ["dkim", "keygen", "--domain", "example.org", "--selector", "mb",
              "--directory", str(data)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return {"domain": "example.org", "selector": "mb", "private_key": "mb.example.org.private"}


@pytest.mark.asyncio
@pytest.mark.parametrize(("scheme", "key"), [("mailgun", KEY), ("ses", SES_KEY)])
async def test_an_approved_reply_reaches_the_service_as_our_signed_bytes(
    tmp_path: Path, scheme: str, key: str
) -> None:
    data = tmp_path / "var"
    signing = await asyncio.to_thread(_keygen, data)
    async with (
        serving(tmp_path) as fake,
        started(tmp_path, outbound=_outbound(fake, scheme, key), dkim=signing) as daemon,
    ):
        await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
        (moderation,) = await _arrived(fake, 1)
        await approve(daemon, moderation)
        mails = await _arrived(fake, 2)
        index = next(i for i, m in enumerate(mails) if is_notification(m))
        received = fake.accepted()[index]
        stored = await db_rows(
            daemon, "SELECT m.message, o.mail_from FROM outbox o JOIN outbox_messages m "
            "ON m.outbox_id = o.id WHERE o.message_id = ?",
            str(mails[index]["Message-ID"]),
        )  # fmt: skip
    assert fake.problems == []
    assert received.to == READER  # the envelope recipient
    ((message, _mail_from),) = stored
    # What the Maildir would hold after Return-Path and Delivered-To: the stored
    # message with the signature the worker puts in front, nothing else changed.
    wire = received.message
    assert wire.startswith(b"DKIM-Signature: ") and wire.endswith(bytes(message))
    head = wire[: len(wire) - len(bytes(message))]
    assert head.count(b"DKIM-Signature: ") == 1
    for name in (b"List-Unsubscribe: ", b"List-Unsubscribe-Post: ", b"Message-ID: "):
        assert b"\r\n" + name in wire
    record = dkim_record(load_key(data / "mb.example.org.private", "example.org", "mb"))

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name.decode().rstrip(".") == record.name
        return record.value.encode()

    assert dkim.DKIM(wire).verify(dnsfunc=dnsfunc)


@pytest.mark.asyncio
async def test_postmark_gets_the_notification_with_its_headers(tmp_path: Path) -> None:
    async with (
        serving(tmp_path) as fake,
        started(tmp_path, outbound=_outbound(fake, "postmark", TOKEN)) as daemon,
    ):
        await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
        for _ in range(300):
            if fake.accepted():
                break
            await asyncio.sleep(0.05)
        moderation = fake.accepted()[0].fields
        links = [w for w in moderation["TextBody"].split() if "/moderate/" in w]
        assert links, moderation["TextBody"]
        stored = await db_rows(daemon, "SELECT message FROM outbox_messages ORDER BY outbox_id")
        mail = message_from_bytes(bytes(stored[0][0]), policy=policy.default)
        await approve(daemon, mail)  # type: ignore[arg-type]
        for _ in range(300):
            if len(fake.accepted()) >= 2:
                break
            await asyncio.sleep(0.05)
    note = fake.accepted()[1]
    assert note.to.endswith(f"<{READER}>") or note.to == READER
    headers = {h["Name"]: h["Value"] for h in note.fields["Headers"]}
    for name in ("Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted",
                 "In-Reply-To", "References"):  # fmt: skip
        assert headers.get(name), (name, sorted(headers))
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.asyncio
async def test_a_refused_key_keeps_the_mail_and_status_says_why(tmp_path: Path) -> None:
    wrong = "key-0000000000000000000000000000wxyz"
    async with (
        serving(tmp_path) as fake,
        started(tmp_path, outbound=_outbound(fake, "mailgun", wrong)) as daemon,
    ):
        await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
        for _ in range(300):  # bounded: 15 s
            rows = await db_rows(daemon, "SELECT status, attempts, last_error FROM outbox")
            if rows and rows[0][1] >= 1 and rows[0][0] == "queued":
                break
            await asyncio.sleep(0.05)
        _status, _type, text = await scrape(daemon)
        data_dir = daemon.settings.data_path
        shown = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", str(data_dir)], env={}
        )
    assert rows and rows[0][0] == "queued", rows
    assert "refused the API key ***wxyz" in rows[0][2]
    assert shown.exit_code == 0, shown.output
    assert (
        "being retried, the last error: mailgun://mg.example.org: Mailgun refused the API "
        "key ***wxyz" in shown.output
    )
    assert wrong not in shown.output
    assert [r.status for r in fake.received] == [401]  # held: not asked again at once
    # Prometheus sees mail waiting and tried, none failed for good (what
    # MailbridgeMailNotLeaving fires on); status and `outbox ID` say why.
    metrics = samples(text)
    assert metrics["mailbridge_outbox_messages"][(("status", "queued"),)] == 1
    assert metrics["mailbridge_deliveries_total"][(("result", "failed"),)] == 0
    assert metrics["mailbridge_delivery_attempts_total"][()] >= 1


async def _rows_when(daemon: Any, sql: str, done: Any) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for _ in range(300):  # bounded: 15 s
        rows = await db_rows(daemon, sql)
        if done(rows):
            break
        await asyncio.sleep(0.05)
    return rows


@pytest.mark.asyncio
async def test_a_rate_limit_then_success_sends_once(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        fake.script.append((429, {"message": "Too many requests"}, {"Retry-After": "1"}))
        settings = {**_outbound(fake, "mailgun", KEY), "retry_base_seconds": 0.1}
        async with started(tmp_path, outbound=settings) as daemon:
            await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
            rows = await _rows_when(
                daemon, "SELECT status, attempts FROM outbox", lambda r: r and r[0][0] == "sent"
            )
    assert rows == [("sent", 2)]
    assert [r.status for r in fake.received] == [429, 200]
    assert len(fake.accepted()) == 1


@pytest.mark.asyncio
async def test_an_inactive_recipient_at_postmark_counts_as_a_bounce(tmp_path: Path) -> None:
    async with (
        serving(tmp_path) as fake,
        started(tmp_path, outbound=_outbound(fake, "postmark", TOKEN)) as daemon,
    ):
        fake.inactive.add(READER)
        await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
        stored = await _rows_when(
            daemon, "SELECT message FROM outbox_messages ORDER BY outbox_id", bool
        )
        mail = message_from_bytes(bytes(stored[0][0]), policy=policy.default)
        await approve(daemon, mail)  # type: ignore[arg-type]
        failed = await _rows_when(
            daemon, "SELECT rcpt_to, last_error FROM outbox WHERE status = 'failed'", bool
        )
        counted = await db_rows(
            daemon, "SELECT hard_bounces FROM addresses WHERE email = ?", READER
        )
    assert [rcpt for rcpt, _error in failed] == [READER]
    assert "inactive at Postmark" in failed[0][1]
    assert counted == [(1,)]
