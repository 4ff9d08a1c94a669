"""`serve` stopped by SIGTERM to its whole process group, as systemd's default
KillMode=control-group, timeout(1) and some supervisors stop it: the worker processes
outlive the signal until the daemon closes them, so nothing is logged as a worker
that died, and the daemon stops cleanly (exit 0)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import free_port


def _group(pgid: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of every process in the process group ``pgid``."""
    shown = subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid=,pgid="],
        capture_output=True, text=True, check=False, timeout=10,
    ).stdout  # fmt: skip
    rows = [tuple(int(n) for n in line.split()) for line in shown.splitlines()]
    return [(pid, ppid) for pid, ppid, group in rows if group == pgid]


def test_sigterm_to_the_process_group_stops_cleanly(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MAILBRIDGE_DATA_DIR": str(tmp_path / "var"),
        "MAILBRIDGE_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
        "MAILBRIDGE_HTTP_LISTEN": f"127.0.0.1:{free_port()}",
        "MAILBRIDGE_INBOUND_CPU_PROCESSES": "1",
    }
    daemon = subprocess.Popen(
        [sys.executable, "-m", "mailbridge", "serve"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as under a service manager
    )  # fmt: skip
    try:
        # The worker: a grandchild of the daemon (a child of its forkserver).
        deadline = time.monotonic() + 30
        while not any(ppid not in (daemon.pid, os.getpid()) for _pid, ppid in _group(daemon.pid)):
            assert time.monotonic() < deadline, _group(daemon.pid)
            time.sleep(0.2)
        time.sleep(0.5)  # its initializer has run
        [worker] = [
            pid for pid, ppid in _group(daemon.pid) if ppid not in (daemon.pid, os.getpid())
        ]
        # What the group's signal does to the worker, alone first, so that no race with
        # the daemon's own stop hides it: the worker is still there a second later.
        os.kill(worker, signal.SIGTERM)
        time.sleep(1.0)
        assert worker in [pid for pid, _ppid in _group(daemon.pid)]
        os.killpg(daemon.pid, signal.SIGTERM)
        out, _ = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.communicate(timeout=30)
    assert daemon.returncode == 0, out
    assert "died" not in out and "ERROR" not in out, out
    assert out.rstrip().endswith("Stopped."), out
    # Nothing of the group is left behind.
    deadline = time.monotonic() + 15
    while _group(daemon.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group(daemon.pid) == []
