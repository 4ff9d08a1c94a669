"""Periodic jobs shared by several daemons: each run is done by exactly one of them.

Three "daemons" here are three stores opened on one database (separate connections,
as separate processes have), each running the same job every INTERVAL. The work
records who ran it and when, in the same transaction as the claim. On SQLite and on
PostgreSQL: the job ran about once per interval in all, never twice in one interval,
and the schedule outlives the daemons (a new one does not run a job not yet due).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from support import make_settings

from mailbridge.jobs import Periodic
from mailbridge.store import Store, jobs
from mailbridge.store.opening import open_store

INTERVAL = 0.25
RUN_FOR = 2.5  # seconds: about 10 runs


@pytest.fixture(params=["sqlite", "postgresql"])
def data_url(request: pytest.FixtureRequest) -> str:
    """Each engine in turn: "" is SQLite; PostgreSQL's database is made outside the
    test's event loop (tests/pg.py)."""
    return str(request.getfixturevalue("pg_url")) if request.param == "postgresql" else ""


@pytest.mark.asyncio
async def test_each_run_is_done_by_one_daemon(tmp_path: Path, data_url: str) -> None:
    settings = make_settings(tmp_path, data_url=data_url)
    opened: list[Store] = [await open_store(settings) for _ in range(3)]
    runs: list[tuple[float, str]] = []
    try:

        def job(who: str) -> Periodic:
            async def work(conn: Any) -> int:
                runs.append((time.time(), who))
                return 0

            return Periodic(
                opened[int(who)], work, INTERVAL, lambda: None, "test job",
                name="test-job", owner=who, at_start=True,
            )  # fmt: skip

        tasks = [asyncio.create_task(job(str(i)).run()) for i in range(3)]
        await asyncio.sleep(RUN_FOR)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

        times = sorted(t for t, _ in runs)
        expected = RUN_FOR / INTERVAL
        assert expected * 0.6 <= len(runs) <= expected + 2, runs
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Never two runs in one interval (a claim may be taken EARLY_SECONDS early).
        assert min(gaps) >= INTERVAL - 2 * jobs.EARLY_SECONDS, gaps
        print(f"{len(runs)} runs by {sorted({w for _, w in runs})}")

        # A daemon started now finds the job scheduled: it waits for the due time.
        due = await opened[0].read(lambda c: jobs.due_at(c, "test-job"))
        assert due is not None and due > time.time() - INTERVAL
        late = Periodic(
            opened[1], lambda c: asyncio.sleep(0, 1), INTERVAL, lambda: None, "test job",
            name="test-job", owner="late", at_start=True,
        )  # fmt: skip
        claimed = await late.run_if_due()
        assert claimed is None or due <= time.time() + jobs.EARLY_SECONDS
    finally:
        for store in opened:
            await store.close()


@pytest.mark.asyncio
async def test_a_failed_run_keeps_its_due_time(tmp_path: Path) -> None:
    """The claim and the work commit together: a run that fails is still due."""
    store = await open_store(make_settings(tmp_path))
    try:

        async def fails(conn: Any) -> int:
            raise RuntimeError("the work failed")

        job = Periodic(
            store, fails, 3600.0, lambda: None, "failing job", name="failing", owner="me"
        )
        await store.write(lambda c: jobs.schedule(c, "failing", time.time() - 1))
        with pytest.raises(RuntimeError):
            await job.run_if_due()
        due = await store.read(lambda c: jobs.due_at(c, "failing"))
        assert due is not None and due <= time.time()

        async def works(conn: Any) -> int:
            return 3

        job = Periodic(store, works, 3600.0, lambda: None, "job", name="failing", owner="me")
        assert await job.run_if_due() == 3
        assert await job.run_if_due() is None  # due again only in an hour
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_new_job_waits_for_its_first_interval(tmp_path: Path) -> None:
    """A digest or a spam report new to the database runs after one interval, not at
    the daemon's start; housekeeping (at_start) runs at once."""
    store = await open_store(make_settings(tmp_path))
    runs: list[str] = []
    try:

        def job(name: str, at_start: bool) -> Periodic:
            async def work(conn: Any) -> int:
                runs.append(name)
                return 0

            return Periodic(
                store, work, 3600.0, lambda: None, name, name=name, owner="me", at_start=at_start
            )

        await job("report", at_start=False).start()
        await job("housekeeping", at_start=True).start()
        assert runs == ["housekeeping"]
        due = await store.read(lambda c: jobs.due_at(c, "report"))
        assert due is not None and due > time.time() + 3500
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_clock_set_back_does_not_stop_the_job(tmp_path: Path) -> None:
    """A host that booted with its clock a year ahead (no RTC battery) and ran the
    digest set its next due time a year ahead; once NTP put the clock right, no digest,
    spam report or housekeeping ran until then. A due time further ahead than a run
    now would set can only come from such a clock: the job runs, once."""
    store = await open_store(make_settings(tmp_path))
    wall = [time.time() + 365 * 86400.0]
    runs: list[float] = []
    try:

        async def work(conn: Any) -> int:
            runs.append(wall[0])
            return 0

        job = Periodic(
            store, work, 3600.0, lambda: None, "digest", name="digest", owner="me",
            at_start=True, now=lambda: wall[0],
        )  # fmt: skip
        await job.start()
        assert len(runs) == 1
        wall[0] = time.time()  # NTP corrects the clock
        assert await job.run_if_due() == 0
        assert await job.run_if_due() is None  # and then every interval again
        assert len(runs) == 2
        due = await store.read(lambda c: jobs.due_at(c, "digest"))
        assert due is not None and wall[0] < due <= wall[0] + 3600.0
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_the_start_up_run_does_not_wait_for_its_then(tmp_path: Path) -> None:
    """``then`` (housekeeping: the rest of a backlog, batch after batch, for minutes)
    after the run at start: before, start() awaited it, and the daemon said it had
    started only once a backlog was gone. Now start() returns after the run's commit,
    and the job's loop runs ``then`` first thing."""
    store = await open_store(make_settings(tmp_path))
    released, entered, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()
    worked: list[str] = []

    async def work(conn: Any) -> int:
        worked.append("work")
        return 0

    async def then() -> None:
        entered.set()
        await released.wait()
        worked.append("then")
        finished.set()

    job = Periodic(
        store, work, 3600, lambda: None, "test job",
        name="test-job", owner="me", at_start=True, then=then,
    )  # fmt: skip
    try:
        # A bound for failing, not a timing: with then awaited it would never return.
        await asyncio.wait_for(job.start(), 30)
        assert worked == ["work"] and not entered.is_set()
        loop = asyncio.create_task(job.run())
        await asyncio.wait_for(entered.wait(), 30)
        released.set()
        await asyncio.wait_for(finished.wait(), 30)
        assert worked == ["work", "then"]
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    finally:
        await store.close()
