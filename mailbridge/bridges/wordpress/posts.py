"""Whether WordPress takes comments on each bridged post, followed by its thread here.

A post's comments close in wp-admin by hand (its *Allow comments*), by age (*Settings →
Discussion → Automatically close comments on posts older than*, which the REST API's
``comment_status`` never shows), by a plugin, or with the post going back to draft or
to the trash. WordPress then refuses every comment pushed there, so one taken here by
email could never appear on the site. The bridge asks WordPress as its comment form
would (``WordPressClient.comments_open``) and closes the thread here too: an emailed
reply is answered as any closed thread's (rejections.md, ``thread_closed``) and the
widget says the conversation is closed. Opened again there, it opens here, and the
comments WordPress refused for it meanwhile (push.py parks them) go there. A post
renamed there (its title, its slug) is followed too (renames.py).

WordPress rules: the thread is open here exactly when WordPress takes comments on
its post, as last asked, whatever it was before it was bridged (imported closed, or
closed by the admin API, which refuses to open or close a bridged thread).
"""

from __future__ import annotations

import logging

import aiosqlite

from mailbridge.bridges.wordpress import links, renames
from mailbridge.bridges.wordpress.client import WordPressClient, WpPost
from mailbridge.clock import Clock
from mailbridge.store import Store, threads

__all__ = ["PostWatch"]

log = logging.getLogger(__name__)

PER_POLL = 10  # posts asked per poll at most: a large site is gone through in turns


class PostWatch:
    def __init__(
        self, client: WordPressClient, store: Store, clock: Clock, every_seconds: float
    ) -> None:
        self._client = client
        self._store = store
        self._clock = clock
        self._every = every_seconds
        self._asked: dict[int, float] = {}  # post ID: when; after a restart, all are due

    async def check_due(self) -> None:
        """Ask WordPress about the posts not asked for ``every_seconds``, longest first."""
        now = self._clock.now().timestamp()
        posts = await self._store.read(links.bridged_posts)
        due = [p for p in posts if now - self._asked.get(p[0], float("-inf")) >= self._every]
        due.sort(key=lambda p: self._asked.get(p[0], float("-inf")))
        if not due:
            return
        batch = due[:PER_POLL]
        # Their titles and slugs too, in one request: renamed there, renamed here.
        published = await self._client.posts([post_id for post_id, _thread in batch])
        for post_id, thread_id in batch:
            is_open = await self._client.comments_open(post_id)
            self._asked[post_id] = now
            await self.seen(post_id, thread_id, is_open)
            if post_id in published:
                await self._follow(thread_id, published[post_id])

    async def _follow(self, thread_id: int, post: WpPost) -> None:
        was = await self._store.write(lambda c: renames.follow(c, thread_id, post))
        if was is not None:
            log.info(
                "wordpress: post %d renamed there (%s); thread %s renamed after it here, its "
                "old links still reach it", post.id, post.slug, was,
            )  # fmt: skip

    async def refused(self, comment_id: int) -> None:
        """WordPress refused a comment for its post (closed there): closed here now,
        without waiting for that post's turn to be asked."""

        async def find(conn: aiosqlite.Connection) -> tuple[int, int] | None:
            async with conn.execute(
                "SELECT p.post_id, p.thread_id FROM comments c "
                "JOIN wp_posts p ON p.thread_id = c.thread_id WHERE c.id = ?",
                (comment_id,),
            ) as cur:
                row = await cur.fetchone()
            return None if row is None else (int(row[0]), int(row[1]))

        found = await self._store.read(find)
        if found is not None:
            await self.seen(*found, is_open=False)

    async def seen(self, post_id: int, thread_id: int, is_open: bool) -> None:
        key, value = f"post_open:{post_id}", "1" if is_open else "0"

        async def apply(conn: aiosqlite.Connection) -> str | None:
            if await links.get_state(conn, key) != value:
                await links.set_state(conn, key, value)
                if is_open:
                    await links.unpark_post(conn, post_id)  # what it refused goes now
            # WordPress's answer, whatever the thread was here: imported closed (the
            # post closed at the export) and opened there before the bridge first
            # asked, it stayed closed here for good, every emailed reply refused.
            thread = await threads.get_thread(conn, thread_id=thread_id)
            if thread is None or thread.closed == (not is_open):
                return None
            await threads.set_closed(conn, thread.key, not is_open)
            return thread.key

        changed = await self._store.write(apply)
        if changed is not None:
            state = "open" if is_open else "closed"
            log.info(
                "wordpress: comments on post %d %s there; thread %s %s here",
                post_id, state, changed, "opened" if is_open else "closed",
            )  # fmt: skip
