"""Reading an export in a process of its own while this one writes (issue 14's import
row): the same rows as reading it here, a bad file still refused before anything is
stored, and no reader process left behind."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from support import SEED_JSON, SEED_WXR

from mailbridge.clock import SystemClock
from mailbridge.errors import ImportFormatError
from mailbridge.importer import import_file, load
from mailbridge.store import Store

TABLES = {
    "threads": "SELECT key, title, url, closed FROM threads ORDER BY id",
    "comments": (
        "SELECT id, thread_id, parent_id, address_id, author, body, status, source_ref, "
        "created_at FROM comments ORDER BY id"
    ),
    "addresses": "SELECT id, email, confirmed_at IS NULL FROM addresses ORDER BY id",
    "subscriptions": "SELECT address_id, thread_id, level FROM subscriptions ORDER BY 1, 2",
}


def readers_alive() -> list[int]:
    """This test process's reader processes still running (their command line names
    their program; their parent is this process, not another pytest worker's)."""
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            # /proc/N/stat: "pid (comm) state ppid ...", comm may hold spaces
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"reader_process import child_main" in cmdline and ppid == os.getpid():
            alive.append(int(proc.name))
    return alive


def several_posts(tmp_path: Path, copies: int) -> Path:
    """The seed export with its post repeated ``copies`` times, each with its own ids."""
    src = SEED_WXR.read_text(encoding="utf-8")
    start, end = src.index("<item>"), src.index("</item>") + len("</item>")
    items = []
    for n in range(copies):
        item = re.sub(
            r"<wp:post_name>(<!\[CDATA\[)?[^<\]]+(\]\]>)?</wp:post_name>",
            f"<wp:post_name>post-{n}</wp:post_name>",
            src[start:end],
        )
        items.append(
            re.sub(
                r"<wp:comment_(id|parent)>(\d+)</wp:comment_\1>",
                lambda m, n=n: (
                    f"<wp:comment_{m.group(1)}>"
                    f"{n * 10_000 + int(m.group(2)) if m.group(2) != '0' else 0}"
                    f"</wp:comment_{m.group(1)}>"
                ),
                item,
            )
        )
    path = tmp_path / "several.wxr.xml"
    path.write_text(src[:start] + "".join(items) + src[end:], encoding="utf-8")
    return path


async def contents(path: Path, source: Path, apart_from: int | None) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    store = await Store.open(path)
    try:
        report = await import_file(store, source, SystemClock(), read_apart_from=apart_from)
        assert report.comments_added > 0

        async def work(conn: aiosqlite.Connection) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
            found = {}
            for name, sql in TABLES.items():
                async with conn.execute(sql) as cur:
                    found[name] = [tuple(r) for r in await cur.fetchall()]
            return found

        return await store.read(work)
    finally:
        await store.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("source", ["wxr", "json", "several"])
