"""The fixtures of the plugin modules tests/conftest.py registers (pytest_plugins) are
used by name, never imported into a test module: pytest registers what a module's
namespace holds as that module's own, so an imported session fixture (a WordPress and
its MariaDB, a Dovecot) was started once per importing module and kept until the
session ended."""

from __future__ import annotations

import ast
from pathlib import Path

import conftest

TESTS = Path(__file__).resolve().parent


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "fixture"


def plugin_fixtures() -> dict[str, set[str]]:
    """Each plugin module's fixture functions, by module name."""
    found: dict[str, set[str]] = {}
    for name in conftest.pytest_plugins:
        tree = ast.parse((TESTS / f"{name}.py").read_text(encoding="utf-8"))
        found[name] = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and any(_is_fixture(d) for d in node.decorator_list)
        }
    return found


def test_the_plugins_hold_the_session_servers() -> None:
    # What the check below stands on: were a plugin renamed, it would check nothing.
    fixtures = plugin_fixtures()
    assert "wordpress_site" in fixtures["wordpress_site"]
    assert {"dovecot_server", "dovecot"} <= fixtures["dovecot_server"]


def test_no_test_module_imports_a_plugins_fixture() -> None:
    fixtures = plugin_fixtures()
    imported = [
        f"{path.relative_to(TESTS)}: {alias.name}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "conftest.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module in fixtures
        for alias in node.names
        if alias.name in fixtures[node.module]
    ]  # fmt: skip
    assert imported == []
