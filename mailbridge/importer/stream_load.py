"""Write a streamed export (Disqus, Isso) into the store as it is read, in batches,
idempotently.

Posts are written in file order, a few hundred per transaction. A reply whose parent
is not stored yet (the export is not always in order) waits in a list of its own,
and is written once its parent is; replies whose parent never comes become
top-level, like every importer's orphans. What is not imported is counted by
reason for the summary: deleted at the source, a thread the file does not describe,
an empty message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.importer.load import ImportReport, subscribe_imported, usable_address
from mailbridge.importer.records import SourcePost, SourceThread
from mailbridge.models import NewComment, Source
from mailbridge.store import Store, comments, threads

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
    ) -> None:
        self._known = known
        self._prefix = prefix
        self._report = report
        self._notify = notify
        self._smtputf8 = smtputf8
        self._thread_ids: dict[str, int] = {}
        self.waiting: dict[str, list[SourcePost]] = {}  # parent dsq:id -> replies

    async def _thread_id(self, conn: aiosqlite.Connection, thread: SourceThread, now: str) -> int:
        found = self._thread_ids.get(thread.source_id)
        if found is None:
            found, created = await threads.upsert_thread(
                conn, key=thread.key, title=thread.title, url=thread.url, author="",
                author_address_id=None, now=now, closed=thread.closed,
            )  # fmt: skip
            self._thread_ids[thread.source_id] = found
            if created:
                self._report.threads_created += 1
            else:
                self._report.threads_existing += 1
        return found

    async def write(
        self, conn: aiosqlite.Connection, post: SourcePost, now: str, orphan: bool = False
    ) -> int:
        """Store ``post`` (and the replies that waited for it); how many were stored."""
        thread = self._known[post.thread]
        thread_id = await self._thread_id(conn, thread, now)
        parent_id = None
        if post.parent and not orphan:
            parent_id = await _stored(conn, thread_id, f"{self._prefix}:{post.parent}")
            if parent_id is None:
                self.waiting.setdefault(post.parent, []).append(post)
                return 0
        where = f"thread {thread.key}, post {post.source_id}"
        email = usable_address(post.email, where, self._report, self._smtputf8)
        _id, added = await comments.insert_comment(
            conn,
            NewComment(
                thread_id=thread_id, parent_id=parent_id, author=post.author, body=post.body,
                status=post.status,
                source=Source.IMPORT, created_at=post.created_at, email=email,
                notify=self._notify, source_ref=f"{self._prefix}:{post.source_id}",
            ),
        )  # fmt: skip
        if added:
            self._report.comments_added += 1
            self._report.orphans += bool(orphan and post.parent)
            if self._notify and email:
                await subscribe_imported(conn, email, thread_id, now)
        else:
            self._report.comments_existing += 1
        stored = 1
        for reply in self.waiting.pop(post.source_id, []):
            stored += await self.write(conn, reply, now)
        return stored


async def _stored(conn: aiosqlite.Connection, thread_id: int, ref: str) -> int | None:
    async with conn.execute(
        "SELECT id FROM comments WHERE thread_id = ? AND source = 'import' AND source_ref = ?",
        (thread_id, ref),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


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
    writer = _Writer(known, report, notify, smtputf8, prefix=fmt)
    now = iso(clock.now())
    batch: list[SourcePost] = []

    async def flush(orphans: bool = False) -> None:
        async def work(conn: aiosqlite.Connection) -> None:
            for post in batch:
                await writer.write(conn, post, now, orphan=orphans)

        await store.write(work)
        progress(len(batch))
        batch.clear()

    for post in posts:
        if post.skip:
            report.skip(post.skip)
        elif post.thread not in known:
            report.skip("its thread is not in the file")
        elif not post.body.strip():
            report.skip("empty message")
        else:
            batch.append(post)
            if len(batch) >= BATCH:
                await flush()
            continue
        progress(1)
    await flush()
    # Replies whose parent never came (deleted, or not in the file): top-level.
    while writer.waiting:
        parent = next(iter(writer.waiting))
        batch.extend(writer.waiting.pop(parent))
        await flush(orphans=True)
    return report
