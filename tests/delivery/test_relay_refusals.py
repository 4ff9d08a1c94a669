"""The relay refusing a recipient during the dialogue: counted as the bounce it is."""

from __future__ import annotations

from typing import Any

import aiosqlite
import pytest
from delivery.outboxkit import queue, rows, worker
from delivery.sinks import WatchingSink, serving
from support import FakeClock

from mailbridge.outbound.relay import RelayConfig, SmtpTransport
from mailbridge.store import Store, threads

UNKNOWN = (
    "550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown in local "
    "recipient table"
)


async def _stored(store: Store, *emails: str) -> None:
    async def work(conn: aiosqlite.Connection) -> None:
        for email in emails:
            await threads.upsert_address(conn, email, "2026-01-01T00:00:00+00:00")

    await store.write(work)


async def _state(store: Store, email: str) -> Any:
    return await store.read(lambda conn: threads.address_state(conn, email=email))


@pytest.mark.asyncio
async def test_user_unknown_at_rcpt_suppresses_the_address(store: Store) -> None:
    await _stored(store, "gone@example.net", "ann@example.net")
    sink = WatchingSink()
    sink.rcpt_answers["gone@example.net"] = UNKNOWN
    clock = FakeClock()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            await queue(store, ["gone@example.net", "ann@example.net"], at=clock.now())
            await worker(store, transport, clock, hard_bounce_limit=2).deliver_due()
            await queue(store, ["gone@example.net"], at=clock.now(), prefix="second")
            await worker(store, transport, clock, hard_bounce_limit=2).deliver_due()
            # Two hard refusals (inbound.hard_bounce_limit): the next one is not tried.
            await queue(store, ["gone@example.net"], at=clock.now(), prefix="third")
            await worker(store, transport, clock, hard_bounce_limit=2).deliver_due()
        finally:
            await transport.aclose()
    assert sink.rcpts.count("gone@example.net") == 2
    assert sink.message_ids() == ["<m1@test>"]  # ann's, delivered
    gone = await _state(store, "gone@example.net")
    assert gone.hard_bounces == 2 and gone.suppressed_at is not None
    ann = await _state(store, "ann@example.net")
    assert (ann.hard_bounces, ann.soft_bounces, ann.suppressed_at) == (0, 0, None)
    statuses = [(mid, status, error) for mid, status, _attempts, error in await rows(store)]
    assert statuses[0] == ("<m0@test>", "failed", UNKNOWN)
    assert statuses[2] == ("<second0@test>", "failed", UNKNOWN)
    assert statuses[3][1] == "failed" and "suppressed" in statuses[3][2]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "mail, rcpt, data",
    [
        (None, "554 5.7.1 <ann@example.net>: Relay access denied", None),  # our set-up
        (None, "550 5.7.1 Service unavailable; client host blocked", None),  # our reputation
        (None, None, "554 5.6.0 Message rejected: content"),  # the message, at DATA
        # A submission server that ties the sender to the login (docs/delivery.md).
        ("553 5.7.1 <b@example.org>: Sender address rejected: not owned by user blog", None, None),
        (None, None, "554 Message rejected: Email address is not verified."),  # SES
    ],
)
async def test_refusals_about_us_or_the_message_are_not_held_against_the_recipient(
    store: Store, mail: str | None, rcpt: str | None, data: str | None
) -> None:
    await _stored(store, "ann@example.net")
    sink = WatchingSink()
    if mail:
        sink.mail_answers = [mail] * 4  # a refusal on a kept connection is asked again
    if rcpt:
        sink.rcpt_answers["ann@example.net"] = rcpt
    if data:
        sink.refuse_next = [data, data]
    clock = FakeClock()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            await queue(store, ["ann@example.net"] * 2, at=clock.now())
            await worker(store, transport, clock, hard_bounce_limit=1).deliver_due()
        finally:
            await transport.aclose()
    assert {status for _mid, status, _a, _e in await rows(store)} == {"failed"}
    ann = await _state(store, "ann@example.net")
    assert (ann.hard_bounces, ann.suppressed_at) == (0, None)
