"""The SNS signing certificates kept in memory are bounded. SigningCertURL is not
among the fields SNS signs: anyone who knows the topic (an ARN, not a secret) could
send the same signed message again naming SNS's certificate under a new query string
each time, and each URL stayed in the cache for good (memory without bound)."""

from __future__ import annotations

import asyncio

from mailbridge.inbound_webhooks.ses import MAX_CERTIFICATES, SnsVerifier
from tests.sns_signing import CERT_URL, key_and_certificate, signed

TOPIC = "arn:aws:sns:eu-west-1:123456789012:mailbridge"


def test_certificates_named_under_ever_new_urls_stay_bounded() -> None:
    key, pem = key_and_certificate()
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        return pem

    verifier = SnsVerifier(TOPIC, fetch)
    message = signed(
        key,
        {
            "Type": "Notification",
            "MessageId": "m-1",
            "TopicArn": TOPIC,
            "Message": "{}",
            "Timestamp": "2026-12-07T16:00:00.000Z",
        },
    )

    async def flood() -> None:
        for n in range(MAX_CERTIFICATES * 10):
            await verifier.verify({**message, "SigningCertURL": f"{CERT_URL}?n={n}"})
        # The usual URL, again and again: fetched once, kept while in use.
        for _ in range(3):
            await verifier.verify(message)

    asyncio.run(flood())
    assert len(verifier._keys) <= MAX_CERTIFICATES
    assert fetched.count(CERT_URL) == 1
    assert len(fetched) == MAX_CERTIFICATES * 10 + 1
