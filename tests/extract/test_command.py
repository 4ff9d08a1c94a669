"""``mailbridge extract``: the same function as the daemon, on saved messages."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mailbridge.extract import extract
from mailbridge.extract.command import extract_command

EMAILS = Path(__file__).resolve().parents[1] / "fixtures" / "emails"


def test_prints_the_text() -> None:
    path = EMAILS / "iphone_en.eml"
    result = CliRunner().invoke(extract_command, [str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == extract(path.read_bytes()).text + "\n"


def test_several_files_get_headings() -> None:
    paths = [str(EMAILS / "iphone_en.eml"), str(EMAILS / "yahoo_en.eml")]
    result = CliRunner().invoke(extract_command, paths)
    assert result.exit_code == 0
    assert f"==> {paths[0]} <==" in result.output
    assert "Lovely photos. Is the banneton lined?" in result.output


def test_jsonl() -> None:
    path = EMAILS / "attachments_mixed.eml"
    result = CliRunner().invoke(extract_command, ["--jsonl", str(path), str(path)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["file"] == str(path)
    assert record["text"] == "Here is a photo of the crumb, and my notes as a PDF."
    assert record["part"] == "text/plain"
    assert [a["filename"] for a in record["attachments"]] == ["crumb.png", "notes été.pdf"]
    assert {"elided", "charset", "charset_fallback", "defects"} <= record.keys()


def test_reads_stdin() -> None:
    raw = (EMAILS / "iphone_en.eml").read_bytes()
    result = CliRunner().invoke(extract_command, ["-"], input=raw)
    assert result.exit_code == 0
    assert result.output.startswith("Yes! Same here")


def test_missing_file_is_a_usage_error() -> None:
    result = CliRunner().invoke(extract_command, ["/nonexistent/x.eml"])
    assert result.exit_code == 2
