"""sendgrid://: SendGrid's v3 /mail/send, against a local fake shaped as SendGrid
documents it (tests/delivery/apifakes.py): the JSON it gets, and what each answer
means for the message and its recipient."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from delivery.apifakes import KEY, SENDGRID_KEY, SENDGRID_NO_SEND, Fake, serving
from delivery.outboxkit import hard_bounces, queue, rows, stored, worker
from delivery.test_api_transports import MESSAGE
from support import FakeClock

from mailbridge.errors import ConfigError, PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.inbound_webhooks.events import sendgrid_events
from mailbridge.outbound.api import ApiConfig
from mailbridge.outbound.api.choose import api_transport
from mailbridge.outbound.api.sendgrid import SendgridTransport
from mailbridge.outbound.transport import transport_shown
from mailbridge.store import Store


def _sendgrid(fake: Fake, key: str = SENDGRID_KEY, **changes: Any) -> SendgridTransport:
    api = ApiConfig(key=key, base_url=fake.url, ca_file=fake.ca.ca_file, **changes)
    transport = api_transport("sendgrid://", api)
    assert isinstance(transport, SendgridTransport)
    return transport


@pytest.mark.asyncio
async def test_sendgrid_gets_the_fields_and_every_header_we_rely_on(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        transport = _sendgrid(fake)
        try:
            theirs = await transport.send("bounce+x@reply.example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
    assert fake.problems == []
    (got,) = fake.accepted()
    fields = got.fields
    assert got.status == 202 and theirs == f"sendgrid:{got.answered}"
    assert fields["personalizations"] == [{"to": [{"email": "ann@example.net", "name": "Ann"}]}]
    assert fields["from"] == {"email": "comments@example.org", "name": "Example Blog"}
    assert fields["reply_to"] == {"email": "reply+tok@reply.example.org"}
    assert fields["subject"] == "Bob answered you on “Tea”"
    assert [c["type"] for c in fields["content"]] == ["text/plain", "text/html"]
    assert fields["content"][0]["value"] == "Bob wrote: café https://example.org/threads/tea#c3"
    assert 'href="https://example.org/threads/tea#c3"' in fields["content"][1]["value"]
    # Our header values as we encoded them, nothing reserved or rewritten by SendGrid.
    assert fields["headers"] == {
        "Message-ID": "<n1.abc@example.org>",
        "In-Reply-To": "<c2.abc@example.org>",
        "References": "<c1.abc@example.org> <c2.abc@example.org>",
        "List-Id": "Tea <tea.example.org>",
        "List-Unsubscribe": "<https://example.org/u/TOKEN>, <mailto:unsub+TOKEN@example.org>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    }
    # Nothing rewrites our links or counts a reader's opening.
    assert fields["tracking_settings"] == {
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": {"enable": False},
        "subscription_tracking": {"enable": False},
        "ganalytics": {"enable": False},
    }
    assert fields["mail_settings"] == {"footer": {"enable": False}}
    assert SENDGRID_KEY not in transport.description
    assert transport.description == f"sendgrid:// (key ***{SENDGRID_KEY[-4:]})"


FOLDED = (
    b"From: =?utf-8?q?Caf=C3=A9_Blog?= <comments@example.org>\r\n"
    b"To: ann@example.net\r\n"
    b"Subject: hi\r\n"
    b"Message-ID: <n2.abc@example.org>\r\n"
    b"References: <c1.abc@example.org>\r\n <c2.abc@example.org>\r\n"
    b"List-Id: =?utf-8?q?Th=C3=A9?= <the.example.org>\r\n"
    b'Content-Type: text/html; charset="utf-8"\r\n'
    b"\r\n<p>only html</p>\r\n"
)


@pytest.mark.asyncio
async def test_sendgrid_headers_are_unfolded_and_stay_encoded(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        transport = _sendgrid(fake)
        try:
            await transport.send("b@example.org", "ann@example.net", FOLDED)
        finally:
            await transport.aclose()
    assert fake.problems == []
    (got,) = fake.accepted()
    assert got.fields["from"] == {"email": "comments@example.org", "name": "Café Blog"}
    assert got.fields["personalizations"][0]["to"] == [{"email": "ann@example.net"}]
    ((kind, html),) = [(c["type"], c["value"]) for c in got.fields["content"]]
    assert (kind, html.strip()) == ("text/html", "<p>only html</p>")
    assert got.fields["headers"]["References"] == "<c1.abc@example.org> <c2.abc@example.org>"
    assert got.fields["headers"]["List-Id"] == "=?utf-8?q?Th=C3=A9?= <the.example.org>"
    assert "reply_to" not in got.fields


async def _sent_alone(tmp_path: Path, message: bytes) -> Any:
    """The one request the fake SendGrid took for ``message`` to ann@example.net,
    checked against its Mail Send rules."""
    async with serving(tmp_path) as fake:
        transport = _sendgrid(fake)
        try:
            await transport.send("b@example.org", "ann@example.net", message)
        finally:
            await transport.aclose()
    assert fake.problems == []
    (got,) = fake.accepted()
    return got


@pytest.mark.asyncio
async def test_sendgrid_to_name_has_no_comma_or_semicolon_which_would_drop_the_mail(
    tmp_path: Path,
) -> None:
    """A digest is addressed by the name its reader uses on the blog ("Smith, Ann"):
    SendGrid takes a to name with "," or ";" (202), then drops the message as an
    invalid address; it was marked sent and never came."""
    named = MESSAGE.replace(b"To: Ann <ann@example.net>", b'To: "Smith, Ann; Jr" <ann@example.net>')
    got = await _sent_alone(tmp_path, named)
    assert got.fields["personalizations"] == [
        {"to": [{"email": "ann@example.net", "name": "Smith Ann Jr"}]}
    ]


@pytest.mark.asyncio
async def test_sendgrid_reply_to_name_has_no_comma_or_semicolon_either(tmp_path: Path) -> None:
    """A notification's Reply-To name is its commenter's, "Smith, Ann via Blog": sent as
    it was, SendGrid either dropped the mail, as for a to name, or refused it with a 400
    about reply_to, which holds every email behind it as a settings problem."""
    named = MESSAGE.replace(
        b"Reply-To: reply+tok@reply.example.org",
        b'Reply-To: "Smith, Ann; Jr via Blog" <reply+tok@reply.example.org>',
    )
    got = await _sent_alone(tmp_path, named)
    assert got.fields["reply_to"] == {
        "email": "reply+tok@reply.example.org",
        "name": "Smith Ann Jr via Blog",
    }


@pytest.mark.asyncio
async def test_sendgrid_refuses_what_its_fields_would_cut(tmp_path: Path) -> None:
    attached = MESSAGE.replace(
        b"--b1--\r\n",
        b"--b1\r\nContent-Type: application/pdf\r\n\r\nJVBERi0=\r\n--b1--\r\n",
    )
    twice = MESSAGE.replace(
        b"Auto-Submitted:", b"Comments: one\r\nComments: two\r\nAuto-Submitted:"
    )
    async with serving(tmp_path) as fake:
        transport = _sendgrid(fake)
        try:
            with pytest.raises(PermanentDeliveryError, match="application/pdf") as cut:
                await transport.send("b@example.org", "ann@example.net", attached)
            with pytest.raises(PermanentDeliveryError, match="two Comments headers") as two:
                await transport.send("b@example.org", "ann@example.net", twice)
        finally:
            await transport.aclose()
    assert not cut.value.at_rcpt and not two.value.at_rcpt
    assert fake.received == []  # nothing half sent


def _errors(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field, "help": None}]}


@pytest.mark.asyncio
async def test_sendgrid_answers_map_as_a_relays(tmp_path: Path, store: Store) -> None:
    await stored(store, "ann@example.net", "gone@example.net")
    clock = FakeClock()
    reset = str(int(time.time()) + 90)
    async with serving(tmp_path) as fake:
        transport = _sendgrid(fake)
        fake.script += [
            (400, _errors("Does not contain a valid address.", "personalizations.0.to.0.email"),
             {}),
            (413, _errors("Payload Too Large"), {}),
            (429, _errors("too many requests"), {"X-RateLimit-Reset": reset}),
            (503, "Service Unavailable", {"Retry-After": "120"}),
        ]  # fmt: skip
        try:
            await queue(store, ["gone@example.net", "ann@example.net"], at=clock.now())
            await queue(store, ["ann@example.net"] * 2, at=clock.now(), prefix="later")
            await worker(store, transport, clock, hard_bounce_limit=3).deliver_due()

            async def due(conn: aiosqlite.Connection) -> list[float]:
                async with conn.execute(
                    "SELECT next_attempt_at FROM outbox WHERE status = 'queued' ORDER BY id"
                ) as cur:
                    return [float(r[0]) for r in await cur.fetchall()]

            waits = [w - clock.now().timestamp() for w in await store.read(due)]
        finally:
            await transport.aclose()
    statuses = await rows(store)
    assert [s[1] for s in statuses] == ["failed", "failed", "queued", "queued"]
    assert "5.1.3 the recipient's address was refused" in statuses[0][3]
    assert "SendGrid refused the message: HTTP 413 Payload Too Large" in statuses[1][3]
    assert "limiting the rate" in statuses[2][3] and "HTTP 503" in statuses[3][3]
    # The rate limit's reset time and the 503's Retry-After, not the 30 s backoff.
    assert 80 <= waits[0] <= 91 and 119 <= waits[1] <= 121, waits
    # Only the refusal of the address is held against it, not a message too large.
    assert await hard_bounces(store, "gone@example.net") == 1
    assert await hard_bounces(store, "ann@example.net") == 0


@pytest.mark.asyncio
async def test_sendgrid_refused_key_sender_or_permission_is_held_never_a_bounce(
    tmp_path: Path, store: Store
) -> None:
    await stored(store, "ann@example.net")
    clock = FakeClock()
    wrong = "SG.0000000000000000000000.00000000000000000000000000000000000000wxyz"
    unverified = MESSAGE.replace(b"<comments@example.org>", b"<comments@blog.example.net>")
    async with serving(tmp_path) as fake:
        refused, unsent, sender = (
            _sendgrid(fake, wrong),
            _sendgrid(fake, SENDGRID_NO_SEND),
            _sendgrid(fake),
        )
        try:
            with pytest.raises(TemporaryDeliveryError) as key:
                await refused.send("b@example.org", "ann@example.net", MESSAGE)
            with pytest.raises(TemporaryDeliveryError, match="not tried"):
                await refused.send("b@example.org", "ann@example.net", MESSAGE)
            with pytest.raises(TemporaryDeliveryError, match="Mail Send permission"):
                await unsent.send("b@example.org", "ann@example.net", MESSAGE)
            with pytest.raises(TemporaryDeliveryError, match="not a verified Sender") as who:
                await sender.send("b@example.org", "ann@example.net", unverified)
            await queue(store, ["ann@example.net"], at=clock.now())
            await worker(store, refused, clock, hard_bounce_limit=1).deliver_due()
        finally:
            for transport in (refused, unsent, sender):
                await transport.aclose()
    detail = key.value.detail
    assert "SendGrid refused the API key ***wxyz" in detail and wrong not in detail
    assert "outbound.api_key" in detail and "api.eu.sendgrid.com" in detail
    assert "Sender Authentication" in who.value.detail and "outbound.from" in who.value.detail
    assert [r.status for r in fake.received] == [401, 403, 403]  # the hold asked nothing
    assert (await rows(store))[0][1] == "queued"
    assert await hard_bounces(store, "ann@example.net") == 0


@pytest.mark.asyncio
async def test_check_config_asks_sendgrid_for_the_keys_permissions(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        probes = []
        for key in (SENDGRID_KEY, SENDGRID_NO_SEND, "SG.wrong.wrong-0000000000000000000000wxyz"):
            transport = _sendgrid(fake, key)
            try:
                probes.append(await transport.check())
            finally:
                await transport.aclose()
        url = fake.url
    gone = SendgridTransport(ApiConfig(key=SENDGRID_KEY, base_url=url, ca_file=fake.ca.ca_file))
    try:
        probes.append(await gone.check())  # the fake has stopped: nothing answers
    finally:
        await gone.aclose()
    assert [p.status for p in probes] == ["ok", "problem", "problem", "unknown"]
    assert "allowed Mail Send; nothing was sent" in probes[0].said
    assert "may not send (no mail.send" in probes[1].said
    assert "refused the API key ***wxyz" in probes[2].said
    assert fake.accepted() == []


def test_sendgrid_urls_and_keys() -> None:
    sendgrid = api_transport("sendgrid://", ApiConfig(key=SENDGRID_KEY))
    assert sendgrid.url == "https://api.sendgrid.com/v3/mail/send"  # type: ignore[union-attr]
    eu = api_transport(
        "sendgrid://", ApiConfig(key=SENDGRID_KEY, base_url="https://api.eu.sendgrid.com/")
    )
    assert eu.url == "https://api.eu.sendgrid.com/v3/mail/send"  # type: ignore[union-attr]
    for wrong, said in (
        ("sendgrid://api.sendgrid.com", "expected sendgrid://"),
        ("sendgrid://?region=eu", "unknown query"),
    ):
        with pytest.raises(ConfigError, match=said):
            api_transport(wrong, ApiConfig(key=SENDGRID_KEY))
    with pytest.raises(ConfigError, match="sendgrid:// needs outbound.api_key"):
        api_transport("sendgrid://", ApiConfig())
    assert (
        transport_shown("sendgrid://", SENDGRID_KEY) == f"sendgrid:// (key ***{SENDGRID_KEY[-4:]})"
    )
    assert KEY  # the other services' fakes still answer alongside


def test_sendgrid_events_name_the_send_by_its_x_message_id() -> None:
    (event,) = sendgrid_events(
        [{"email": "ann@example.net", "event": "bounce", "sg_event_id": "ZXZlbnQ",
          "sg_message_id": "W1mp6BBVRimYG5sMYqeB0A.filterdrecv-5645d9c87f-6r9hr-1-62A1.0",
          "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "type": "bounce",
          "status": "5.1.1", "reason": "550 5.1.1 User unknown"}]
    )  # fmt: skip
    assert event.provider_id == "W1mp6BBVRimYG5sMYqeB0A"


@pytest.mark.asyncio
async def test_sendgrid_refusing_the_reply_address_holds_the_mail(
    tmp_path: Path, store: Store
) -> None:
    # Every notification carries the reply address (smtp.reply_domain): a refusal of it
    # is the setting's, and failing each message for it would lose every one of them.
    await stored(store, "ann@example.net")
    clock = FakeClock()
    async with serving(tmp_path) as fake:
        transport = _sendgrid(fake)
        fake.script += [(400, _errors("The reply_to email does not contain a valid address.",
                                      "reply_to.email"), {})]  # fmt: skip
        try:
            with pytest.raises(TemporaryDeliveryError, match="smtp.reply_domain"):
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
            await queue(store, ["ann@example.net"], at=clock.now())
            await worker(store, transport, clock, hard_bounce_limit=1).deliver_due()
        finally:
            await transport.aclose()
    assert [r.status for r in fake.received] == [400]  # held: the queued one not tried
    assert (await rows(store))[0][1] == "queued"
    assert await hard_bounces(store, "ann@example.net") == 0
