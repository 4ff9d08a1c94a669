"""A pytest plugin (loaded by tests/conftest.py): a leak fails the test that leaked.

With ``filterwarnings = error``, an unclosed resource (a file, a pipe, a socket, a
database connection) raises its ResourceWarning when it is finalized, and pytest fails
whichever test is running at that moment. Objects in reference cycles are finalized
when the garbage collector happens to run, and a test's fixture values only after the
test's teardown: so a leak failed some later, unrelated test, in full runs only, and the
test passed alone (issue 8: test_a_from_domain_that_is_no_dns_name_is_unauthenticated).

This fixture is set up before every other function-scoped fixture, so it is finalized
after them: it drops the test's fixture values and collects garbage there, inside the
leaking test's teardown, where pytest reports the warning.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _free_the_tests_resources(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    funcargs = getattr(request.node, "funcargs", None)
    if isinstance(funcargs, dict):
        funcargs.clear()  # pytest drops them later anyway, after its own checks
    gc.collect()
    # What survives belongs to longer-lived fixtures and modules: freezing it keeps
    # the next collection to the next test's objects (a full one per test made the
    # suite several times slower).
    gc.freeze()
