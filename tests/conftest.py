from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from programs import requires_program
from support import SinkHandler, free_port, import_seed, make_settings, no_dmarc_zone

from mailbridge.app import Running, running
from mailbridge.settings import Settings


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.requires_program("chromium", package="chromium")``: skipped with
    the package to install when the program is missing (see tests/programs.py)."""
    for mark in item.iter_markers("requires_program"):
        requires_program(*mark.args, **mark.kwargs)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest_asyncio.fixture
async def daemon(settings: Settings) -> AsyncIterator[Running]:
    """The whole daemon, in process, on free loopback ports, with the seed thread imported."""
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as started:
        yield started


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SinkHandler, int]]:
    """A real SMTP server on a free loopback port that records what it receives."""
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Free each test's garbage before the next test starts.

    With ``filterwarnings = error``, an unclosed resource (socket, database connection,
    event loop) warns when the garbage collector frees it, and pytest fails whichever
    test is running at that moment: a leak in one test failed an unrelated one in full
    runs only. Collecting here charges the leak to the test that made it.
    """
    yield
    gc.collect()
