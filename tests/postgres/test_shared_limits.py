"""Per-IP limits of the web's doors hold across daemons sharing a PostgreSQL database:
behind a load balancer a client gets the limit once, not once per daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from integration.test_web_guard import BODY, post
from support import import_seed, make_settings

from mailbridge.app import running
from mailbridge.store import rate_hits


@pytest.mark.asyncio
async def test_two_daemons_count_one_limit(pg_url: str, tmp_path: Path) -> None:
    limits = {"web_comments_per_ip_per_hour": 3}
    first = make_settings(tmp_path / "a", data_url=pg_url, limits=limits)
    await import_seed(first)
    second = make_settings(
        tmp_path / "b", data_url=pg_url, limits=limits, secret_file=str(first.secret_path)
    )
    async with running(first) as a, running(second) as b:
        statuses = []
        for n in range(5):  # alternately to each daemon
            status, _body, _h = await post((a, b)[n % 2], {**BODY, "email": f"p{n}@example.com"})
            statuses.append(status)
        assert statuses == [202, 202, 202, 429, 429]

        async def clients(conn: Any) -> list[str]:
            async with conn.execute("SELECT DISTINCT client FROM rate_hits") as cur:
                return [str(r[0]) for r in await cur.fetchall()]

        stored = await a.store.read(clients)
        assert len(stored) == 1 and "127.0.0.1" not in stored[0], "a keyed hash, not the address"


@pytest.mark.asyncio
async def test_hits_expire_with_their_window(pg_url: str, tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, data_url=pg_url)) as daemon:
        hit = rate_hits.hit
        assert await daemon.store.write(lambda c: hit(c, "s", "x", 1000.0, 1, 3600.0)) is None
        assert await daemon.store.write(lambda c: hit(c, "s", "x", 1001.0, 1, 3600.0)) == 3599
        assert await daemon.store.write(lambda c: hit(c, "s", "x", 4600.5, 1, 3600.0)) is None
        assert await daemon.store.write(lambda c: rate_hits.purge(c, 5000.0)) == 1