async def test_a_file_read_apart_stores_what_it_stores_read_here(
    tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = {"wxr": SEED_WXR, "json": SEED_JSON}.get(source) or several_posts(tmp_path, 7)
    # Groups of about two posts: several groups cross the queue, in order.
    monkeypatch.setattr(load, "GROUP_COMMENTS", 400)
    monkeypatch.setattr(load, "APART_GROUP_COMMENTS", 400)
    here = await contents(tmp_path / "here.sqlite3", path, None)
    apart = await contents(tmp_path / "apart.sqlite3", path, 0)
    assert apart == here
    assert len(here["comments"]) == (243 * 7 if source == "several" else 243)
    assert not readers_alive()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("truncated", "not well-formed XML"),
        ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel>', "unsafe XML"),
    ],
)
async def test_a_bad_file_read_apart_is_refused_before_anything_is_stored(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "bad.wxr.xml"
    whole = several_posts(tmp_path, 3).read_text(encoding="utf-8")
    path.write_text(whole[: len(whole) * 2 // 3] if text == "truncated" else text + whole[200:])
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        with pytest.raises(ImportFormatError, match=why):
            await import_file(store, path, SystemClock(), read_apart_from=0)

        async def count(conn: aiosqlite.Connection) -> int:
            async with conn.execute("SELECT count(*) FROM comments") as cur:
                row = await cur.fetchone()
            assert row is not None
            return int(row[0])

        assert await store.read(count) == 0
    finally:
        await store.close()
    assert not readers_alive()


@pytest.mark.asyncio
async def test_a_write_that_fails_stops_the_reader_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "GROUP_COMMENTS", 400)
    monkeypatch.setattr(load, "APART_GROUP_COMMENTS", 400)
    written = 0

    async def store_thread(*_args: object) -> None:
        nonlocal written
        written += 1
        if written == 2:
            raise OSError("disk full")

    monkeypatch.setattr(load, "_store_thread", store_thread)
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        with pytest.raises(OSError, match="disk full"):
            await import_file(store, several_posts(tmp_path, 9), SystemClock(), read_apart_from=0)
        assert not readers_alive()  # stopped, not left to the collector
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_the_import_cache_is_the_writers_alone(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await store.set_write_cache(16 << 10)

        async def cache(conn: aiosqlite.Connection) -> int:
            async with conn.execute("PRAGMA cache_size") as cur:
                row = await cur.fetchone()
            assert row is not None
            return int(row[0])

        assert await store.write(cache) == -(16 << 10)
        assert await store.read(cache) == -2000  # SQLite's default, untouched
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_an_import_cancelled_while_the_reader_waits_ends_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C while a group is written: the reader has filled the pipe and this side's
    # buffer (reading paused), and must still be stopped and waited for without a hang.
    monkeypatch.setattr(load, "APART_GROUP_COMMENTS", 400)
    writing = asyncio.Event()
    store_thread = load._store_thread

    async def slow_store_thread(*args: Any) -> None:
        writing.set()
        await asyncio.sleep(0.5)  # the reader runs ahead meanwhile
        await store_thread(*args)

    monkeypatch.setattr(load, "_store_thread", slow_store_thread)
    source = several_posts(tmp_path, 30)
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        task = asyncio.create_task(import_file(store, source, SystemClock(), read_apart_from=0))
        await asyncio.wait_for(writing.wait(), 30)
        await asyncio.sleep(0.3)
        task.cancel()
        done, _pending = await asyncio.wait({task}, timeout=20)
        assert done, "the cancelled import did not end"
        assert task.cancelled()
        assert not readers_alive()
    finally:
        await store.close()


def test_what_else_the_reader_prints_does_not_break_its_frames(tmp_path: Path) -> None:
    """The frames have standard output to themselves: a print while the file is read
    (a library's, a warning's) goes to standard error instead of into the pickles."""
    import pickle
    import subprocess
    import sys

    from mailbridge.importer.reader_process import _LENGTH

    noisy = (
        "import mailbridge.importer.wxr as wxr\n"
        "original = wxr.read_wxr\n"
        "def read_wxr(path):\n"
        "    for thread in original(path):\n"
        "        print('a line on standard output', flush=True)\n"
        "        yield thread\n"
        "wxr.read_wxr = read_wxr\n"
        "import sys\n"
        "sys.argv = ['-c', 'wxr', sys.argv[1], '50']\n"
        "from mailbridge.importer.reader_process import child_main\n"
        "child_main()\n"
    )
    source = several_posts(tmp_path, 2)
    done = subprocess.run(
        [sys.executable, "-c", noisy, str(source)], capture_output=True, timeout=60, check=True
    )
    frames, pos = [], 0
    while pos < len(done.stdout):
        (length,) = _LENGTH.unpack_from(done.stdout, pos)
        pos += _LENGTH.size
        frames.append(pickle.loads(done.stdout[pos : pos + length]))
        pos += length
    kinds = [kind for kind, _value in frames]
    assert kinds[-1] == "end" and kinds.count("group") >= 2, kinds
    assert sum(len(t.comments) for _k, group in frames[:-1] for t in group) == 2 * 243
    assert done.stderr.count(b"a line on standard output") == 2
