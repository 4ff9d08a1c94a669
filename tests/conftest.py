from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from programs import REQUIRE_ENV, missing, requires_program
from support import (
    SinkHandler,
    free_port,
    from_template,
    import_seed,
    make_settings,
    no_dmarc_zone,
)

from mailbridge.app import Running, running
from mailbridge.settings import Settings
from mailbridge.store import Store

# Unclosed resources are charged to the test that leaked them (tests/leaks.py);
# tests/pg.py starts the PostgreSQL server of the tests that need one.
# wordpress_site and dovecot_server: their session fixtures registered once, here.
# Imported into each test module instead, a session fixture is each module's own: every
# WordPress module started a WordPress and a MariaDB of its own, all kept until the
# session ended (eight at once on the WordPress tests' worker), which slowed the next
# starts past their waits. tests/test_plugins.py checks that no module imports them.
pytest_plugins = ["leaks", "pg", "wordpress_site", "dovecot_server"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=("sqlite", "postgresql"),
        default=None,
        help="the engine of the suite's stores and daemons (default: "
        "PYTEST_MAILBRIDGE_STORE, else sqlite); postgresql starts a private server",
    )


def pytest_configure(config: pytest.Config) -> None:
    engine = config.getoption("--store")
    if engine is not None:
        # An environment variable, so that tests/support.py's make_settings (no
        # fixtures there) and the daemons the tests start in subprocesses see it.
        os.environ["PYTEST_MAILBRIDGE_STORE"] = engine


@pytest.fixture(scope="session", autouse=True)
def _store_engine(request: pytest.FixtureRequest) -> None:
    """Under --store=postgresql, the session's server runs before any test."""
    if os.environ.get("PYTEST_MAILBRIDGE_STORE") == "postgresql":  # pg.store_option()
        request.getfixturevalue("pg_server")


@pytest.fixture(autouse=True)
def _no_database_url_left() -> Iterator[None]:
    """make_settings exports the test's PostgreSQL database to the commands it runs,
    and remembers each data directory's database; the next test must find neither."""
    from pg import forget_databases  # a plugin (pytest_plugins): imported once it loads

    yield
    os.environ.pop("MAILBRIDGE_DATA_URL", None)
    forget_databases()


# Under pytest-xdist (the README's command runs the suite on every core), the tests of
# a server too heavy to run twice at once share one worker (--dist loadgroup): a
# WordPress site is a PHP server and a MariaDB of its own.
_ONE_WORKER = {"wordpress_site": "wordpress"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``@pytest.mark.requires_program("chromium", package="chromium")``: skipped with
    the package to install when the program is missing (see tests/programs.py); under
    REQUIRE_EXTERNAL_TOOLS=1 left to fail in setup.

    ``@pytest.mark.sqlite_only("why")``: a test of something only SQLite has (its file,
    its PRAGMAs, its planner); skipped with the reason under ``--store=postgresql``,
    where a counterpart test, if one is meaningful, checks the same promise."""
    for item in items:
        for fixture, group in _ONE_WORKER.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))
    if os.environ.get("PYTEST_MAILBRIDGE_STORE") == "postgresql":  # pg.store_option()
        for item in items:
            for mark in item.iter_markers("sqlite_only"):
                item.add_marker(pytest.mark.skip(reason=f"SQLite only: {mark.args[0]}"))
    if os.environ.get(REQUIRE_ENV) == "1":
        return
    for item in items:
        for mark in item.iter_markers("requires_program"):
            kwargs = {**mark.kwargs, "check": tuple(mark.kwargs.get("check", ()))}
            problem = missing(*mark.args, **kwargs)
            if problem is not None:
                item.add_marker(pytest.mark.skip(reason=problem))


def pytest_runtest_setup(item: pytest.Item) -> None:
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


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A store on a SQLite file of its own, whichever engine the suite runs on: a copy
    of the migrated template (tests/support.py), opened as any existing file is."""
    await from_template(tmp_path / "mb.sqlite3")
    opened = await Store.open(tmp_path / "mb.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


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
