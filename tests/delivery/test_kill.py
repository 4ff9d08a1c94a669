"""SIGKILL the delivery worker mid-batch, twice; after restarts every message reached a
real SMTP sink exactly once, except those leased at a kill: once more for each kill
they were in flight at, with the same Message-ID. Every outbox row ends sent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiosqlite
from delivery.outboxkit import queue
from delivery.sinks import WatchingSink, serving, wait_until

from mailbridge.store import Store

TOTAL = 200
DOMAINS = 5
SCRIPT = Path(__file__).with_name("kill_worker.py")


async def _queue_all(path: Path) -> None:
    store = await Store.open(path)
    try:
        await queue(store, [f"r{i}@d{i % DOMAINS}.example" for i in range(TOTAL)])
    finally:
        await store.close()


async def _by_status(path: Path) -> dict[str, set[str]]:
    async with aiosqlite.connect(path) as conn:
        async with conn.execute("SELECT status, message_id FROM outbox") as cur:
            found: dict[str, set[str]] = {}
            for status, message_id in await cur.fetchall():
                found.setdefault(status, set()).add(message_id)
            return found


@contextlib.contextmanager
def _worker_process(path: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    """The worker in its own process; killed and reaped on the way out, whatever happens."""
    with subprocess.Popen(
        [sys.executable, str(SCRIPT), str(path), str(port), "60"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "started"
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def _kill_after(proc: subprocess.Popen[str], sink: WatchingSink, delivered: int) -> None:
    wait_until(lambda: sink.count() >= delivered, 30, f"{delivered} messages at the sink")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


def test_kill_the_worker_mid_batch_and_restart(tmp_path: Path) -> None:
    path = tmp_path / "mb.sqlite3"
    asyncio.run(_queue_all(path))
    sink = WatchingSink(hold=0.02)  # a relay that takes a moment per message
    in_flight: set[str] = set()
    at_kills: list[set[str]] = []  # in flight at each kill
    started = time.monotonic()
    with serving(sink) as port:
        for kill_at in (50, 120):
            with _worker_process(path, port) as proc:
                _kill_after(proc, sink, kill_at)
            at_kill = asyncio.run(_by_status(path))
            assert 0 < sink.count() < TOTAL, "the kill must land mid-batch"
            assert at_kill.get("queued"), "some messages must still be waiting"
            in_flight |= at_kill.get("sending", set())
            at_kills.append(at_kill.get("sending", set()))
            print(
                f"kill at >= {kill_at}: sink has {sink.count()}, "
                f"sent {len(at_kill.get('sent', ()))}, in flight {len(at_kill.get('sending', ()))}"
            )
        with _worker_process(path, port) as final:
            assert final.wait(60) == 0
        time.sleep(0.1)  # the sink's thread records DATA before answering: nothing pending
    elapsed = time.monotonic() - started
    seen = Counter(sink.message_ids())
    expected = {f"<m{i}@test>" for i in range(TOTAL)}
    assert set(seen) == expected, "every message reached the sink"
    duplicates = {mid for mid, n in seen.items() if n > 1}
    assert duplicates <= in_flight, "only messages in flight at a kill were sent twice"
    # Once, and once more for each kill it was in flight at: a row leased again after
    # the first kill can be in flight at the second too (seen once under a loaded run).
    assert all(n <= 1 + sum(mid in s for s in at_kills) for mid, n in seen.items())
    # Two kills, at most twice `concurrency` leased each (as many sending as waiting).
    assert len(in_flight) <= 2 * 2 * 4
    assert asyncio.run(_by_status(path)) == {"sent": expected}
    print(
        f"{TOTAL} messages, 2 kills, {len(in_flight)} in flight at the kills, "
        f"{len(duplicates)} delivered twice, {sink.count()} deliveries, {elapsed:.1f} s"
    )
