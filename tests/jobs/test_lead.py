"""A long-running job (IMAP inbox, WordPress bridge) runs in one daemon at a time.

Two "daemons" are two stores on one database, each with a Lead on the same job. On
SQLite and PostgreSQL: only one runs it; when that one stops cleanly the other takes
it over at once; when it dies holding the lead, the other takes over once the lead
expires, not before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from support import make_settings

from mailbridge.jobs import Lead
from mailbridge.store import Store, jobs
from mailbridge.store.opening import open_store

SECONDS = 1.5  # the lead's lifetime: renewed every 0.5 s (0.6 s was tight under load)


@pytest.fixture(params=["sqlite", "postgresql"])
def data_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_url")) if request.param == "postgresql" else ""


class Job:
    """Records which daemons run it right now, and the most at once."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.most = 0
        self.started: list[tuple[str, float]] = []

    def for_daemon(self, who: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def run() -> None:
            self.running.add(who)
            self.most = max(self.most, len(self.running))
            self.started.append((who, time.monotonic()))
            try:
                await asyncio.Event().wait()
            finally:
                self.running.discard(who)

        return run


async def wait_for(what: str, check: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_one_daemon_runs_it_and_another_takes_over(tmp_path: Path, data_url: str) -> None:
    settings = make_settings(tmp_path, data_url=data_url)
    stores: list[Store] = [await open_store(settings) for _ in range(2)]
    job = Job()
    leads = [
        Lead(s, "job", f"d{i}", job.for_daemon(f"d{i}"), seconds=SECONDS)
        for i, s in enumerate(stores)
    ]
    try:
        tasks = [asyncio.create_task(lead.run()) for lead in leads]
        await wait_for("one daemon runs it", lambda: job.running)
        await asyncio.sleep(SECONDS * 2)  # several renewals: still one
        assert job.most == 1 and len(job.running) == 1
        (first,) = job.running
        holder = int(first[1])

        # A clean stop gives the lead up: the other runs it within one renewal period.
        stopped = time.monotonic()
        tasks[holder].cancel()
        await asyncio.gather(tasks[holder], return_exceptions=True)
        await wait_for("the other takes over", lambda: job.running == {f"d{1 - holder}"})
        assert time.monotonic() - stopped < SECONDS
        assert job.most == 1

        # A daemon killed holding the lead: the job stops with it, but its lead stays
        # until it expires; only then does a new daemon run the job.
        survivor = 1 - holder
        tasks[survivor].cancel()
        await asyncio.gather(tasks[survivor], return_exceptions=True)
        now = time.time()
        await stores[survivor].write(lambda c: jobs.hold(c, "job", "dead", now, now + SECONDS))
        killed = time.monotonic()
        late = Lead(stores[holder], "job", "d9", job.for_daemon("d9"), seconds=SECONDS)
        task = asyncio.create_task(late.run())
        await wait_for("a new daemon takes over", lambda: job.running == {"d9"})
        waited = time.monotonic() - killed
        assert SECONDS * 0.8 <= waited < SECONDS * 3, waited
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert job.most == 1
    finally:
        for store in stores:
            await store.close()
