"""Keep the docs honest: every setting, refusal and command is documented."""

from __future__ import annotations

from support import ROOT

from mailbridge.cli import cli
from mailbridge.errors import rejection_classes
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
    for name in cli.commands:
        assert f"mailbridge {name}" in README, name


def test_readme_has_the_two_commands_and_ci_runs_the_test_one() -> None:
    assert "mailbridge serve" in README and "mailbridge import examples/" in README
    test_command = "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/pytest"
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_docs_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text()
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name})" in index, page.name
