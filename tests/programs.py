"""Programs some tests need that pip does not install (Debian packages).

A test or fixture calls :func:`requires_program` (or carries the marker of the same
name, see tests/conftest.py). When the program is missing the test is skipped with one
line naming the package to install; with REQUIRE_EXTERNAL_TOOLS=1 (set by .ci/run) the
skip becomes a failure, so CI cannot go green by skipping.

Run as a script, ``python tests/programs.py hide DIR PROGRAM...`` makes DIR/bin a copy
of the current PATH (symlinks) without PROGRAMs and prints it: .ci/run runs the suite
with that PATH to prove that a machine without the tools gets skips, not errors.
``python tests/programs.py select PROGRAM...`` prints the test files that can meet one
of them (:func:`tool_tests`): the ones that run differently without the tools.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REQUIRE_ENV = "REQUIRE_EXTERNAL_TOOLS"
_PROBE_TIMEOUT = 60


def search_path() -> str:
    """PATH, each ``…/bin`` followed by its ``…/sbin``: Debian installs opendkim in
    /usr/sbin, which is not on an ordinary user's PATH."""
    dirs: list[str] = []
    for entry in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not entry:
            continue
        dirs.append(entry)
        if os.path.basename(entry.rstrip("/")) == "bin":
            dirs.append(os.path.join(os.path.dirname(entry.rstrip("/")), "sbin"))
    return os.pathsep.join(dict.fromkeys(dirs))


def find_program(program: str) -> str | None:
    return shutil.which(program, path=search_path())


def unavailable(reason: str) -> None:
    """Skip the running test because of ``reason``; fail it when CI requires the tools."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: required here)", pytrace=False)
    pytest.skip(reason)


@functools.cache
def missing(
    program: str, *, package: str, check: tuple[str, ...] = (), what: str | None = None
) -> str | None:
    """Why ``program`` cannot be used here (one line naming the package), or None.

    ``check``: arguments that must make ``program`` exit 0 (e.g. ``-MMail::DKIM`` for
    a Perl module); ``what`` names the missing piece when it is not the program.
    """
    found = find_program(program)
    if found is not None and check:
        probe = subprocess.run(
            [found, *check], capture_output=True, timeout=_PROBE_TIMEOUT, check=False
        )
        if probe.returncode != 0:
            found = None
    if found is None:
        return f"needs {what or program} from {package}: apt-get install {package}"
    return None


def requires_program(
    program: str, *, package: str, check: Sequence[str] = (), what: str | None = None
) -> str:
    """The path of ``program``; skips (or fails, see above) when it is missing."""
    problem = missing(program, package=package, check=tuple(check), what=what)
    if problem is not None:
        unavailable(problem)
    found = find_program(program)
    assert found is not None
    return found


def hide(directory: Path, programs: Sequence[str]) -> str:
    """Make ``directory``/bin hold a symlink to every program on the search path but
    ``programs``; return it, to be used as PATH."""
    hidden = set(programs)
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for entry in search_path().split(os.pathsep):
        if not os.path.isdir(entry):
            continue
        for name in sorted(os.listdir(entry)):
            target = os.path.join(entry, name)
            link = bin_dir / name
            if name in hidden or link.exists() or link.is_symlink():
                continue
            if os.path.isfile(target) and os.access(target, os.X_OK):
                link.symlink_to(target)
    return str(bin_dir)


# Helper modules of tests/ that every test imports and that start no program of their
# own (a server a test needs has its own helper: postfix_server, dovecot_server, ...).
COMMON_HELPERS = frozenset({"support", "flows", "wire", "leaks"})
# What names a program, or the ways to need one, in a test's source.
_NEEDS = (
    "from programs import",
    "requires_program",
    "unavailable(",
    "missing(",
    "recipe_server",
    "which(",
    "wordpress",
    "mariadb",
)


def tool_tests(root: Path, programs: Sequence[str]) -> list[str]:
    """The test files under ``root`` that can meet one of ``programs``: their own text,
    their directory's conftest.py, or a helper module of ``root`` they import names
    one of them or one of the ways to need a program (:data:`_NEEDS`). Every other test
    ran the same code with the tools present. The common helpers (:data:`COMMON_HELPERS`)
    are not read, or every test would be chosen: they start no program of their own
    (tests/test_programs.py checks their string literals)."""
    words = tuple(programs) + _NEEDS
    helpers = {
        h.stem: h.read_text(encoding="utf-8")
        for h in root.glob("*.py")
        if not h.name.startswith("test_") and h.stem not in COMMON_HELPERS
    }
    helpers.pop("conftest", None)  # the marker's own code, not a use of a program
    chosen = []
    for test in sorted(root.rglob("test_*.py")):
        text = test.read_text(encoding="utf-8")
        local = test.parent / "conftest.py"
        if test.parent != root and local.exists():
            text += local.read_text(encoding="utf-8")
        for name, helper in helpers.items():
            if f"import {name}" in text or f"from {name} import" in text:
                text += helper
        if any(word in text for word in words):
            chosen.append(str(test))
    return chosen


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "hide":
        print(hide(Path(sys.argv[2]), sys.argv[3:]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "select":
        print("\n".join(tool_tests(Path(__file__).resolve().parent, sys.argv[2:])))
    else:
        sys.exit("usage: programs.py hide DIR PROGRAM... | select PROGRAM...")
