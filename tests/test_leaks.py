"""tests/leaks.py: a leaked resource fails the test that leaked it, never the next one.

Issue 8 saw a senderauth test fail in one full run and pass alone: with warnings as
errors, a ResourceWarning is charged to whichever test runs when the object is
finalized. Here an innocent test runs right after each kind of leak (a fixture value
freed after teardown, an object in a reference cycle freed by the garbage collector),
in a pytest of its own with the project's warning filter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import ROOT

LEAKY_TESTS = """
import os

import pytest


@pytest.fixture
def pipe():
    read, write = os.pipe()
    os.close(write)
    return open(read, "rb")  # never closed


def test_leaks_a_fixture_value(pipe):
    assert pipe.readable()


def test_innocent_after_a_fixture_leak():
    assert True


class Node:
    pass


def test_leaks_in_a_cycle():
    node = Node()
    node.me = node
    node.file = open(__file__, "rb")  # never closed


def test_innocent_after_a_cycle_leak():
    assert [0] * 1000
"""


def run(tmp_path: Path, *plugins: str) -> str:
    (tmp_path / "test_leaky.py").write_text(LEAKY_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"))
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:asyncio"]
    done = subprocess.run(
        [*command, "-rA", *plugins],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout


def test_each_leak_is_charged_to_the_test_that_leaked(tmp_path: Path) -> None:
    out = run(tmp_path, "-p", "leaks")

    assert "ERROR test_leaky.py::test_leaks_a_fixture_value" in out, out
    assert "ERROR test_leaky.py::test_leaks_in_a_cycle" in out, out
    assert "PASSED test_leaky.py::test_innocent_after_a_fixture_leak" in out, out
    assert "PASSED test_leaky.py::test_innocent_after_a_cycle_leak" in out, out
    assert "ERROR test_leaky.py::test_innocent" not in out, out
    assert "4 passed, 2 errors" in out, out


def test_without_the_plugin_an_innocent_test_fails(tmp_path: Path) -> None:
    # What the plugin prevents, shown so that this file can fail: the fixture's leak
    # lands on the next test.
    out = run(tmp_path)

    assert "ERROR test_leaky.py::test_innocent_after_a_fixture_leak" in out, out
