"""Coverage-guided fuzzing of the parsers with atheris (libFuzzer), in a process of its
own (tests/faults/atheris_parser.py): the header parser, machine-mail and bounce
classification and the extractor, from the test fixtures as seed corpus. 20,000 runs
(twice the environment's FUZZ_EXAMPLES when set), a fixed seed. A crash fails the test
with the input that caused it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from programs import unavailable

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "atheris_parser.py"
FIXTURES = HERE.parent / "fixtures"
RUNS = 2 * int(os.environ.get("FUZZ_EXAMPLES", "10000"))


def test_coverage_guided_fuzzing_of_the_parsers(tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        unavailable("needs atheris: pip install atheris (wheels for Linux x86_64 only)")
    corpus, crashes = tmp_path / "corpus", tmp_path / "crashes"
    corpus.mkdir()
    crashes.mkdir()
    seeds = sorted(FIXTURES.rglob("*.eml"))
    assert len(seeds) > 20
    for n, seed in enumerate(seeds):
        shutil.copy(seed, corpus / f"{n:03d}.eml")
    run = subprocess.run(
        [sys.executable, str(HARNESS), f"-runs={RUNS}", "-seed=1", "-max_len=8192",
         "-timeout=20", "-rss_limit_mb=2048", f"-artifact_prefix={crashes}/", str(corpus)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    found = [p.name for p in crashes.iterdir()]
    output = "\n".join(line for line in run.stderr.splitlines() if "Instrumenting" not in line)
    assert run.returncode == 0 and not found, f"crash inputs {found}:\n{output[-4000:]}"
    assert f"Done {RUNS} runs" in run.stderr, output[-2000:]
