"""Remark42 backups (issue 12): the project's own backup test input, gzipped as its
automatic backups are, a reply under its parent, deleted comments, and files that are
truncated or of another version: refused before anything is written."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from support import command_env, data_rows

from mailbridge.cli import cli

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "imports" / "remark42-backup.jsonl"
PAGE = "https://blog.example.org/a/"
META = {"version": 1, "users": [], "posts": [{"url": PAGE, "read_only": False}]}


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, list(args), env=command_env(list(args)))
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def rows(data: Path, sql: str) -> list[tuple[object, ...]]:
    return data_rows(data, sql)  # on the suite's engine


def comment(cid: str, pid: str = "", **extra: object) -> dict[str, object]:
    return {
        "id": cid, "pid": pid, "text": f"<p>Text of {cid} &amp; more</p>",
        "user": {"name": f"Writer {cid}", "id": f"github_{cid}"},
        "locator": {"site": "blog", "url": "https://blog.example.org/a/"},
        "time": "2021-05-01T10:00:00+02:00", **extra,
    }  # fmt: skip


def backup(path: Path, *items: dict[str, object], meta: object = META) -> Path:
    path.write_text("\n".join(json.dumps(x) for x in (meta, *items)) + "\n")
    return path


def test_remark42s_own_backup_gzipped_and_again(tmp_path: Path) -> None:
    packed = tmp_path / "backup-radio-t-20241201.gz"
    with FIXTURE.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    data = tmp_path / "var"
    out = run("import", "--data-dir", str(data), str(packed))
    assert "(remark42): 2 thread(s) created" in out and "2 comment(s) added" in out
    assert "At the top level: 1 reply whose parent is not in the file." in out
    assert rows(data, "SELECT key, url, closed FROM threads ORDER BY id") == [
        ("radio-t-com", "https://radio-t.com", 1),  # read_only in the metadata
        ("2", "https://radio-t.com/2", 0),
    ]
    assert rows(data, "SELECT author, body, created_at, address_id FROM comments ORDER BY id") == [
        ("user name", "some text, [link](http://radio-t.com)", "2017-12-20T21:18:22+00:00", None),
        ("user name", "some text2", "2017-12-20T21:18:23+00:00", None),
    ]
    again = run("import", "--data-dir", str(data), str(FIXTURE))  # the same, not gzipped
    assert "0 comment(s) added, 2 already present" in again and "top level" not in again


def test_replies_deleted_and_broken_lines(tmp_path: Path) -> None:
    data = tmp_path / "var"
    file = backup(
        tmp_path / "b.json", comment("r2", pid="r1"), comment("r1"),
        comment("r3", delete=True, text=""),
    )  # fmt: skip
    out = run("import", "--data-dir", str(data), str(file))
    assert "2 comment(s) added" in out and "Not imported: 1 deleted in Remark42." in out
    assert rows(
        data, "SELECT c.source_ref, p.source_ref, c.body FROM comments c "
              "LEFT JOIN comments p ON p.id = c.parent_id ORDER BY c.source_ref"
    ) == [("remark42:r1", None, "Text of r1 & more"),
          ("remark42:r2", "remark42:r1", "Text of r2 & more")]  # fmt: skip

    fresh = tmp_path / "fresh"
    truncated = tmp_path / "t.json"
    truncated.write_text(file.read_text()[:-40])
    refused = run("import", "--data-dir", str(fresh), str(truncated), ok=False)
    assert "is not JSON" in refused
    newer = backup(tmp_path / "v2.json", comment("x"), meta={"version": 2, "users": []})
    refused = run("import", "--data-dir", str(fresh), str(newer), ok=False)
    assert "not a Remark42 backup of version 1 (version 2)" in refused
    assert rows(fresh, "SELECT count(*) FROM comments") == [(0,)]  # nothing written
