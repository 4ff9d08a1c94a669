"""Mailgun's and Postmark's sending APIs as transports: the request each service
documents, and each answer mapped as a relay's would be (docs/delivery.md, "No SMTP
port?"). Against local fakes over verified TLS (tests/delivery/apifakes.py)."""

from __future__ import annotations

import asyncio
import logging
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from delivery.apifakes import DOMAIN, KEY, REGION, SES_KEY, TOKEN, Fake, serving
from delivery.outboxkit import hard_bounces, queue, rows, stored, worker
from support import FakeClock

from mailbridge.errors import ConfigError, PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.api import ApiConfig
from mailbridge.outbound.api.choose import api_transport
from mailbridge.outbound.api.http import retry_after_seconds
from mailbridge.outbound.transport import Transport, transport_shown
from mailbridge.settings import OutboundSettings
from mailbridge.store import Store

MESSAGE = (
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=mb; b=abc\r\n"
    b"From: Example Blog <comments@example.org>\r\n"
    b"To: Ann <ann@example.net>\r\n"
    b"Reply-To: reply+tok@reply.example.org\r\n"
    b"Subject: =?utf-8?q?Bob_answered_you_on_=E2=80=9CTea=E2=80=9D?=\r\n"
    b"Date: Mon, 07 Dec 2026 14:00:00 +0000\r\n"
    b"Message-ID: <n1.abc@example.org>\r\n"
    b"In-Reply-To: <c2.abc@example.org>\r\n"
    b"References: <c1.abc@example.org> <c2.abc@example.org>\r\n"
    b"List-Id: Tea <tea.example.org>\r\n"
    b"List-Unsubscribe: <https://example.org/u/TOKEN>, <mailto:unsub+TOKEN@example.org>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"Auto-Submitted: auto-generated\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n'
    b"\r\n--b1\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
    b"\r\nBob wrote: caf=C3=A9 https://example.org/threads/tea#c3\r\n"
    b"--b1\r\n"
    b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
    b'\r\n<p>Bob wrote: caf=C3=A9 <a href=3D"https://example.org/threads/tea#c3">read</a></p>\r\n'
    b"--b1--\r\n"
)


def _api(fake: Fake, key: str = KEY, **changes: Any) -> ApiConfig:
    return ApiConfig(key=key, base_url=fake.url, ca_file=fake.ca.ca_file, **changes)


def _mailgun(fake: Fake, key: str = KEY, domain: str = DOMAIN, **changes: Any) -> Transport:
    return api_transport(f"mailgun://{domain}", _api(fake, key, **changes))


def _postmark(fake: Fake, key: str = TOKEN, **changes: Any) -> Transport:
    return api_transport("postmark://", _api(fake, key, **changes))


