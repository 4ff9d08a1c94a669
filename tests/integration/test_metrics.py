"""/metrics (issue 15): scraped from the running daemon after real traffic (a web
comment, an emailed reply over SMTP, a refused recipient, an approval and its
notification), parsed with prometheus-client's own parser, every family checked with
its values; and answered only to the networks allowed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from flows import reply_notification
from scraping import samples, scrape
from support import reply_address, reply_to_notification, smtp_send, started


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
    }
    assert got["mailbridge_wordpress_last_poll_timestamp_seconds"][()] == 0
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
