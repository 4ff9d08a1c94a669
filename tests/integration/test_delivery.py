"""The outbox and its worker against a real SMTP sink: sent, retried, failed, never lost."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import aiosqlite
import pytest
from support import FakeClock, SinkHandler, free_port, make_settings

from mailbridge.outbound.transport import MaildirTransport, SmtpTransport, transport_from_url
from mailbridge.outbound.worker import DeliveryWorker, backoff_seconds
from mailbridge.settings import OutboundSettings
from mailbridge.status import status_lines
from mailbridge.store import Store, outbox


async def status(store: Store, tmp_path: Path, clock: FakeClock) -> str:
    """What `mailbridge status` prints about this store (its lines, joined)."""
    settings = make_settings(tmp_path)
    return "\n".join(await store.read(lambda c: status_lines(c, settings, clock.now())))


async def queue(store: Store, clock: FakeClock, n: int) -> None:
    for i in range(n):
        out = outbox.Outgoing(
            kind="test",
            comment_id=None,
            message_id=f"<m{i}@test>",
            mail_from="b@example.org",
            rcpt_to=f"r{i}@example.net",
            message=f"Message-ID: <m{i}@test>\r\nSubject: {i}\r\n\r\nbody {i}\r\n".encode(),
        )
        await store.write(
            lambda c, out=out: outbox.enqueue(
                c, out, clock.now().timestamp(), clock.now().isoformat()
            )
        )


async def rows(store: Store) -> list[tuple[object, ...]]:
    async def work(conn: aiosqlite.Connection) -> list[tuple[object, ...]]:
        async with conn.execute(
            "SELECT message_id, status, attempts, last_error FROM outbox ORDER BY id"
        ) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    return await store.read(work)


def worker(store: Store, port: int, clock: FakeClock, **settings: float) -> DeliveryWorker:
    return DeliveryWorker(
        store,
        SmtpTransport("127.0.0.1", port),
        OutboundSettings(**settings),
        clock,
        random.Random(1),
    )


@pytest.mark.asyncio
async def test_sent_through_a_real_relay(
    tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    clock = FakeClock()
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await queue(store, clock, 3)
        assert await worker(store, port, clock).deliver_due() == 3
        assert sink.message_ids() == ["<m0@test>", "<m1@test>", "<m2@test>"]
        assert [r[1:3] for r in await rows(store)] == [("sent", 1)] * 3
        assert sink.received[0][:2] == ("b@example.org", ["r0@example.net"])
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_temporary_failures_are_retried_with_backoff(
    tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    sink.refuse_next = ["451 4.3.0 try later", "421 4.7.0 busy"]
    clock = FakeClock()
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await queue(store, clock, 1)
        w = worker(store, port, clock, retry_base_seconds=30, retry_max_seconds=3600)
        await w.deliver_due()
        [(_mid, status, attempts, error)] = await rows(store)
        assert (status, attempts) == ("queued", 1) and "451" in str(error)
        assert await w.deliver_due() == 0  # not due yet
        clock.advance(40)  # first delay is 30 s ± 25 %
        await w.deliver_due()
        assert (await rows(store))[0][1:3] == ("queued", 2)
        clock.advance(30)
        assert await w.deliver_due() == 0  # second delay is 60 s ± 25 %
        clock.advance(50)
        await w.deliver_due()
        assert (await rows(store))[0][1:4] == ("sent", 3, None)
        assert sink.message_ids() == ["<m0@test>"]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_relay_down_then_up(tmp_path: Path, smtp_sink: tuple[SinkHandler, int]) -> None:
    sink, port = smtp_sink
    clock = FakeClock()
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await queue(store, clock, 2)
        down = worker(store, free_port(), clock)  # nothing listens there
        await down.deliver_due()
        assert [r[1] for r in await rows(store)] == ["queued", "queued"]
        shown = await status(store, tmp_path, clock)
        assert "Recent errors: 2 email(s) being retried, the last error: " in shown
        assert "Last email sent: none yet" in shown
        clock.advance(3600)
        await worker(store, port, clock).deliver_due()
        assert [r[1] for r in await rows(store)] == ["sent", "sent"]
        assert len(sink.received) == 2
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_permanent_failure_is_recorded_with_the_relays_answer(
    tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    sink.refuse_next = ["550 5.1.1 no such user here"]
    clock = FakeClock()
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await queue(store, clock, 2)
        await worker(store, port, clock).deliver_due()
        got = await rows(store)
        assert (
            got[0][1] == "failed" and "550" in str(got[0][3]) and "no such user" in str(got[0][3])
        )
        assert got[1][1] == "sent"
        shown = await status(store, tmp_path, clock)
        assert "Recent errors: 1 email(s) failed for good in 24 hours, the last: " in shown
        assert "no such user here" in shown
        clock.advance(10 * 3600)
        assert await worker(store, port, clock).deliver_due() == 0  # never retried
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_gives_up_after_the_configured_time_but_keeps_the_row(tmp_path: Path) -> None:
    clock = FakeClock()
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await queue(store, clock, 1)
        w = worker(store, free_port(), clock, give_up_hours=1, retry_max_seconds=600)
        for _ in range(20):
            await w.deliver_due()
            clock.advance(700)
        [(_mid, status, attempts, error)] = await rows(store)
        assert status == "failed" and "gave up" in str(error)
        assert isinstance(attempts, int) and attempts >= 6
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_crash_mid_send_resends_with_the_same_message_id(
    tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    clock = FakeClock()
    path = tmp_path / "mb.sqlite3"
    store = await Store.open(path)
    await queue(store, clock, 2)
    # Lease as the worker does, then "crash" before recording the outcome.
    await store.write(lambda c: outbox.lease_due(c, clock.now().timestamp(), 1))
    await store.close()
    store = await Store.open(path)
    try:
        w = worker(store, port, clock)
        assert await store.write(outbox.release_stale) == 1
        await w.deliver_due()
        assert sorted(sink.message_ids()) == ["<m0@test>", "<m1@test>"]
        assert [r[1] for r in await rows(store)] == ["sent", "sent"]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_maildir_transport_writes_complete_files(tmp_path: Path) -> None:
    transport = transport_from_url(f"maildir:{tmp_path / 'box'}")
    assert isinstance(transport, MaildirTransport)
    await transport.send("b@example.org", "r@example.net", b"Subject: hi\r\n\r\nbody\r\n")
    [path] = list((tmp_path / "box" / "new").iterdir())
    assert path.read_bytes().startswith(b"Return-Path: <b@example.org>\r\nDelivered-To: r@")
    assert list((tmp_path / "box" / "tmp").iterdir()) == []
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.asyncio
async def test_maildir_transport_makes_its_directories_again_when_they_go(
    tmp_path: Path,
) -> None:
    """Its directories are made once, not at every message; an operator who empties or
    removes the Maildir while the daemon runs still gets the next message in it."""
    box = tmp_path / "box"
    transport = transport_from_url(f"maildir:{box}")
    await transport.send("b@example.org", "r@example.net", b"Subject: 1\r\n\r\none\r\n")
    shutil.rmtree(box)
    await transport.send("b@example.org", "r@example.net", b"Subject: 2\r\n\r\ntwo\r\n")
    [path] = list((box / "new").iterdir())
    assert path.read_bytes().endswith(b"Subject: 2\r\n\r\ntwo\r\n")
    assert sorted(p.name for p in box.iterdir()) == ["cur", "new", "tmp"]
    shutil.rmtree(box / "new")  # new/ alone gone: the rename finds it again
    await transport.send("b@example.org", "r@example.net", b"Subject: 3\r\n\r\nthree\r\n")
    [path] = list((box / "new").iterdir())
    assert path.read_bytes().endswith(b"three\r\n")
    assert list((box / "tmp").iterdir()) == []


def test_backoff_doubles_caps_and_jitters() -> None:
    rng = random.Random(0)
    delays = [backoff_seconds(n, 30, 3600, rng) for n in range(1, 12)]
    assert 22 <= delays[0] <= 38
    assert 45 <= delays[1] <= 75
    assert all(d <= 4500 for d in delays)
    assert delays[-1] >= 2700


def test_smtp_url_parsing() -> None:
    transport = transport_from_url("smtp://relay.example:2525")
    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port) == ("relay.example", 2525)
    assert make_settings(Path("/tmp")).transport_url.startswith("maildir:")