@pytest.mark.asyncio
async def test_mailgun_gets_our_exact_bytes_for_the_envelope_recipient(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(tmp_path) as fake:
        transport = _mailgun(fake)
        try:
            with caplog.at_level(logging.INFO):
                await transport.send("bounce+x@reply.example.org", "ann@example.net", MESSAGE)
                await transport.send("bounce+y@reply.example.org", "bob@example.com", MESSAGE)
        finally:
            await transport.aclose()
    # Mailgun's id, where to look in its logs; never the address or the key.
    accepted = [r.getMessage() for r in caplog.records if "accepted as" in r.getMessage()]
    assert len(accepted) == 2 and accepted[0].startswith("mailgun://mg.example.org: accepted as <")
    assert "ann@" not in caplog.text and KEY not in caplog.text
    assert fake.problems == []
    first, second = fake.accepted()
    assert first.message == MESSAGE  # byte for byte: our DKIM signature still verifies
    assert (first.to, second.to) == ("ann@example.net", "bob@example.com")
    assert first.options == {"o:tracking-clicks": "no", "o:tracking-opens": "no"}


def test_mailgun_urls_and_regions() -> None:
    us = api_transport("mailgun://mg.example.org", ApiConfig(key=KEY))
    eu = api_transport("mailgun://mg.example.org?region=eu", ApiConfig(key=KEY))
    assert us.url == "https://api.mailgun.net/v3/mg.example.org/messages.mime"  # type: ignore[union-attr]
    assert eu.url == "https://api.eu.mailgun.net/v3/mg.example.org/messages.mime"  # type: ignore[union-attr]
    assert KEY not in us.description and us.description.endswith("(key ***eol0)")
    for wrong, said in (
        ("mailgun://", "mailgun://YOUR-SENDING-DOMAIN"),
        ("mailgun://mg.example.org?region=asia", "us or eu"),
        ("mailgun://mg.example.org?tls=required", "unknown query"),
        ("mailgun://api:secret@mg.example.org", "not in the URL"),
        ("postmark://api.postmarkapp.com", "no host"),
    ):
        with pytest.raises(ConfigError, match=said):
            api_transport(wrong, ApiConfig(key=KEY))
    with pytest.raises(ConfigError, match="needs outbound.api_key"):
        api_transport("mailgun://mg.example.org", ApiConfig())
    with pytest.raises(ConfigError, match="never over plain HTTP"):
        ApiConfig(key=KEY, base_url="http://127.0.0.1:8080")
    shown = transport_shown("postmark://", TOKEN, "")
    assert shown == "postmark:// (key ***6666)" and TOKEN not in shown


@pytest.mark.asyncio
async def test_an_untrusted_certificate_sends_nothing(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        transport = api_transport("mailgun://" + DOMAIN, ApiConfig(key=KEY, base_url=fake.url))
        try:
            with pytest.raises(TemporaryDeliveryError, match="certificate is not trusted"):
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
    assert fake.received == []


@pytest.mark.asyncio
async def test_a_refused_key_is_temporary_loud_masked_and_held(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "key-0000000000000000000000000000wxyz"
    async with serving(tmp_path) as fake:
        transport = _mailgun(fake, key=wrong)
        try:
            with caplog.at_level(logging.ERROR):
                with pytest.raises(TemporaryDeliveryError) as refused:
                    await transport.send("b@example.org", "ann@example.net", MESSAGE)
                # Held: the next sends ask nothing with the same wrong key.
                with pytest.raises(TemporaryDeliveryError, match="not tried"):
                    await transport.send("b@example.org", "bob@example.net", MESSAGE)
        finally:
            await transport.aclose()
    detail = refused.value.detail
    assert "refused the API key ***wxyz" in detail and "outbound.api_key" in detail
    assert "?region=eu" in detail
    assert wrong not in detail and wrong not in caplog.text
    assert [r.getMessage() for r in caplog.records if "refused the API key" in r.getMessage()]
    assert [r.status for r in fake.received] == [401]


@pytest.mark.asyncio
async def test_an_unknown_mailgun_domain_says_which_setting(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        transport = _mailgun(fake, domain="example.org")
        try:
            with pytest.raises(
                TemporaryDeliveryError, match="does not know the domain example.org"
            ):
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()


@pytest.mark.asyncio
async def test_nothing_listening_and_a_slow_service_are_temporary(tmp_path: Path) -> None:
    transport = api_transport(
        "mailgun://" + DOMAIN, ApiConfig(key=KEY, base_url="https://127.0.0.1:9", timeout=2)
    )
    try:
        with pytest.raises(TemporaryDeliveryError, match="cannot reach 127.0.0.1:9"):
            await transport.send("b@example.org", "ann@example.net", MESSAGE)
    finally:
        await transport.aclose()
    async with serving(tmp_path) as fake:
        transport = _mailgun(fake)
        fake.script.append((500, {"message": "Internal error"}, {}))
        try:
            with pytest.raises(TemporaryDeliveryError, match="HTTP 500"):
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Mon, 07 Dec 2026 14:02:00 GMT", now=1796652000.0) == 120.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


@pytest.mark.asyncio
async def test_429_then_200_is_sent_once_after_the_retry_after(
    tmp_path: Path, store: Store
) -> None:
    clock = FakeClock()
    settings = OutboundSettings(retry_base_seconds=30)
    async with serving(tmp_path) as fake:
        transport = _mailgun(fake)
        fake.script.append((429, {"message": "Too many requests"}, {"Retry-After": "600"}))
        try:
            await queue(store, ["ann@example.net"], at=clock.now())
            await worker(store, transport, clock, settings=settings).deliver_due()

            async def due(conn: aiosqlite.Connection) -> float:
                async with conn.execute("SELECT next_attempt_at FROM outbox") as cur:
                    return float((await cur.fetchone())[0])

            waits = await store.read(due) - clock.now().timestamp()
            assert 600 <= waits <= 601  # not the 30 s backoff: the service said 600
            assert (await rows(store))[0][1:3] == ("queued", 1)
            clock.advance(601)
            await worker(store, transport, clock, settings=settings).deliver_due()
        finally:
            await transport.aclose()
    assert [r.status for r in fake.received] == [429, 200]
    assert len(fake.accepted()) == 1
    assert (await rows(store))[0][1] == "sent"


@pytest.mark.asyncio
async def test_postmark_inactive_recipient_counts_as_a_bounce_a_refused_token_does_not(
    tmp_path: Path, store: Store
) -> None:
    await stored(store, "gone@example.net", "ann@example.net")
    clock = FakeClock()
    async with serving(tmp_path) as fake:
        fake.inactive.add("gone@example.net")
        transport = _postmark(fake)
        bad = _postmark(fake, key="11111111-1111-2222-3333-444455559999")
        try:
            await queue(store, ["gone@example.net", "ann@example.net"], at=clock.now())
            await worker(store, transport, clock, hard_bounce_limit=2).deliver_due()
            await queue(store, ["ann@example.net"], at=clock.now(), prefix="second")
            await worker(store, bad, clock, hard_bounce_limit=2).deliver_due()
        finally:
            await transport.aclose()
            await bad.aclose()
    assert fake.problems == []
    statuses = await rows(store)
    assert statuses[0][1] == "failed" and "inactive at Postmark" in statuses[0][3]
    assert statuses[1][1] == "sent"
    assert statuses[2][1] == "queued" and "refused the server token ***9999" in statuses[2][3]
    assert await hard_bounces(store, "gone@example.net") == 1
    assert await hard_bounces(store, "ann@example.net") == 0


@pytest.mark.asyncio
async def test_mailgun_refusing_the_address_counts_as_a_bounce(
    tmp_path: Path, store: Store
) -> None:
    await stored(store, "gone@example.net")
    clock = FakeClock()
    async with serving(tmp_path) as fake:
        transport = _mailgun(fake)
        fake.script.append(
            (
                400,
                {"message": "'to' parameter is not a valid address. please check documentation"},
                {},
            )
        )
        fake.script.append((400, {"message": "Need at least one of 'text' or 'html'"}, {}))
        try:
            await queue(store, ["gone@example.net", "gone@example.net"], at=clock.now())
            await worker(store, transport, clock, hard_bounce_limit=3).deliver_due()
        finally:
            await transport.aclose()
    statuses = await rows(store)
    assert [s[1] for s in statuses] == ["failed", "failed"]
    # Only the refusal of the address is held against it, not one of the message.
    assert await hard_bounces(store, "gone@example.net") == 1


@pytest.mark.asyncio
async def test_postmark_gets_every_header_we_rely_on(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        transport = _postmark(fake)
        try:
            await transport.send("bounce+x@reply.example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
    assert fake.problems == []
    (got,) = fake.accepted()
    fields = got.fields
    assert fields["From"] == "Example Blog <comments@example.org>"
    assert fields["To"] == "Ann <ann@example.net>"
    assert fields["ReplyTo"] == "reply+tok@reply.example.org"
    assert fields["Subject"] == "Bob answered you on “Tea”"
    assert fields["TextBody"] == "Bob wrote: café https://example.org/threads/tea#c3"
    assert 'href="https://example.org/threads/tea#c3"' in fields["HtmlBody"]
    assert (fields["MessageStream"], fields["TrackOpens"], fields["TrackLinks"]) == (
        "outbound",
        False,
        "None",
    )
    headers = {h["Name"]: h["Value"] for h in fields["Headers"]}
    original = message_from_bytes(MESSAGE, policy=policy.default)
    for name in ("Message-ID", "In-Reply-To", "References", "List-Id", "List-Unsubscribe",
                 "List-Unsubscribe-Post", "Auto-Submitted"):  # fmt: skip
        assert headers[name] == str(original[name]), name
    # Postmark signs what it sends; ours would not verify on its bytes.
    assert "DKIM-Signature" not in headers and "Date" not in headers


@pytest.mark.asyncio
async def test_postmark_account_refusals_are_temporary(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        transport = _postmark(fake)
        fake.script.append((422, {"ErrorCode": 400, "Message": "Sender signature not found"}, {}))
        try:
            with pytest.raises(TemporaryDeliveryError, match="not a confirmed sender signature"):
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
        transport = _postmark(fake)
        fake.script.append((422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'x'."}, {}))
        try:
            with pytest.raises(PermanentDeliveryError) as refused:
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
    assert refused.value.at_rcpt


def test_check_config_names_the_transport_with_the_key_masked(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mailbridge.cli import cli

    args = ["check-config", "--data-dir", str(tmp_path / "var")]
    env = {"MAILBRIDGE_OUTBOUND_TRANSPORT": f"mailgun://{DOMAIN}?region=eu"}
    missing = CliRunner().invoke(cli, args, env=env)
    assert missing.exit_code == 1
    assert "mailgun:// needs outbound.api_key (or MAILBRIDGE_OUTBOUND_API_KEY)" in missing.output
    good = CliRunner().invoke(cli, args, env={**env, "MAILBRIDGE_OUTBOUND_API_KEY": KEY})
    assert good.exit_code == 0, good.output
    assert f"outgoing mail    mailgun://{DOMAIN}?region=eu (key ***eol0)," in good.output
    assert KEY not in good.output


@pytest.mark.asyncio
async def test_postmark_refuses_what_its_fields_would_cut(tmp_path: Path) -> None:
    attached = MESSAGE.replace(
        b"--b1--\r\n",
        b"--b1\r\nContent-Type: application/pdf\r\n\r\nJVBERi0=\r\n--b1--\r\n",
    )
    async with serving(tmp_path) as fake:
        transport = _postmark(fake)
        try:
            with pytest.raises(PermanentDeliveryError, match="application/pdf") as refused:
                await transport.send("b@example.org", "ann@example.net", attached)
        finally:
            await transport.aclose()
    assert not refused.value.at_rcpt and fake.received == []


def _ses(fake: Fake, key: str = SES_KEY) -> Transport:
    return api_transport(f"ses://{REGION}", _api(fake, key))


@pytest.mark.asyncio
async def test_ses_gets_our_exact_bytes_signed_with_sigv4(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        transport = _ses(fake)
        try:
            await transport.send("bounce+x@reply.example.org", "ann@example.net", MESSAGE)
            await transport.send("bounce+y@reply.example.org", "bob@example.com", MESSAGE)
        finally:
            await transport.aclose()
    assert fake.problems == []
    first, second = fake.accepted()
    assert first.message == MESSAGE  # Content.Raw: byte for byte
    assert (first.to, second.to) == ("ann@example.net", "bob@example.com")
    assert "wJalr" not in transport.description and transport.description.startswith(
        f"ses://{REGION} (key AKIA"
    )


@pytest.mark.asyncio
async def test_ses_wrong_secret_is_temporary_and_held_never_a_bounce(tmp_path: Path) -> None:
    wrong = "AKIAIOSFODNN7EXAMPLE:not-the-secret-at-all-0000000000000wxyz"
    async with serving(tmp_path) as fake:
        transport = _ses(fake, wrong)
        try:
            with pytest.raises(TemporaryDeliveryError) as refused:
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
            with pytest.raises(TemporaryDeliveryError, match="not tried"):
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
    detail = refused.value.detail
    assert "SES refused the key AKIA" in detail and "InvalidSignatureException" in detail
    assert "not-the-secret" not in detail and "ses:SendEmail" in detail
    assert [r.status for r in fake.received] == [403]


@pytest.mark.asyncio
async def test_ses_answers_map_as_a_relays(tmp_path: Path, store: Store) -> None:
    await stored(store, "ann@example.net")
    clock = FakeClock()
    async with serving(tmp_path) as fake:
        transport = _ses(fake)
        unverified = (
            "Email address is not verified. The following identities failed the check in "
            "region EU-WEST-1: ann@example.net"
        )
        fake.script += [
            (400, {"message": unverified}, {"X-Amzn-ErrorType": "MessageRejected:"}),
            (429, {"message": "Maximum sending rate exceeded."},
             {"X-Amzn-ErrorType": "TooManyRequestsException:"}),
            (400, {"message": "Illegal header"}, {"X-Amzn-ErrorType": "MessageRejected:"}),
        ]  # fmt: skip
        try:
            await queue(store, ["ann@example.net"] * 3, at=clock.now())
            await worker(store, transport, clock, hard_bounce_limit=1).deliver_due()
        finally:
            await transport.aclose()
    statuses = await rows(store)
    assert [s[1] for s in statuses] == ["queued", "queued", "failed"]
    assert "an identity is not verified in eu-west-1" in statuses[0][3]
    assert "throttling" in statuses[1][3]
    assert "SES refused the message: MessageRejected: Illegal header" in statuses[2][3]
    # The sandbox's refusal and a refused message are never the recipient's bounce.
    assert await hard_bounces(store, "ann@example.net") == 0


def test_ses_urls_and_keys() -> None:
    ses = api_transport("ses://us-east-1", ApiConfig(key=SES_KEY))
    assert ses.url == "https://email.us-east-1.amazonaws.com/v2/email/outbound-emails"  # type: ignore[union-attr]
    for wrong, said in (
        ("ses://", "ses://REGION"),
        ("ses://email.eu-west-1.amazonaws.com", "ses://REGION"),
        ("ses://eu-west-1?x=1", "unknown query"),
    ):
        with pytest.raises(ConfigError, match=said):
            api_transport(wrong, ApiConfig(key=SES_KEY))
    with pytest.raises(ConfigError, match="ACCESS_KEY_ID:SECRET_ACCESS_KEY"):
        api_transport("ses://eu-west-1", ApiConfig(key="AKIAONLY"))


@pytest.mark.asyncio
async def test_a_slow_service_times_out_as_temporary(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        fake.delay = 2.0
        transport = _mailgun(fake, timeout=0.3)
        try:
            with pytest.raises(
                TemporaryDeliveryError,
                match=r"no answer within 0.3 s \(outbound.relay_timeout_seconds\)",
            ):
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()


@pytest.mark.asyncio
async def test_sends_at_once_share_one_session_and_its_connections(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        fake.delay = 0.2  # all eight in flight together
        transport = _mailgun(fake, max_connections=4)
        try:
            rcpts = [f"r{n}@example.net" for n in range(8)]
            await asyncio.gather(*(transport.send("b@example.org", r, MESSAGE) for r in rcpts))
            await asyncio.gather(*(transport.send("b@example.org", r, MESSAGE) for r in rcpts))
        finally:
            await transport.aclose()
    assert len(fake.accepted()) == 16
    # At most outbound.concurrency connections, kept from the first round to the next.
    assert 1 <= len(fake.connections) <= 4
