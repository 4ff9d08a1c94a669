"""Write a streamed export (Disqus, Isso, Commento, Remark42) into the store as it is
read, in batches, idempotently.

Posts are written in file order, ``BATCH`` per transaction, each batch's addresses,
comments and subscriptions in a few statements (mailbridge.importer.bulk). A reply
whose parent is not stored yet (the export is not always in order) waits in a list
of its own, and is written once its parent is; replies whose parent never comes
become top-level, like every importer's orphans, and the summary says how many.
What is not imported is counted by reason for the summary: a thread the file does
not describe, an empty message, a comment deleted at the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.importer.bulk import store_comments
from mailbridge.importer.load import DUPLICATE, ImportReport, usable_address
from mailbridge.importer.records import (
    EMPTY,
    ImportedComment,
    SourcePost,
    SourceThread,
    clean_line,
    kept_without_text,
)
from mailbridge.store import Store, threads

__all__ = ["BATCH", "import_stream"]

BATCH = 500


class _Writer:
    def __init__(
        self,
        known: dict[str, SourceThread],
        report: ImportReport,
        notify: bool,
        smtputf8: bool,
        prefix: str,
        now: str,
        progress: Callable[[int], None],
    ) -> None:
        self._known = known
        self._prefix = prefix
        self._report = report
        self._notify = notify
        self._smtputf8 = smtputf8
        self._now = now
        self._progress = progress
        self._thread_ids: dict[str, int] = {}
        self.waiting: dict[str, list[SourcePost]] = {}  # parent source id -> replies

    async def _thread_id(self, conn: aiosqlite.Connection, thread: SourceThread) -> int:
        found = self._thread_ids.get(thread.source_id)
        if found is None:
            found, created = await threads.upsert_thread(
                conn, key=thread.key, title=clean_line(thread.title) or thread.key,
                url=thread.url, author="",
                author_address_id=None, now=self._now, closed=thread.closed,
            )  # fmt: skip
            self._thread_ids[thread.source_id] = found
            if created:
                self._report.threads_created += 1
            else:
                self._report.threads_existing += 1
        return found

    async def write(
        self, conn: aiosqlite.Connection, posts: list[SourcePost], orphans: bool
    ) -> list[str]:
        """Store ``posts``, thread by thread; the source ids now stored (whose waiting
        replies can follow). Replies whose parent is not stored wait, unless
        ``orphans``: then they go to the top level."""
        by_thread: dict[str, list[SourcePost]] = {}
        for post in posts:
            by_thread.setdefault(post.thread, []).append(post)
        stored: list[str] = []
        for source_thread, group in by_thread.items():
            thread = self._known[source_thread]
            thread_id = await self._thread_id(conn, thread)
            items = [self._item(post) for post in group]

            def usable(item: ImportedComment, key: str = thread.key) -> str | None:
                where = f"thread {key}, post {item.source_id.partition(':')[2]}"
                return usable_address(item.email, where, self._report, self._smtputf8)

            done = await store_comments(
                conn, thread_id, items, usable, notify=self._notify, now=self._now,
                progress=self._progress, defer=not orphans,
            )  # fmt: skip
            self._report.comments_added += done.added
            self._report.comments_existing += done.existing
            self._report.skip(DUPLICATE, done.duplicates)
            self._report.orphans += done.orphans
            deferred = set(done.deferred)
            for index, post in enumerate(group):
                if index in deferred:
                    assert post.parent is not None
                    self.waiting.setdefault(post.parent, []).append(post)
                else:
                    stored.append(post.source_id)
        return stored

    def _item(self, post: SourcePost) -> ImportedComment:
        return ImportedComment(
            source_id=f"{self._prefix}:{post.source_id}",
            parent_source_id=f"{self._prefix}:{post.parent}" if post.parent else None,
            author=post.author, email=post.email, body=post.body,
            created_at=post.created_at, status=post.status,
        )  # fmt: skip


async def import_stream(
    store: Store,
    fmt: str,
    threads_and_total: tuple[dict[str, SourceThread], int],
    posts: Iterable[SourcePost],
    clock: Clock,
    *,
    on_total: Callable[[int], None],
    progress: Callable[[int], None],
    notify: bool,
    smtputf8: bool,
) -> ImportReport:
    """Write ``posts`` as they come, ``BATCH`` per transaction (see the module doc)."""
    known, total = threads_and_total
    on_total(total)
    report = ImportReport(format=fmt)
    writer = _Writer(known, report, notify, smtputf8, fmt, iso(clock.now()), progress)
    batch: list[SourcePost] = []

    async def flush(orphans: bool = False) -> None:
        while batch:
            posts, rest = batch[:BATCH], batch[BATCH:]

            async def work(
                conn: aiosqlite.Connection, posts: list[SourcePost] = posts, last: bool = orphans
            ) -> list[str]:
                return await writer.write(conn, posts, last)

            stored = await store.write(work)
            batch[:] = rest
            # The replies that waited for what was just stored can follow now.
            for source_id in stored:
                batch.extend(writer.waiting.pop(source_id, []))
            orphans = False

    for post in posts:
        if post.skip:
            report.skip(post.skip)
        elif post.thread not in known:
            report.skip("its thread is not in the file")
        elif not post.body.strip() and not kept_without_text(post.author, post.email, post.status):
            report.skip(EMPTY)
        else:
            report.undated += post.undated
            batch.append(post)
            if len(batch) >= BATCH:
                await flush()
            continue
        progress(1)
    await flush()
    # Replies whose parent never came (deleted, or not in the file): top-level. A
    # reply waiting for another waiting reply goes after it, not to the top level.
    while writer.waiting:
        waiting_ids = {p.source_id for group in writer.waiting.values() for p in group}
        parent = next((p for p in writer.waiting if p not in waiting_ids), None)
        if parent is None:  # a cycle of replies: break it anywhere
            parent = next(iter(writer.waiting))
        batch.extend(writer.waiting.pop(parent))
        await flush(orphans=True)
    return report
