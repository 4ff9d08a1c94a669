"""The delivery worker as its own process, for the kill test.

    python kill_worker.py DATABASE PORT DEADLINE_SECONDS

Builds the store and a worker on DATABASE, delivers to 127.0.0.1:PORT, and exits 0
once no row is queued or being sent (or 3 at the deadline). The test SIGKILLs it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiosqlite

from mailbridge.clock import SystemClock
from mailbridge.outbound.relay import RelayConfig, SmtpTransport
from mailbridge.outbound.worker import DeliveryWorker
from mailbridge.settings import OutboundSettings
from mailbridge.store import Store

CONCURRENCY = 4
PER_DOMAIN = 2
LEASE_SECONDS = 1.0  # short, so a restart takes back the killed worker's rows soon


async def _unfinished(conn: aiosqlite.Connection) -> int:
    async with conn.execute(
        "SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')"
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def main(database: Path, port: int, deadline: float) -> int:
    store = await Store.open(database)
    transport = SmtpTransport(RelayConfig("127.0.0.1", port, timeout=10))
    worker = DeliveryWorker(
        store,
        transport,
        OutboundSettings(retry_base_seconds=0.2, retry_max_seconds=1.0),
        SystemClock(),
        concurrency=CONCURRENCY,
        per_domain=PER_DOMAIN,
        lease_seconds=LEASE_SECONDS,
    )
    task = asyncio.create_task(worker.run())
    print("started", flush=True)
    end = time.monotonic() + deadline
    code = 3
    try:
        while time.monotonic() < end:
            if task.done():
                break
            if await store.read(_unfinished) == 0:
                code = 0
                break
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
        await transport.aclose()
        await store.close()
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))))
