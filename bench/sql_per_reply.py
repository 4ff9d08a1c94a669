#!/usr/bin/env python3
"""Benchmark: SQL statements per inbound reply, two versions of the code side by side.

Rates on a shared machine move more between runs than a few statements per reply do;
the count of statements does not move. Each tree's ``mailbridge serve`` runs with a
``sitecustomize`` (first on PYTHONPATH) that traces every statement of every SQLite
connection (``set_trace_callback``) and writes the counts each second. The inbound
benchmark's load (bench/inbound_bench.py) runs ``--seconds``; the script prints each
tree's statements per reply and the statements (literals made ``?``) whose count per
reply differs most.

    .venv/bin/python bench/sql_per_reply.py --base /tmp/base --new . --own-venvs

127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inbound_ab as ab
import inbound_bench as ib

TRACER = """
import collections, json, os, re, sqlite3, threading, time
_counts = collections.Counter()
_connect = sqlite3.connect
def connect(*args, **kwargs):
    conn = _connect(*args, **kwargs)
    conn.set_trace_callback(lambda sql: _counts.update([sql]))
    return conn
sqlite3.connect = connect
def dump():
    while True:
        time.sleep(1)
        out = os.environ["SQL_COUNTS"] + f".{os.getpid()}"
        with open(out + ".tmp", "w") as f:
            json.dump(dict(_counts), f)
        os.replace(out + ".tmp", out + ".json")
threading.Thread(target=dump, daemon=True).start()
"""


def shape(sql: str) -> str:
    """The statement with its literals (strings, blobs, numbers) made ``?``."""
    sql = re.sub(r"[xX]'[0-9a-fA-F]*'|'(?:[^']|'')*'", "?", sql)
    return re.sub(r"\b\d+(\.\d+)?\b", "?", " ".join(sql.split()))


def counts(work: Path) -> collections.Counter[str]:
    found: collections.Counter[str] = collections.Counter()
    for path in work.glob("counts.*.json"):
        for sql, n in json.loads(path.read_text()).items():
            found[shape(sql)] += n
    return found


def per_reply(tree: Path, seconds: float) -> tuple[int, collections.Counter[str]]:
    """(replies answered 250, statements run meanwhile and for 4 s after)."""
    work = Path(tempfile.mkdtemp(prefix="sql-per-reply-"))
    try:
        (work / "site").mkdir()
        (work / "site" / "sitecustomize.py").write_text(TRACER)
        smtp = ib.free_port()
        config = ib.mailbridge_config(work / "mailbridge.toml", work / "data", smtp, ib.free_port())
        pairs = ab.tree_pairs(tree, config)
        env = ib.serve_env()
        env["PYTHONPATH"] = f"{work / 'site'}:{tree.resolve()}"
        env["SQL_COUNTS"] = str(work / "counts")
        args = [str(ab.python_of(tree).with_name("mailbridge")), *ib.serve_args(config)[1:]]
        with ib.process(args, env=env, log=work / "daemon.log"):
            asyncio.run(ib.wait_port(smtp))
            time.sleep(3)  # the start-up's statements written out
            before = counts(work)
            sent = asyncio.run(ib.send([smtp], pairs, 4, seconds))
            time.sleep(4)  # the moderation mailer and the delivery worker catch up
            return sent.accepted, counts(work) - before
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    args, runs = ab.ab_runs(parser, 1)
    got = {name: per_reply(tree, args.seconds) for _, name, tree in runs[:2]}
    for name, (replies, found) in got.items():
        print(f"{name}: {replies} replies, {sum(found.values()) / replies:.1f} statements each")
    (nb, base), (nn, new) = got["base"], got["new"]
    diff = sorted(((new[s] / nn - base[s] / nb), s) for s in set(base) | set(new))
    print("statements per reply, new - base (largest differences):")
    for d, sql in [*diff[:5], *diff[-5:]]:
        print(f"  {d:+.2f}  {sql[:110]}")


if __name__ == "__main__":
    main()
