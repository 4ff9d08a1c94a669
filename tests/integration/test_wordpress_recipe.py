"""The test WordPress under load. tests/recipes/wordpress.sh: the servers it starts in
the background may not have become mariadbd and php yet when it first looks at them (the
shell has forked, the child has not run); a slow start is a start, not a failure. (One
WordPress a session: tests/test_plugins.py.)"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from programs import unavailable
from support import free_port
from wordpress_site import RECIPE, wordpress_missing

# Its own WordPress, as heavy as the fixture's: on the WordPress tests' worker.
pytestmark = pytest.mark.xdist_group("wordpress")

# Stands in for a forked child the scheduler has not run yet: for 2 s the process whose
# PID the recipe wrote is neither mariadbd (php) nor names their arguments (its command
# line is the recipe's, as a fork's is); then the real setsid, with the same arguments.
SLOW_SETSID = """#!/bin/bash
printf '%s\\0' "$@" >"$SHIM/args.$$"
exec -a slow-fork bash -c 'sleep 2; mapfile -d "" a <"$0"; exec /usr/bin/setsid "${a[@]}"' \\
    "$SHIM/args.$$"
"""


@pytest.fixture
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    why = wordpress_missing()
    if why is not None:
        unavailable(why)
    where = tmp_path_factory.mktemp("wp") / "server"
    try:
        yield where
    finally:
        subprocess.run(["bash", str(RECIPE), "stop", str(where)], timeout=120, check=False)


def test_a_server_slow_to_start_is_waited_for(tmp_path: Path, server_dir: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "setsid").write_text(SLOW_SETSID)
    (shim / "setsid").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shim}:{os.environ['PATH']}",
        "SHIM": str(shim),
        "WP_DB_PORT": str(free_port()),
    }
    started = subprocess.run(
        ["bash", str(RECIPE), "start", str(server_dir), str(free_port())],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr[-3000:]
    assert "WP_URL=http://127.0.0.1:" in started.stdout
    assert any(p.name.startswith("args.") for p in shim.iterdir())  # the slow start was met
