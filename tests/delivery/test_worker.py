"""The delivery worker: concurrency with a per-domain cap, leases, suppression, signing."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from delivery.outboxkit import queue, rows, sql, worker
from delivery.sinks import WatchingSink, serving
from support import FakeClock, free_port

from mailbridge.clock import SystemClock
from mailbridge.outbound.relay import RelayConfig, SmtpTransport
from mailbridge.store import Store, outbox, outbox_operator


@pytest.mark.asyncio
async def test_per_domain_cap_and_overall_concurrency(store: Store) -> None:
    sink = WatchingSink(hold=0.1)
    domains = ["a.example", "b.example", "c.example"]
    await queue(store, [f"r{i}@{domains[i % 3]}" for i in range(18)])
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port, max_connections=10))
        try:
            w = worker(store, transport, FakeClock(), concurrency=5, per_domain=2)
            assert await w.deliver_due() == 18
        finally:
            await transport.aclose()
    assert sink.count() == 18
    assert dict(sink.peak) == {d: 2 for d in domains}  # the cap, reached and never passed
    assert sink.peak_total == 5
    assert sink.connections <= 5
    assert {r[1] for r in await rows(store)} == {"sent"}


@pytest.mark.asyncio
async def test_a_busy_domain_does_not_hold_up_the_others(store: Store) -> None:
    # The hold is long beside a connection's setup on a loaded machine: the first
    # round's four are all inside DATA before any slot frees.
    sink = WatchingSink(hold=0.2)
    # Twelve for one domain queued first, then two for another.
    await queue(store, [f"r{i}@busy.example" for i in range(12)], prefix="busy")
    await queue(store, ["x@quiet.example", "y@quiet.example"], prefix="quiet")
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            await worker(store, transport, FakeClock(), concurrency=4, per_domain=2).deliver_due()
        finally:
            await transport.aclose()
    assert len(sink.message_ids()) == 14
    # The order sends began, not the order they ended (which the relay's pace decides):
    # the quiet domain's two began in the first round, beside two of the busy one.
    order = sink.entered
    assert {order.index("<quiet0@test>"), order.index("<quiet1@test>")} <= {0, 1, 2, 3}
    busy = [m for m in order if m.startswith("<busy")]
    assert busy[:2] in (["<busy0@test>", "<busy1@test>"], ["<busy1@test>", "<busy0@test>"])


@pytest.mark.asyncio
async def test_two_workers_on_one_database_send_each_message_once(tmp_path: Path) -> None:
    path = tmp_path / "mb.sqlite3"
    first, second = await Store.open(path), await Store.open(path)
    sink = WatchingSink(hold=0.01)
    try:
        await queue(first, [f"r{i}@d{i % 4}.example" for i in range(60)])
        with serving(sink) as port:
            t1 = SmtpTransport(RelayConfig("127.0.0.1", port))
            t2 = SmtpTransport(RelayConfig("127.0.0.1", port))
            try:
                w1 = worker(first, t1, FakeClock(), concurrency=3, per_domain=2)
                w2 = worker(second, t2, FakeClock(), concurrency=3, per_domain=2)
                done = await asyncio.gather(w1.deliver_due(), w2.deliver_due())
            finally:
                await t1.aclose()
                await t2.aclose()
        assert sum(done) == 60 and all(done)  # both took part
        assert sorted(Counter(sink.message_ids()).values()) == [1] * 60
        assert {r[1:3] for r in await rows(first)} == {("sent", 1)}
    finally:
        await first.close()
        await second.close()


class GatedTransport:
    """Holds every send until the test opens the gate; counts sends per recipient."""

    description = "gated"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.sent: Counter[str] = Counter()

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> None:
        self.started.set()
        await asyncio.wait_for(self.gate.wait(), 10)
        self.sent[rcpt_to] += 1

    async def aclose(self) -> None:
        pass


# Renewed every third of it: a renewal must be more than LEASE * 2 / 3 late for the
# lease to lapse (0.3 s left a loaded machine 0.2 s).
LEASE = 1.0


@pytest.mark.asyncio
async def test_a_lease_held_and_renewed_is_never_taken(tmp_path: Path) -> None:
    path = tmp_path / "mb.sqlite3"
    first, second = await Store.open(path), await Store.open(path)
    try:
        await queue(first, ["r@example.net"])
        slow = GatedTransport()
        holder = worker(first, slow, SystemClock(), lease_seconds=LEASE)
        running = asyncio.create_task(holder.deliver_due())
        await asyncio.wait_for(slow.started.wait(), 5)
        # Well past the first lease: it was renewed meanwhile, so another worker (in
        # effect another process: its own connection) finds nothing to take.
        await asyncio.sleep(LEASE * 2.5)
        other = GatedTransport()
        other.gate.set()
        assert await worker(second, other, SystemClock(), lease_seconds=LEASE).deliver_due() == 0
        slow.gate.set()
        assert await asyncio.wait_for(running, 5) == 1
        assert slow.sent == Counter({"r@example.net": 1}) and not other.sent
        assert [r[1:3] for r in await rows(first)] == [("sent", 1)]
    finally:
        await first.close()
        await second.close()


@pytest.mark.asyncio
async def test_an_expired_lease_is_taken_back_and_sent_with_its_message_id(
    store: Store,
) -> None:
    clock = FakeClock()
    await queue(store, ["r@example.net"], at=clock.now())
    # A worker that leased the row and died: its lease runs for 60 s.
    now = clock.now().timestamp()
    await store.write(lambda c: outbox.lease_due(c, now, 1, owner="gone:1:x", lease_seconds=60))
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            w = worker(store, transport, clock)
            assert await w.deliver_due() == 0  # still leased
            assert await store.read(outbox.next_due) == pytest.approx(now + 60)
            clock.advance(61)
            assert await w.deliver_due() == 1
        finally:
            await transport.aclose()
    assert sink.message_ids() == ["<m0@test>"]
    assert [r[1:3] for r in await rows(store)] == [("sent", 2)]


@pytest.mark.asyncio
async def test_an_outcome_is_not_recorded_by_a_worker_that_lost_its_lease(store: Store) -> None:
    clock = FakeClock()
    await queue(store, ["r@example.net"], at=clock.now())
    now = clock.now().timestamp()
    [row] = await store.write(lambda c: outbox.lease_due(c, now, 1, owner="me"))
    await store.write(lambda c: outbox.release_stale(c))  # the operator, or an expiry
    assert not await store.write(lambda c: outbox.mark_failed(c, row.id, "x", owner="me"))
    assert not await store.write(lambda c: outbox.reschedule(c, row.id, now, "x", owner="me"))
    assert [r[1] for r in await rows(store)] == ["queued"]


@pytest.mark.asyncio
async def test_suppressed_recipient_is_failed_at_send_time_not_sent(store: Store) -> None:
    clock = FakeClock()
    await queue(store, ["Gone@Example.net", "ok@example.net"], at=clock.now())
    # Suppressed after the row was queued (a hard bounce arrived meanwhile).
    await sql(
        store,
        "INSERT INTO addresses (email, created_at, suppressed_at, suppressed_reason) "
        "VALUES ('gone@example.net', '2026-01-01T00:00:00+00:00', "
        "'2026-11-01T00:00:00+00:00', '3 hard bounces')",
    )
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            assert await worker(store, transport, clock).deliver_due() == 1
        finally:
            await transport.aclose()
    (gone, ok) = await rows(store)
    assert gone[1] == "failed" and gone[2] == 0
    assert "suppressed since 2026-11-01" in gone[3] and "3 hard bounces" in gone[3]
    assert "mailbridge bounces --resume gone@example.net" in gone[3]
    assert ok[1] == "sent" and sink.message_ids() == ["<m1@test>"]


@pytest.mark.asyncio
async def test_sign_is_awaited_before_every_attempt(store: Store) -> None:
    calls: list[bytes] = []

    async def sign(message: bytes) -> bytes:
        calls.append(message)
        return b"DKIM-Signature: v=1; test\r\n" + message

    clock = FakeClock()
    await queue(store, ["r@example.net"], at=clock.now())
    sink = WatchingSink()
    sink.refuse_next = ["451 4.3.0 try later"]
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            w = worker(store, transport, clock, sign=sign)
            await w.deliver_due()
            clock.advance(3600)
            await w.deliver_due()
        finally:
            await transport.aclose()
    assert len(calls) == 2 and all(c.startswith(b"Message-ID: <m0@test>") for c in calls)
    [received] = sink.received
    assert received.raw.startswith(b"DKIM-Signature: v=1; test\r\nMessage-ID: <m0@test>")
    assert [r[1:3] for r in await rows(store)] == [("sent", 2)]


@pytest.mark.asyncio
async def test_a_signing_failure_keeps_the_message_queued(store: Store) -> None:
    async def broken(message: bytes) -> bytes:
        raise ValueError("no key")

    clock = FakeClock()
    await queue(store, ["r@example.net"], at=clock.now())
    transport = GatedTransport()
    transport.gate.set()
    await worker(store, transport, clock, sign=broken).deliver_due()
    [(_mid, status, _attempts, error)] = await rows(store)
    assert status == "queued" and "signing failed" in error and "no key" in error
    assert not transport.sent


@pytest.mark.asyncio
async def test_stop_lets_sends_in_flight_finish_and_takes_nothing_new(store: Store) -> None:
    clock = FakeClock()
    await queue(store, ["a@example.net", "b@example.net", "c@example.net"], at=clock.now())
    gated = GatedTransport()
    w = worker(store, gated, clock)
    running = asyncio.create_task(w.deliver_due())
    await asyncio.wait_for(gated.started.wait(), 5)
    w.stop()
    gated.gate.set()
    assert await asyncio.wait_for(running, 5) == 1
    assert [r[1] for r in await rows(store)] == ["sent", "queued", "queued"]


@pytest.mark.asyncio
async def test_stop_gives_back_rows_leased_but_not_started(store: Store) -> None:
    # Different domains: the worker leases one to send and one to wait its turn.
    clock = FakeClock()
    await queue(store, ["a@a.example", "b@b.example", "c@c.example"], at=clock.now())
    gated = GatedTransport()
    w = worker(store, gated, clock)  # concurrency 1
    running = asyncio.create_task(w.deliver_due())
    await asyncio.wait_for(gated.started.wait(), 5)
    assert [r[1] for r in await rows(store)] == ["sending", "sending", "queued"]
    w.stop()
    gated.gate.set()
    assert await asyncio.wait_for(running, 5) == 1
    # The waiting one is queued again as if never leased: no attempt counted.
    assert [r[1:3] for r in await rows(store)] == [("sent", 1), ("queued", 0), ("queued", 0)]
    assert gated.sent == Counter({"a@a.example": 1})


@pytest.mark.asyncio
async def test_outcomes_finished_during_a_lease_round_are_all_recorded(store: Store) -> None:
    # Many short sends on four connections: every outcome lands, none twice.
    sink = WatchingSink()
    await queue(store, [f"r{i}@d{i % 7}.example" for i in range(60)])
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            w = worker(store, transport, FakeClock(), concurrency=4, per_domain=2)
            assert await w.deliver_due() == 60
        finally:
            await transport.aclose()
    assert sorted(sink.message_ids()) == sorted(f"<m{i}@test>" for i in range(60))
    assert {r[1:3] for r in await rows(store)} == {("sent", 1)}


@pytest.mark.asyncio
async def test_a_send_past_send_timeout_is_retried_later(store: Store) -> None:
    clock = FakeClock()
    await queue(store, ["r@example.net"], at=clock.now())
    never = GatedTransport()  # the gate never opens
    await worker(store, never, clock, send_timeout=0.2).deliver_due()
    [(_mid, status, _attempts, error)] = await rows(store)
    assert status == "queued" and "no outcome within" in error


@pytest.mark.asyncio
async def test_a_retried_dead_letter_gets_a_fresh_give_up_clock(store: Store) -> None:
    clock = FakeClock()
    [row_id] = await queue(store, ["r@example.net"], at=clock.now())
    clock.advance(200 * 3600)  # far past give_up_hours (120)
    await sql(
        store, "UPDATE outbox SET status = 'failed', last_error = 'gave up' WHERE id = ?", row_id
    )
    now = clock.now()
    await store.write(lambda c: outbox_operator.retry(c, row_id, now.timestamp(), now.isoformat()))
    down = SmtpTransport(RelayConfig("127.0.0.1", free_port()))  # the relay is still down
    await worker(store, down, clock).deliver_due()
    [(_mid, status, _attempts, error)] = await rows(store)
    assert status == "queued" and "gave up" not in error
