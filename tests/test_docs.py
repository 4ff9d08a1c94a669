"""Keep the docs honest: every setting, refusal and command is documented."""

from __future__ import annotations

import click
from readme import sh_blocks
from support import ROOT

from mailbridge.cli import cli
from mailbridge.rejections import rejection_classes
from mailbridge.settings import reference_table

DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()


def test_configuration_doc_holds_the_current_settings_table() -> None:
    text = (DOCS / "configuration.md").read_text()
    assert reference_table() in text, "regenerate the table in docs/configuration.md"


def test_every_rejection_reason_is_documented() -> None:
    text = (DOCS / "rejections.md").read_text()
    for cls in rejection_classes():
        # A code may have finer variants: `automated.<signal>`, `auth_failed.dmarc_reject`.
        assert f"`{cls.reason}`" in text or f"`{cls.reason}." in text, cls.__name__
        assert f"`{cls.smtp_code} {cls.smtp_status}`" in text, cls.__name__


def test_every_command_is_in_the_readme() -> None:
    for name in cli.list_commands(click.Context(cli)):
        assert f"mailbridge {name}" in README, name


def test_readme_has_the_two_commands_and_ci_runs_them_as_written() -> None:
    start = sh_blocks("Try it")[0]
    assert start == (
        "python3 -m venv .venv && .venv/bin/pip install . && "
        ".venv/bin/mailbridge import examples/thread.wxr.xml && "
        ".venv/bin/mailbridge serve --demo-site"
    )
    test_command = (
        "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/pytest -n auto"
    )
    assert sh_blocks("Run the tests") == [test_command]
    # CI reads both from README.md (tests/readme.py) rather than keeping copies.
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'tests/readme.py "Run the tests" 1' in ci
    assert 'tests/readme.py "Try it" 1' in ci
    assert test_command not in ci


def test_docs_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text()
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name})" in index, page.name
