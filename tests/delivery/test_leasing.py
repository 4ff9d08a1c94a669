"""Fair leasing (mailbridge.store.leasing) on a real SQLite file: the per-domain cap,
oldest first, a big backlog of one domain never starving the others, and a cost that
does not grow with the backlog."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite
import pytest
from delivery.outboxkit import sql

from mailbridge.store import Store, leasing, outbox

NOW = 1_800_000_000.0


async def fill(store: Store, rcpts: Sequence[str], due: float = NOW - 60) -> None:
    """Queue one row per recipient, due at ``due``, in this order (ids ascending)."""

    async def work(conn: aiosqlite.Connection) -> None:
        start = (await (await conn.execute("SELECT count(*) FROM outbox")).fetchone() or [0])[0]
        await conn.executemany(
            "INSERT INTO outbox (kind, message_id, mail_from, rcpt_to, status, "
            "next_attempt_at, created_at) VALUES ('test', ?, 'b@example.org', ?, "
            "'queued', ?, '2026-12-04T10:00:00+00:00')",
            [(f"<{start + i}@test>", rcpt, due) for i, rcpt in enumerate(rcpts)],
        )
        await conn.execute(
            "INSERT INTO outbox_messages (outbox_id, message) SELECT id, x'00' FROM outbox "
            "WHERE id NOT IN (SELECT outbox_id FROM outbox_messages)"
        )

    await store.write(work)


async def pick(store: Store, slots: int, busy: dict[str, int], after: str = "") -> list[str]:
    """The recipients pick_fair chooses, in its order."""

    async def work(conn: aiosqlite.Connection) -> list[str]:
        ids = await leasing.pick_fair(conn, NOW, slots=slots, per_domain=2, busy=busy, after=after)
        by_id = dict(await conn.execute_fetchall("SELECT id, rcpt_to FROM outbox"))
        return [str(by_id[i]) for i in ids]

    return await store.read(work)


@pytest.mark.asyncio
async def test_oldest_first_within_the_cap(store: Store) -> None:
    await fill(store, ["a1@a.example", "a2@a.example", "a3@a.example", "b1@b.example"])
    assert await pick(store, 4, {}) == ["a1@a.example", "a2@a.example", "b1@b.example"]
    assert await pick(store, 4, {"a.example": 1}) == ["a1@a.example", "b1@b.example"]
    assert await pick(store, 1, {}) == ["a1@a.example"]
    assert await pick(store, 0, {}) == []


@pytest.mark.asyncio
async def test_rows_not_due_are_not_chosen(store: Store) -> None:
    await fill(store, ["later@a.example"], due=NOW + 60)
    await fill(store, ["now@b.example"])
    assert await pick(store, 4, {}) == ["now@b.example"]


@pytest.mark.asyncio
async def test_a_big_backlog_of_one_domain_does_not_starve_the_others(store: Store) -> None:
    # 2,000 rows for one domain queued first (far more than the head read per lease),
    # then a few for two others.
    await fill(store, [f"r{i}@big.example" for i in range(2000)])
    await fill(store, ["x1@small.example", "x2@small.example", "y1@tiny.example"])
    # The big domain at its cap: the others are found past its backlog, oldest first,
    # one per domain per round.
    assert await pick(store, 2, {"big.example": 2}) == ["x1@small.example", "y1@tiny.example"]
    assert await pick(store, 4, {"big.example": 2}) == [
        "x1@small.example",
        "y1@tiny.example",
        "x2@small.example",
    ]
    # Nothing in flight: the head gives the big domain its two, the rest go to the others.
    assert await pick(store, 4, {}) == [
        "r0@big.example",
        "r1@big.example",
        "x1@small.example",
        "y1@tiny.example",
    ]


@pytest.mark.asyncio
async def test_past_a_capped_backlog_the_domains_take_turns(store: Store) -> None:
    await fill(store, [f"r{i}@big.example" for i in range(1000)])
    small = [f"d{n:02}.example" for n in range(40)]
    await fill(store, [f"u{i}@{d}" for i in range(3) for d in small])
    seen: list[str] = []
    after = ""
    for _ in range(60):  # one slot each time, the big domain at its cap
        [rcpt] = await pick(store, 1, {"big.example": 2}, after=after)
        after = outbox.domain_of(rcpt)
        seen.append(after)
    # Every small domain had its turn before any had a second, then round again.
    assert seen[:40] == small
    assert seen[40:] == small[:20]


@pytest.mark.asyncio
async def test_the_worker_step_leases_fails_suppressed_and_takes_back(store: Store) -> None:
    await fill(store, ["gone@a.example", "ok@a.example", "ok@b.example"])
    await sql(
        store,
        "INSERT INTO addresses (email, created_at, suppressed_at) "
        "VALUES ('gone@a.example', '2026-01-01T00:00:00+00:00', '2026-11-01T00:00:00+00:00')",
    )
    await sql(store, "UPDATE outbox SET status = 'sending', lease_expires_at = ? WHERE id = 3", 1)

    async def step(conn: aiosqlite.Connection) -> leasing.Leased:
        return await leasing.lease_step(conn, NOW, slots=4, per_domain=2, busy={}, owner="me")

    leased = await store.write(step)
    assert leased.released == 1
    assert [s.message_id for s in leased.suppressed] == ["<0@test>"]
    assert [r.rcpt_to for r in leased.rows] == ["ok@a.example", "ok@b.example"]
    assert {r.attempts for r in leased.rows} == {1}


async def vm_steps(store: Store, busy: dict[str, int]) -> int:
    """SQLite virtual-machine steps for the worker's whole lease step (rolled back):
    work done, not time taken."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    class Undo(Exception):
        pass

    async def work(conn: aiosqlite.Connection) -> None:
        await conn.set_progress_handler(count, 1)
        try:
            slots = 4 - sum(busy.values())
            leased = await leasing.lease_step(
                conn, NOW, slots=slots, per_domain=2, busy=busy, owner="me"
            )
            assert len(leased.rows) == slots
        finally:
            await conn.set_progress_handler(None, 1)
        raise Undo  # the same backlog for the next call

    with pytest.raises(Undo):
        await store.write(work)
    return steps


