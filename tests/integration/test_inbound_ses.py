"""Amazon SES receiving through SNS (issue 15): SNS messages shaped as AWS documents
them, signed with an RSA key whose certificate the fake fetcher serves for the
SigningCertURL (AWS cannot be reached from tests: the fetch is the one thing faked,
behind mailbridge's interface). The string to sign is written out here from AWS's
documentation, independently of mailbridge's. A subscription is confirmed; a
notification of an SES receipt becomes the pending comment; another topic, a bad
signature, a certificate URL off AWS are refused with 401."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from flows import reply_notification
from sns_signing import CERT_URL, key_and_certificate, signed
from support import db_rows, free_port, reply_address, reply_to_notification, started

from mailbridge.clock import SystemClock
from mailbridge.inbound_webhooks import InboundWebhooks

TOPIC = "arn:aws:sns:eu-west-1:123456789012:mailbridge-replies"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    + TOPIC + "&Token=2336412f37fb687f5d51e6e2425dacbba7aa5d"
)  # fmt: skip


def ses_notification(raw: bytes, rcpt: str, *more: str) -> dict[str, str]:
    received = {
        "notificationType": "Received",
        "mail": {"timestamp": "2026-12-03T15:00:00.000Z", "source": "reader002.4a549d@example.org",
                 "messageId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1", "destination": [rcpt]},
        "receipt": {"timestamp": "2026-12-03T15:00:00.000Z", "recipients": [rcpt, *more],
                    "spamVerdict": {"status": "PASS"}, "virusVerdict": {"status": "PASS"},
                    "action": {"type": "SNS", "topicArn": TOPIC, "encoding": "BASE64"}},
        "content": base64.b64encode(raw).decode(),
    }  # fmt: skip
    return {
        "Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": TOPIC, "Subject": "Amazon SES Email Receipt Notification",
        "Message": json.dumps(received), "Timestamp": "2026-12-03T15:00:01.000Z",
    }  # fmt: skip


@pytest.mark.asyncio
async def test_ses_through_sns(tmp_path: Path) -> None:
    key, pem = key_and_certificate()
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:  # stands in for AWS: its certificate, its links
        fetched.append(url)
        return pem if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"

    async with started(tmp_path, inbound_webhooks={"ses_topic_arn": TOPIC}) as daemon:
        hooks = InboundWebhooks(daemon.settings, daemon.intake, SystemClock(), fetch=fetch)
        app = web.Application()
        app.add_routes(hooks.routes())
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}/inbound/ses"
        try:

            async def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(url, data=json.dumps(body),
                                 headers={"Content-Type": "text/plain; charset=UTF-8"}) as resp,
                ):  # fmt: skip
                    return resp.status, await resp.json()

            confirmation = signed(key, {
                "Type": "SubscriptionConfirmation",
                "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
                "Token": "2336412f37fb687f5d51e6e2425dacbba7aa5d", "TopicArn": TOPIC,
                "Message": "You have chosen to subscribe to the topic " + TOPIC,
                "SubscribeURL": SUBSCRIBE_URL, "Timestamp": "2026-12-03T14:59:00.000Z",
            })  # fmt: skip
            assert (await post(confirmation))[0] == 200
            assert fetched == [CERT_URL, SUBSCRIBE_URL]

            note = await reply_notification(daemon)
            reply = reply_to_notification(
                note, "Via Amazon SES.", message_id="<ses-1@client.example>"
            )
            raw = reply.as_bytes().replace(b"\n", b"\r\n")
            status, body = await post(signed(key, ses_notification(raw, reply_address(note)), "1"))
            assert status == 200 and body["outcome"].startswith("250"), body
            got = await db_rows(
                daemon, "SELECT c.status, i.peer FROM comments c JOIN inbound_messages i "
                "ON i.comment_id = c.id WHERE c.body = ?", "Via Amazon SES.",
            )  # fmt: skip
            assert got == [("pending", "ses:127.0.0.1")]
            # Every recipient the receipt lists is delivered to (before: the first only).
            second = reply_to_notification(
                note, "Second of two recipients.", message_id="<ses-2@client.example>"
            ).as_bytes().replace(b"\n", b"\r\n")  # fmt: skip
            both = ses_notification(second, "nobody@reply.example.org", reply_address(note))
            status, body = await post(signed(key, both))
            assert status == 200 and [a[:3] for a in body["outcomes"]] == ["550", "250"], body

            # Another topic (anyone can make one, and AWS signs it too): refused.
            other = ses_notification(raw, reply_address(note))
            other["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-else"
            status, body = await post(signed(key, other))
            assert status == 401 and "not our topic" in body["message"]
            # A signature that does not verify, a certificate off AWS: refused.
            bad = signed(key, ses_notification(raw, reply_address(note)))
            bad["Message"] = bad["Message"].replace("Received", "Received ")
            status, body = await post(bad)
            assert status == 401 and "does not verify" in body["message"]
            off_aws = {**signed(key, ses_notification(raw, reply_address(note))),
                       "SigningCertURL": "https://attacker.example/cert.pem"}  # fmt: skip
            status, body = await post(off_aws)
            assert status == 401 and "not an https URL of an SNS host" in body["message"]
            assert fetched == [CERT_URL, SUBSCRIBE_URL]  # the certificate kept, nothing else
        finally:
            await runner.cleanup()
