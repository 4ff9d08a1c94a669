"""Write imported threads into the store, parents before replies, idempotently."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite

from mailbridge.addresses import normalise
from mailbridge.clock import Clock, iso
from mailbridge.errors import InvalidAddress
from mailbridge.importer import known_files
from mailbridge.importer.bulk import store_comments
from mailbridge.importer.native_json import read_json
from mailbridge.importer.reader_process import groups_read_apart, next_group
from mailbridge.importer.records import (
    ImportedComment,
    ImportedThread,
    clean_line,
    detect_format,
)
from mailbridge.importer.wxr import count_comments, read_wxr
from mailbridge.store import Store, former_keys, subscriptions, threads
from mailbridge.store.subscriptions import Level

__all__ = [
    "DUPLICATE",
    "ImportReport",
    "import_file",
    "parents_first",
    "subscribe_imported",
    "usable_address",
]


@dataclass
class ImportReport:
    format: str
    threads_created: int = 0
    threads_existing: int = 0
    comments_added: int = 0
    comments_existing: int = 0
    # Addresses that cannot be used: the post or comment is imported without one.
    addresses_refused: int = 0
    refusals: list[str] = field(default_factory=list)  # the first few, for the summary
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many
    orphans: int = 0  # replies whose parent is not in the file: imported at the top level
    undated: int = 0  # imported comments whose date was missing or unreadable: dated EPOCH
    # Set when this very file was imported whole before and was not read again.
    unchanged_since: str | None = None

    def skip(self, why: str, n: int = 1) -> None:
        if n:
            self.skipped[why] = self.skipped.get(why, 0) + n

    def refuse(self, where: str, reason: str) -> None:
        self.addresses_refused += 1
        if len(self.refusals) < MAX_REFUSALS_SHOWN:
            self.refusals.append(f"{where}: {reason}")


MAX_REFUSALS_SHOWN = 10
DUPLICATE = "the same id as a comment before it"
# Comments per transaction: fewer commits (each an fsync) against the memory a group
# holds. Read apart, two processes each hold one (107 MB at 2,000 for 50,000 comments,
# 148 MB at 5,000; docs/performance.md).
GROUP_COMMENTS = 5000
APART_GROUP_COMMENTS = 2000


def usable_address(
    value: str | None, where: str, report: ImportReport, smtputf8: bool
) -> str | None:
    """The normalised address, or None (counted in the report) when it cannot be used.

    Never stored as it was: a list, a line break or non-ASCII before the @ would
    otherwise reach a header (or stop every email of its thread) later.
    """
    if value is None:
        return None
    try:
        return _normalised(value, smtputf8)
    except InvalidAddress as exc:
        report.refuse(where, exc.reason)
        return None


@functools.lru_cache(maxsize=1 << 16)
def _normalised(value: str, smtputf8: bool) -> str:
    # Cached: a blog's regulars write hundreds of comments each, and checking an
    # address (email-validator, IDNA) costs more than storing its comment.
    return normalise(value, smtputf8=smtputf8)


def parents_first(items: list[ImportedComment]) -> list[ImportedComment]:
    """Order comments so every parent precedes its replies; orphans become top-level."""
    by_id = {c.source_id: c for c in items}
    children: dict[str | None, list[ImportedComment]] = {}
    for c in items:
        parent = c.parent_source_id if c.parent_source_id in by_id else None
        children.setdefault(parent, []).append(c)
    ordered: list[ImportedComment] = []
    stack = list(reversed(children.get(None, [])))
    seen: set[str] = set()
    while stack:
        c = stack.pop()
        if c.source_id in seen:
            continue
        seen.add(c.source_id)
        ordered.append(c)
        stack.extend(reversed(children.get(c.source_id, [])))
    # Cycles (a corrupt file) are not reachable from a root: keep them, as top-level.
    # So is a second comment with an id already used: kept, for store_comments to
    # count (dropped here, it was lost without a word).
    listed = {id(c) for c in ordered}
    ordered.extend(c for c in items if id(c) not in listed)
    return ordered


async def _store_thread(
    conn: aiosqlite.Connection,
    thread: ImportedThread,
    now: str,
    report: ImportReport,
    progress: Callable[[int], None],
    notify: bool,
    smtputf8: bool,
) -> None:
    for why, n in thread.skipped.items():
        report.skip(why, n)
    if not thread.comments and thread.skipped:
        return  # a post whose every comment was skipped: no thread of its own
    author_address = None
    author_email = usable_address(thread.author_email, f"post {thread.key}", report, smtputf8)
    if author_email:
        author_address = await threads.upsert_address(conn, author_email, now)
    # A post renamed in WordPress since this file was made: its thread as keyed now.
    thread.key = await former_keys.imported_key(conn, thread.key, thread.post_id)
    thread_id, created = await threads.upsert_thread(
        conn,
        key=thread.key,
        title=clean_line(thread.title) or thread.key,
        url=thread.url,
        author=clean_line(thread.author),
        author_address_id=author_address,
        now=now,
        closed=thread.closed,
    )
    if created:
        report.threads_created += 1
    else:
        report.threads_existing += 1

    def usable(item: ImportedComment) -> str | None:
        where = f"post {thread.key}, comment {item.source_id}"
        return usable_address(item.email, where, report, smtputf8)

    # People who commented on the blog are told when someone answers them; that is the
    # point of mailbridge. `mailbridge import --no-notify` opts out.
    done = await store_comments(
        conn, thread_id, parents_first(thread.comments), usable,
        notify=notify, now=now, progress=progress,
    )  # fmt: skip
    report.comments_added += done.added
    report.comments_existing += done.existing
    report.skip(DUPLICATE, done.duplicates)
    report.orphans += done.orphans  # imported at the top level: said in the summary
    report.undated += sum(c.undated for c in thread.comments)


async def subscribe_imported(
    conn: aiosqlite.Connection, email: str, thread_id: int, now: str
) -> None:
    """Imported commenters hear about answers to their comments: the blog owner vouches
    for their addresses by importing them (``--no-notify`` opts out), and every email
    offers a one-click unsubscribe. An explicit choice made earlier is kept."""
    address_id = await threads.upsert_address(conn, email, now)
    await subscriptions.confirm_address(conn, address_id, now)
    if await subscriptions.explicit_level(conn, address_id, thread_id) is None:
        await subscriptions.set_level(conn, address_id, thread_id, Level.REPLIES, "import", now)


async def import_file(
    store: Store,
    path: Path,
    clock: Clock,
    *,
    on_total: Callable[[int], None] = lambda total: None,
    progress: Callable[[int], None] = lambda n: None,
    notify: bool = True,
    smtputf8: bool = False,
    again: bool = False,
    read_apart_from: int | None = None,
) -> ImportReport:
    """Import every thread in ``path``; each thread commits whole, with others
    (``GROUP_COMMENTS`` comments per transaction at most, or one big thread).

    ``smtputf8`` (``outbound.smtputf8``) accepts addresses with non-ASCII before the @.
    A file imported whole before (the same bytes) is not read again unless ``again``:
    the report says since when it is unchanged, and nothing is written.
    ``read_apart_from``: a WXR or JSON file of at least this many bytes is parsed by a
    child process while this one writes (:mod:`mailbridge.importer.reader_process`);
    None reads every file here.
    """
    fmt = detect_format(path)
    sha256, size = await asyncio.to_thread(known_files.digest, path)
    known = await store.read(lambda conn: known_files.find(conn, sha256))
    if known is not None and not again:
        return ImportReport(
            format=fmt,
            threads_existing=known.threads,
            comments_existing=known.comments,
            unchanged_since=known.imported_at,
        )
    apart = read_apart_from is not None and size >= read_apart_from
    report = await _import(store, path, fmt, clock, on_total, progress, notify, smtputf8, apart)
    done = known_files.KnownFile(
        sha256,
        fmt,
        threads=report.threads_created + report.threads_existing,
        comments=report.comments_added + report.comments_existing,
        imported_at=iso(clock.now()),
    )
    await store.write(lambda conn: known_files.remember(conn, done, size))
    return report


async def _import(
    store: Store,
    path: Path,
    fmt: str,
    clock: Clock,
    on_total: Callable[[int], None],
    progress: Callable[[int], None],
    notify: bool,
    smtputf8: bool,
    apart: bool = False,
) -> ImportReport:
    if fmt in ("disqus", "isso", "commento", "remark42"):
        # Streamed: written as read. Imported here, not at the top: it imports this module.
        from mailbridge.importer import commento, disqus, isso, remark42
        from mailbridge.importer.stream_load import import_stream

        reader = {"disqus": disqus, "isso": isso, "commento": commento, "remark42": remark42}[fmt]
        return await import_stream(
            store, fmt, reader.read_threads(path), reader.read_posts(path), clock,
            on_total=on_total, progress=progress, notify=notify, smtputf8=smtputf8,
        )  # fmt: skip
    read = read_wxr if fmt == "wxr" else read_json
    # A thread at a time, so a large file never sits in memory whole. JSON is read
    # through once first, to count (and to refuse a broken file before writing); a WXR
    # file's comments are counted from its bytes, and read_wxr checks it whole first.
    if fmt == "wxr":
        on_total(count_comments(path))
    else:
        on_total(sum(len(t.comments) for t in read(path)))
    report = ImportReport(format=fmt)
    now = iso(clock.now())

    async def flush(group: list[ImportedThread]) -> None:
        async def work(conn: aiosqlite.Connection) -> None:
            for thread in group:
                await _store_thread(conn, thread, now, report, progress, notify, smtputf8)

        await store.write(work)

    # Whole threads, a few thousand comments per transaction: a commit (and its fsync)
    # per small thread was a large share of an import's time.
    if apart:
        # aclosing: a failed write stops the reader process now, not when collected.
        reading = groups_read_apart(fmt, path, APART_GROUP_COMMENTS)
        async with contextlib.aclosing(reading) as groups:
            async for group in groups:
                await flush(group)
    else:
        threads_read = iter(read(path))
        while group := next_group(threads_read, GROUP_COMMENTS):
            await flush(group)
    return report