@pytest.mark.asyncio
async def test_the_cost_of_a_lease_does_not_grow_with_the_backlog(store: Store) -> None:
    # One big domain's backlog ahead of 97 small domains: every lease must look past it.
    await fill(store, [f"r{i}@big.example" for i in range(900)])
    await fill(store, [f"s{i}@d{i % 97}.example" for i in range(100)])
    small = [await vm_steps(store, {}), await vm_steps(store, {"big.example": 2})]
    # Thirty times as many rows of the big domain, ahead of everything else.
    await fill(store, [f"e{i}@big.example" for i in range(30_000)], due=NOW - 120)
    large = [await vm_steps(store, {}), await vm_steps(store, {"big.example": 2})]
    # The same work, within a few more index levels.
    assert large[0] < small[0] * 1.5, (small, large)
    assert large[1] < small[1] * 1.5, (small, large)


@pytest.mark.asyncio
async def test_a_lease_not_renewed_because_its_row_was_sent_was_not_taken(store: Store) -> None:
    # The worker renews every row in flight; one whose outcome committed just before
    # is not renewed, and must not be reported as taken by another worker.
    await fill(store, ["a@a.example", "b@b.example", "c@c.example"])

    async def work(conn: aiosqlite.Connection) -> tuple[int, int]:
        rows = await outbox.lease_due(conn, NOW, 3, owner="me")
        ids = [r.id for r in rows]
        await outbox.mark_sent(conn, ids[0], "2026-12-04T10:00:00+00:00")
        await conn.execute("UPDATE outbox SET lease_owner = 'other' WHERE id = ?", (ids[1],))
        renewed = await outbox.renew_leases(conn, ids, "me", NOW + 60)
        return renewed, await outbox.held_by_others(conn, ids, "me")

    assert await store.write(work) == (1, 1)
