"""Several daemons build moderation emails from one queue: each claims its own batch
(SKIP LOCKED), a claim runs out so another daemon finishes a dead one's batch, and a
daemon takes back its own claim after a failed round."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support import import_seed, make_settings

from mailbridge.store import moderation_queue
from mailbridge.store.opening import open_store


@pytest.mark.asyncio
async def test_each_daemon_claims_its_own_batch(pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, data_url=pg_url)
    await import_seed(settings)
    a, b = await open_store(settings), await open_store(settings)
    try:

        async def queue(conn: Any) -> None:
            for comment_id in range(1, 11):
                await moderation_queue.add(conn, comment_id, None, "2026-12-04T10:00:00Z")

        await a.write(queue)

        def claim(owner: str, now: float, limit: int = 4) -> Any:
            return lambda c: moderation_queue.claim_batch(c, limit, owner, now, now + 120)

        # At the same moment: disjoint batches.
        first, second = await asyncio.gather(a.write(claim("a", 1000)), b.write(claim("b", 1000)))
        ids_a, ids_b = {i for i, _ in first}, {i for i, _ in second}
        assert len(ids_a) == len(ids_b) == 4 and not ids_a & ids_b
        # A third claim gets what is left; nothing claimed is handed out again.
        rest = await b.write(claim("c", 1001, limit=10))
        assert {i for i, _ in rest} == set(range(1, 11)) - ids_a - ids_b
        assert await a.write(claim("d", 1002, limit=10)) == []
        # "a" failed its round: it takes its own batch back at once.
        assert {i for i, _ in await a.write(claim("a", 1003, limit=10))} == ids_a
        # "b" died: its claim runs out, and then another daemon takes its batch.
        assert {i for i, _ in await a.write(claim("e", 1120.5, limit=10))} == ids_b
    finally:
        await a.close()
        await b.close()
