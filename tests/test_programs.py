"""The first run on a machine without the Debian tools: skips that say what to install,
and failures instead under REQUIRE_EXTERNAL_TOOLS=1 (tests/programs.py).

The real tests run in a pytest of their own, with a PATH that is this one minus the
tools (symlinks, as .ci/run builds it), so the mechanism is tested as a newcomer and CI
meet it, marker and fixtures alike.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tokenize
from pathlib import Path

from programs import COMMON_HELPERS, REQUIRE_ENV, find_program, hide, tool_tests
from support import ROOT

HIDDEN = ["opendkim-testmsg", "opendkim", "perl", "chromium"]
EXTERNAL = "tests/dkim/test_external.py::"
# Each test, and the one line it must be skipped with.
EXPECTED = {
    EXTERNAL + "test_opendkim_testmsg_verifies_rsa": (
        "needs opendkim-testmsg from opendkim-tools: apt-get install opendkim-tools"
    ),
    EXTERNAL + "test_opendkim_test_mode_passes_both_signatures": (
        "needs opendkim (the filter, for its -t test mode) from opendkim: apt-get install opendkim"
    ),
    EXTERNAL + "test_mail_dkim_verifies_rsa": (
        "needs Perl's Mail::DKIM from libmail-dkim-perl: apt-get install libmail-dkim-perl"
    ),
    "tests/browser/test_pages_in_chromium.py::test_thread_page_reads_as_a_nested_thread": (
        "needs chromium from chromium: apt-get install chromium"
    ),
}


def run_without_tools(tmp_path: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_ENV}
    env["PATH"] = hide(tmp_path / "path", HIDDEN)
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *EXPECTED],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_hidden_path_hides_only_the_tools(tmp_path: Path, monkeypatch) -> None:
    path = hide(tmp_path / "path", HIDDEN)
    monkeypatch.setenv("PATH", path)
    for program in HIDDEN:
        assert find_program(program) is None, program
    assert find_program("sh") is not None


def test_without_the_tools_each_test_is_skipped_naming_its_package(tmp_path: Path) -> None:
    done = run_without_tools(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(EXPECTED)} skipped" in done.stdout, done.stdout
    skips = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skips) == len(EXPECTED), done.stdout
    for line in EXPECTED.values():
        assert sum(line in skip for skip in skips) == 1, (line, done.stdout)


def test_with_require_external_tools_a_missing_tool_fails(tmp_path: Path) -> None:
    done = run_without_tools(tmp_path, **{REQUIRE_ENV: "1"})

    assert done.returncode == 1, done.stdout + done.stderr
    assert "skipped" not in done.stdout, done.stdout
    assert f"{len(EXPECTED)} error" in done.stdout, done.stdout
    for line in EXPECTED.values():
        assert f"{line} ({REQUIRE_ENV}=1: required here)" in done.stdout, (line, done.stdout)


def test_the_tools_hidden_run_selects_every_test_that_can_meet_a_tool() -> None:
    root = Path(__file__).resolve().parent
    hidden = ["chromium", "opendkim-testmsg", "opendkim", "perl", "curl", "php", "dovecot",
              "systemd-analyze", "postfix"]  # fmt: skip
    chosen = {str(Path(p).relative_to(root)) for p in tool_tests(root, hidden)}
    assert {
        "integration/test_readme_tour.py",  # the marker, naming curl
        "dkim/test_external.py",  # fixtures of dkim/conftest.py that need opendkim
        "integration/test_imap_inbox.py",  # the helper dovecot_server.py
        "integration/test_wordpress_live.py",  # the helper wordpress_site.py
        "browser/test_queue_in_chromium.py",
        "integration/test_postfix.py",
    } <= chosen
    # A test of pure code, and one of the daemon that starts no program, are not.
    assert "unit/test_render_cache.py" not in chosen
    assert "integration/test_akismet.py" not in chosen


def test_the_common_helpers_start_no_hidden_program() -> None:
    """What tool_tests does not read: no string literal of support.py, flows.py, wire.py
    or leaks.py names a hidden program as a command would (alone or before its
    arguments or path), and none looks a program up."""
    root = Path(__file__).resolve().parent
    hidden = ("chromium", "opendkim", "perl", "curl", "php", "dovecot", "systemd", "postfix")
    for name in sorted(COMMON_HELPERS):
        source = (root / f"{name}.py").read_text(encoding="utf-8")
        assert "which(" not in source and "requires_program" not in source, name
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type != tokenize.STRING:
                continue
            text = token.string.strip("'\"rbf").strip()
            assert not text.startswith(hidden), (name, text[:60])
