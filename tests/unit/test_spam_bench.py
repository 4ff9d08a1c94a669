"""bench/spam_bench.py leaves a file out unopened (issue 10: the file nothing was tuned
on stays unseen while a change to the scorer is measured on the others)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "spam_bench.py"
HEADER = "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\n"


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spam_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus(tmp_path: Path) -> Path:
    (tmp_path / "Seen.csv").write_text(HEADER + "1,a,2015,check out my channel,1\n")
    # Not UTF-8: reading it at all raises, so a file left out must not even be opened.
    (tmp_path / "Unseen.csv").write_bytes(HEADER.encode() + b"2,b,2015,\xff\xfe,1\n")
    return tmp_path


def test_a_file_left_out_is_not_opened(tmp_path: Path) -> None:
    names = [name for name, _ in bench().load(corpus(tmp_path), ["Unseen"])]
    assert "Seen" in names and "Unseen" not in names
    assert names[-1] == "sample thread (ham)"


def test_leaving_out_a_file_that_is_not_there_is_refused(tmp_path: Path) -> None:
    # A typo ("Youtube03-LMFOA") must not run the bench on the very file it meant to hide.
    ran = subprocess.run(
        [sys.executable, str(BENCH), "--corpus", str(corpus(tmp_path)), "--leave-out", "Unsen"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 2
    assert "--leave-out: no such file: Unsen" in ran.stderr
    assert ran.stdout == ""
