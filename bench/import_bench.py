#!/usr/bin/env python3
"""Benchmark: `mailbridge import` of a large WordPress export (issue 14's import row).

Makes a WXR file of ``--comments`` comments (the sample thread's 243 comments, repeated
as posts of their own, each with its own ids), then, in one run:

* the **anchor**: C ElementTree parsing the same file and reading every comment's
  fields, nothing stored (the floor any WXR importer in Python starts from);
* ``mailbridge import`` into an empty data directory, then again (unchanged: known by
  its hash, not read), then with ``--again`` (read whole again, adding nothing: what a
  changed file costs), each in a process of its own, as an operator runs it: wall
  time, comments per second and peak RSS (of all its processes together);
* the same comments exported as a Disqus file (``mailbridge export --format disqus``)
  and imported into another empty data directory: the streamed path.

Prints a table with the ratios. Bounded by the file's size; ``--comments 300000``
makes a file of about 500 MB, for the memory goal.

    .venv/bin/python bench/import_bench.py [--comments 50000]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "thread.wxr.xml"
WP = "{http://wordpress.org/export/1.2/}"


def make_wxr(path: Path, comments: int) -> int:
    src = SEED.read_text(encoding="utf-8")
    start, end = src.index("<item>"), src.index("</item>") + len("</item>")
    item = src[start:end]
    per = item.count("<wp:comment>")
    copies = max(1, comments // per)
    with path.open("w", encoding="utf-8") as out:
        out.write(src[:start])
        for n in range(copies):
            text = re.sub(
                r"<wp:post_name>(<!\[CDATA\[)?[^<\]]+(\]\]>)?</wp:post_name>",
                f"<wp:post_name>post-{n}</wp:post_name>", item,
            )  # fmt: skip

            def renumber(m: re.Match[str], n: int = n) -> str:
                value = str(n * 10_000 + int(m.group(2))) if m.group(2) != "0" else "0"
                return f"<wp:comment_{m.group(1)}>{value}</wp:comment_{m.group(1)}>"

            out.write(re.sub(r"<wp:comment_(id|parent)>(\d+)</wp:comment_\1>", renumber, text))
        out.write(src[end:])
    return copies * per


def parse_only(path: Path) -> float:
    started = time.perf_counter()
    seen = 0
    for _event, element in ElementTree.iterparse(str(path), events=("end",)):
        if element.tag == f"{WP}comment":
            for name in (
                "comment_id",
                "comment_parent",
                "comment_author",
                "comment_content",
                "comment_author_email",
                "comment_date_gmt",
                "comment_approved",
            ):
                element.findtext(WP + name)
            seen += 1
        elif element.tag == "item":
            element.clear()
    return time.perf_counter() - started


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants now (KB), from /proc."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue  # it has just exited
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        pending += [int(c) for c in children]
    return total


def run(*args: str) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KB) and output of one mailbridge command.

    The peak is the most the command's processes held *together* (``mailbridge
    import`` parses a large file in a child process), sampled every 20 ms, and never
    less than the largest process's own peak (``wait4``)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailbridge", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, _tree_rss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"mailbridge {' '.join(args)} failed:\n{output}")
    return elapsed, max(peak, usage.ru_maxrss), output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wxr = work / "export.xml"
        total = make_wxr(wxr, args.comments)
        size = wxr.stat().st_size / 1e6
        print(f"WXR file: {total} comments, {size:.0f} MB; Python {sys.version.split()[0]}")
        anchor = parse_only(wxr)
        first, first_rss, out = run("import", "--data-dir", str(work / "a"), str(wxr))
        assert f"{total} comment(s) added" in out, out
        again, again_rss, out = run("import", "--data-dir", str(work / "a"), str(wxr))
        assert f"{total} comment(s)): nothing to do" in out, out
        reread, reread_rss, out = run("import", "--data-dir", str(work / "a"), "--again", str(wxr))
        assert f"{total} already present" in out, out
        disqus = work / "export.disqus.xml"
        run(
            "export",
            "--data-dir",
            str(work / "a"),
            "--all",
            "--format",
            "disqus",
            "-o",
            str(disqus),
        )
        streamed, streamed_rss, out = run("import", "--data-dir", str(work / "b"), str(disqus))
        assert f"{total} comment(s) added" in out, out
    rows = [
        ("anchor: C ElementTree parse, fields read, nothing stored", anchor, None),
        ("mailbridge import, WXR, empty data directory", first, first_rss),
        ("mailbridge import, same WXR again (unchanged: known by its hash)", again, again_rss),
        ("mailbridge import --again, same WXR read again", reread, reread_rss),
        ("mailbridge import, the same comments as a Disqus file", streamed, streamed_rss),
    ]
    print("\n| what | seconds | comments/s | peak RSS | anchor/this |")
    print("|---|---:|---:|---:|---:|")
    for what, seconds, rss in rows:
        memory = f"{rss / 1024:.0f} MB" if rss else "-"
        print(f"| {what} | {seconds:.2f} | {total / seconds:,.0f} | {memory} | "
              f"{anchor / seconds:.2f}x |")  # fmt: skip
    print(f"\nunchanged re-import: {first / again:.1f}x faster than the first import; "
          f"read again (--again, what a changed file costs): {first / reread:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
