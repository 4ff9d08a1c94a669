"""An undo on one daemon while a co-moderator's decision commits on another (two MX
hosts on one PostgreSQL database): the undo waits for the other transaction, then
sees the newer decision and changes nothing. It read the old status and overwrote the
reject when its UPDATE got the row: a rejected comment published again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flows import post_comment
from support import import_seed, make_settings, no_dmarc_zone

from mailbridge.app import running
from mailbridge.clock import iso
from mailbridge.models import Channel, CommentStatus, Decider
from mailbridge.store import decisions
from mailbridge.store.opening import open_store
from mailbridge.tokens import Action

CLI = Decider(Channel.CLI, None)


async def waiting_on_a_lock(conn: Any) -> int:
    async with conn.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    ) as cur:
        row = await cur.fetchone()
    return int(row[0])


@pytest.mark.asyncio
async def test_an_undo_waits_for_a_decision_in_flight_and_respects_it(
    pg_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, data_url=pg_url)
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        cid = await post_comment(daemon, parent=2, body="Approved, then rejected elsewhere.")
        approved = await daemon.service.moderate(cid, Action.APPROVE, CLI)
        assert approved.decision_id is not None
        other = await open_store(settings)  # the other daemon's writer
        try:
            held, release = asyncio.Event(), asyncio.Event()

            async def reject(conn: Any) -> None:
                await conn.execute("UPDATE comments SET status = 'rejected' WHERE id = ?", (cid,))
                now = iso(datetime.now(UTC))
                await decisions.record(
                    conn, cid, CommentStatus.APPROVED, CommentStatus.REJECTED, CLI, now
                )
                held.set()
                await release.wait()  # uncommitted while the undo comes

            rejecting = asyncio.create_task(other.write(reject))
            await asyncio.wait_for(held.wait(), 30)  # bounded; a failure in reject ends it
            undoing = asyncio.create_task(
                daemon.service.undo(
                    cid, CommentStatus.APPROVED, CommentStatus.PENDING, CLI, approved.decision_id
                )
            )
            for _ in range(400):  # bounded: until the undo waits for the reject's lock
                if await other.read(waiting_on_a_lock):
                    break
                assert not undoing.done(), undoing
                await asyncio.sleep(0.025)
            else:
                raise AssertionError("the undo never waited for the row")
            release.set()
            await asyncio.wait_for(rejecting, 30)
            assert await asyncio.wait_for(undoing, 30) is None  # decided since: not undone
        finally:
            await other.close()

        async def status(conn: Any) -> str:
            async with conn.execute("SELECT status FROM comments WHERE id = ?", (cid,)) as cur:
                row = await cur.fetchone()
            return str(row[0])

        assert await daemon.store.read(status) == "rejected"
