"""The PostgreSQL server drops the daemon's connections (a restart, a failover, an
idle timeout): the next transaction connects again, and nobody sees an error."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import psycopg
import pytest
from integration.test_web_guard import BODY, post
from support import THREAD, import_seed, make_settings

from mailbridge.app import running


def drop_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            # only the daemon's connections: an autovacuum worker on this database
            # is a superuser's, and terminating it is refused (and beside the point)
            "AND backend_type = 'client backend' AND usename = current_user"
        ).fetchall()
    return len(rows)


@pytest.mark.asyncio
async def test_dropped_connections_are_made_again(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, data_url=pg_url)
    await import_seed(settings)
    async with running(settings) as daemon:
        host, port = daemon.http_address
        for round_ in range(2):
            assert drop_connections(pg_url) >= 2  # the writer and the reader at least
            status, body, _h = await post(daemon, {**BODY, "email": f"r{round_}@example.com"})
            assert status == 202, body  # a write: the writer connected again
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://{host}:{port}/healthz") as resp,
            ):
                assert resp.status == 200, await resp.text()
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://{host}:{port}/api/threads/{THREAD}/comments") as resp,
            ):
                assert resp.status == 200, await resp.text()  # a read works too
    assert "connected to" in caplog.text and "again" in caplog.text
    assert "Traceback" not in caplog.text
