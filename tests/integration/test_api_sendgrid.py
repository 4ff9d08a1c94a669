"""A daemon that sends through SendGrid's v3 API (outbound.transport = "sendgrid://"):
the notification of an approved reply reaches the (fake) API as the JSON SendGrid
documents, with our headers and both bodies; SendGrid's X-Message-Id is kept with the
outbox row, and a bounce on the signed Event Webhook names the message by it
(sg_message_id), though SendGrid sent it with a Message-ID of its own."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from delivery.apifakes import SENDGRID_KEY, SENDGRID_NO_SEND, Fake, Received, serving
from flows import approve, post_comment
from support import db_rows, started, until

READER = "reader002.4a549d@example.org"  # seed comment 2's author: notified of answers


async def _accepted(fake: Fake, count: int) -> list[Received]:
    for _ in range(300):  # bounded: 15 s
        if len(fake.accepted()) >= count:
            break
        await asyncio.sleep(0.05)
    got = fake.accepted()
    assert len(got) >= count, [(r.status, r.fields) for r in fake.received]
    return got


def _signed(private: ec.EllipticCurvePrivateKey, events: object) -> dict[str, Any]:
    """The POST SendGrid's signed Event Webhook makes: ECDSA over timestamp + body."""
    body = json.dumps(events).encode()
    timestamp = str(int(time.time()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "data": body,
        "headers": {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        },
    }


@pytest.mark.asyncio
async def test_an_approved_reply_reaches_sendgrid_and_its_bounce_comes_back(
    tmp_path: Path,
) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    async with serving(tmp_path) as fake:
        outbound = {
            "transport": "sendgrid://",
            "api_key": SENDGRID_KEY,
            "api_url": fake.url,
            "relay_ca_file": str(fake.ca.ca_file),
        }
        async with started(
            tmp_path, outbound=outbound, inbound_webhooks={"sendgrid_event_key": public}
        ) as daemon:
            await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
            await _accepted(fake, 1)
            stored = await db_rows(daemon, "SELECT message FROM outbox_messages ORDER BY outbox_id")
            moderation = message_from_bytes(bytes(stored[0][0]), policy=policy.default)
            await approve(daemon, moderation)  # type: ignore[arg-type]
            note = next(r for r in await _accepted(fake, 2) if r.to == READER)

            async def marked_sent() -> list[tuple[object, ...]]:
                # SendGrid answered before the daemon marks the row sent with its id:
                # read once that commit is in (the bounce below is matched by that id).
                return await db_rows(
                    daemon,
                    "SELECT o.provider_id, o.message_id, m.message FROM outbox o JOIN "
                    "outbox_messages m ON m.outbox_id = o.id WHERE o.rcpt_to = ? "
                    "AND o.status = 'sent'",
                    READER,
                )

            sent = await until("the notification marked sent", marked_sent, seconds=15)
            # SendGrid's bounce: its smtp-id is a Message-ID of its own; sg_message_id
            # begins with the X-Message-Id its 202 answered.
            bounce = {
                "email": READER, "timestamp": int(time.time()), "event": "bounce",
                "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
                "sg_event_id": secrets.token_urlsafe(16),
                "sg_message_id": f"{note.answered}.filterdrecv-5645d9c87f-6r9hr-1-62A1.0",
                "reason": f"550 5.1.1 <{READER}>: Recipient address rejected: User unknown",
                "status": "5.1.1", "type": "bounce", "tls": 1,
            }  # fmt: skip
            host, port = daemon.http_address
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"http://{host}:{port}/inbound/sendgrid/events", **_signed(private, [bounce])
                ) as resp,
            ):
                status, answer = resp.status, await resp.json()
            counted = await db_rows(
                daemon, "SELECT hard_bounces FROM addresses WHERE email = ?", READER
            )
    assert fake.problems == []
    ((provider_id, message_id, raw),) = sent
    ours = message_from_bytes(bytes(raw), policy=policy.default)
    fields = note.fields
    # The JSON SendGrid got: the envelope recipient, our From, Reply-To and Subject...
    assert fields["personalizations"][0]["to"][0]["email"] == READER
    assert fields["from"]["email"] == "comments@example.org"
    assert fields["reply_to"]["email"] == ours["Reply-To"].addresses[0].addr_spec
    assert fields["subject"] == str(ours["Subject"])
    # ...both bodies, text first, with the words and links we wrote, untracked...
    assert [c["type"] for c in fields["content"]] == ["text/plain", "text/html"]
    text = ours.get_body(preferencelist=("plain",))
    assert fields["content"][0]["value"] == text.get_content()  # type: ignore[union-attr]
    assert "Ann's answer to Reader 002." in fields["content"][0]["value"]
    assert "Ann&#x27;s answer" in fields["content"][1]["value"] or (
        "Ann's answer" in fields["content"][1]["value"]
    )
    assert fields["tracking_settings"]["click_tracking"]["enable"] is False
    assert fields["tracking_settings"]["open_tracking"]["enable"] is False
    assert fields["tracking_settings"]["subscription_tracking"]["enable"] is False
    # ...and every header a mail client and a list-unsubscribe button rely on.
    headers = fields["headers"]
    for name in ("Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted",
                 "In-Reply-To", "References"):  # fmt: skip
        assert headers.get(name), (name, sorted(headers))
    assert headers["Message-ID"] == message_id
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "DKIM-Signature" not in headers and "Date" not in headers
    # The outbox row keeps SendGrid's id; its event found the message by it.
    assert provider_id == f"sendgrid:{note.answered}"
    assert status == 200, answer
    assert answer["outcomes"][0]["outcome"] in ("counted", "suppressed"), answer
    assert counted == [(1,)]


@pytest.mark.asyncio
async def test_check_config_asks_sendgrid_and_names_its_event_webhook(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mailbridge.cli import cli

    async with serving(tmp_path) as fake:

        async def check(key: str, *args: str) -> Any:
            env = {
                "MAILBRIDGE_OUTBOUND_TRANSPORT": "sendgrid://",
                "MAILBRIDGE_OUTBOUND_API_KEY": key,
                "MAILBRIDGE_OUTBOUND_API_URL": fake.url,
                "MAILBRIDGE_OUTBOUND_RELAY_CA_FILE": str(fake.ca.ca_file),
                "MAILBRIDGE_SITE_PUBLIC_URL": "https://blog.example.org",
            }
            argv = ["check-config", "--data-dir", str(tmp_path / "var"), *args]
            # check-config runs its own event loop: in a thread, as from a shell.
            return await asyncio.to_thread(CliRunner().invoke, cli, argv, env=env)

        good = await check(SENDGRID_KEY, "--api")
        unsent = await check(SENDGRID_NO_SEND, "--api")
        wrong = await check("SG.wrong.wrong-0000000000000000000000wxyz", "--api")
    assert good.exit_code == 0, good.output
    assert f"outgoing mail    sendgrid:// (key ***{SENDGRID_KEY[-4:]})" in good.output
    assert "SendGrid takes the key" in good.output and "allowed Mail Send" in good.output
    # Its events off: the operator is told which setting and which URL.
    assert "WARNING: mail goes out through SendGrid's API, but its event webhook is off" in (
        good.output
    )
    assert "Set inbound_webhooks.sendgrid_event_key" in good.output
    assert "https://blog.example.org/inbound/sendgrid/events" in good.output
    assert unsent.exit_code == 1 and "may not send (no mail.send" in unsent.output
    assert wrong.exit_code == 1 and "SendGrid refused the API key ***wxyz" in wrong.output
    assert SENDGRID_KEY not in good.output + unsent.output + wrong.output
    assert fake.accepted() == []
