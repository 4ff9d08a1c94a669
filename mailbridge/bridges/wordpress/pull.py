"""WordPress to mailbridge: new comments, decisions taken in wp-admin, edits, deletions.

Three reads, from cheap to thorough (docs/wordpress.md):

- **new comments**: pages of comments, highest ID first, down to the cursor (the
  highest ID already seen). If a comment went meanwhile (the count WordPress reports
  dropped between pages, so a page boundary moved up), the pass is read again; new
  ones only move the rest down (read twice, never skipped) and wait for the next poll;
- **unsettled comments**: the few held in WordPress or pending in mailbridge, and
  those mirrored or decided in the last 15 minutes (or batch window), read by ID
  every poll, so a decision in wp-admin is seen within ``poll_seconds``; applied
  before the new comments, which may answer them;
- **the sweep**: one page of 100 comments mirrored as approved, by ID, at every poll,
  on from where the last one stopped (a whole turn is one poll per 100), for edits
  made in wp-admin, which WordPress lists by no date of change (no ``modified`` on a
  comment, no ``orderby`` of one): one request a poll, not one a comment;
- **a full sync** every ``full_sync_minutes``: every comment again, for edits; a
  comment that did not come back is asked for by ID: trashed, spam, or gone for good.
  It runs at once when WordPress's count of approved comments moved unseen (tally.py):
  one approved long ago, trashed, spammed or unapproved in wp-admin.

Only what changed in WordPress since the bridge last saw it is taken as WordPress's
decision; anything else is mailbridge's own, on its way there (push.py).
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import replace
from datetime import timedelta
from urllib.parse import unquote

import aiosqlite

from mailbridge.addresses import normalise
from mailbridge.admin.edits import edit_body
from mailbridge.bridges.wordpress import links, renames
from mailbridge.bridges.wordpress.client import (
    Page,
    WordPressClient,
    WordPressDown,
    WordPressMissing,
    WpComment,
    WpPost,
)
from mailbridge.bridges.wordpress.links import Link, digest
from mailbridge.bridges.wordpress.tally import ApprovedTally
from mailbridge.clock import Clock, iso
from mailbridge.errors import InvalidAddress
from mailbridge.importer.load import subscribe_imported
from mailbridge.importer.wp_html import wordpress_to_markdown
from mailbridge.models import Channel, Comment, CommentStatus, Decider, NewComment, Source
from mailbridge.moderate.service import CommentService
from mailbridge.render import render_comment
from mailbridge.settings import WordPressSettings
from mailbridge.store import Store, comments, threads

__all__ = ["Puller"]

log = logging.getLogger(__name__)

BY_WORDPRESS = Decider(Channel.WORDPRESS, None)
PER_PAGE = 100
MAX_PAGES = 10_000  # a million comments: a bound, not a limit anyone meets
_PASSES = 3
_MAX_DEPTH = 32  # parents mirrored before their answer, at most this far up
_STATUS_OF = {
    "approved": CommentStatus.APPROVED,
    "hold": CommentStatus.PENDING,
    "spam": CommentStatus.SPAM,
    "trash": CommentStatus.REJECTED,
    "deleted": CommentStatus.REJECTED,
}


class Puller:
    def __init__(
        self,
        client: WordPressClient,
        store: Store,
        service: CommentService,
        clock: Clock,
        settings: WordPressSettings,
        smtputf8: bool,
        recent_seconds: float = 900.0,
    ) -> None:
        self._client = client
        # A comment mirrored or decided this recently is read again at every poll: a
        # trash or spam in wp-admin right after approving is seen before the batched
        # notifications of it go out (notifications.batch_window_seconds).
        self._recent = timedelta(seconds=recent_seconds)
        self._store = store
        self._service = service
        self._clock = clock
        self._settings = settings
        self._smtputf8 = smtputf8
        self._wanted = {name.lower() for name in settings.posts}
        self._not_bridged: set[int] = set()
        self._tally = ApprovedTally(client, store, bool(self._wanted))

    async def poll(self) -> int:
        """One poll; how many comments were new to mailbridge."""
        cursor_text = await self._store.read(lambda c: links.get_state(c, "cursor"))
        baseline = cursor_text is None
        cursor = int(cursor_text or 0)
        # Decisions first: wp-admin's "Approve and Reply" on a comment pending here
        # approves it and adds the answer, which is new. Mirrored first, the answer
        # was published under an unpublished comment, and its writer never told.
        # The new comments are read after, not before: read first, a comment pushed
        # from here (an emailed reply, held there) came back in them as held, and was
        # applied after the recheck had seen it approved in wp-admin: the approval
        # undone here, then done again at the next poll.
        await self._recheck()
        fresh = await self._new_since(cursor)
        added = 0
        for item in fresh:
            added += await self._arrived(item, live=not baseline)
        top = max([cursor, *(c.id for c in fresh)])
        now = iso(self._clock.now())

        async def mark(conn: aiosqlite.Connection) -> None:
            await links.set_state(conn, "cursor", str(top))
            if baseline:  # it read everything: no full sync needed right away
                await links.set_state(conn, "full_sync_at", str(self._clock.now().timestamp()))

        await self._store.write(mark)
        if baseline:
            log.info("wordpress: first sync: %d comment(s) mirrored without email", added)
        # Due by the clock, or now for a decision in wp-admin on a comment approved
        # long ago (not read again at every poll): one off the page there stays on
        # the page here no longer than two polls.
        if baseline:
            await self._tally.settle()
        elif await self._full_sync_due() or await self._tally.moved():
            added += await self._full_sync()
            await self._tally.settle()
        else:
            await self._sweep()
        await self._store.write(lambda c: links.set_state(c, "last_ok_at", now))
        return added

    async def _new_since(self, cursor: int) -> list[WpComment]:
        for _attempt in range(_PASSES):
            seen: dict[int, WpComment] = {}
            read: set[int] = set()
            first = await self._client.comments(page=1, per_page=PER_PAGE)
            page, before, moved = first, first, False
            for number in range(1, MAX_PAGES + 1):
                if number > 1:
                    page = await self._client.comments(page=number, per_page=PER_PAGE)
                    if not _only_came(before, page, read):
                        moved = True
                        break
                before = page
                read.update(c.id for c in page.comments)
                older = [c for c in page.comments if c.id <= cursor]
                seen.update((c.id, c) for c in page.comments if c.id > cursor)
                if older or number >= page.pages or not page.comments:
                    break
            if not moved:
                return sorted(seen.values(), key=lambda c: c.id)
            log.warning(
                "wordpress: comments came or went while they were read (%d, then %d); "
                "reading them again",
                first.total,
                page.total,
            )
        raise WordPressDown("comments kept changing while they were read; next poll retries")

    async def _recheck(self) -> None:
        """Held there or pending here: read again by ID, for wp-admin's decisions."""
        since = iso(self._clock.now() - self._recent)
        ids = await self._store.read(lambda c: links.unsettled(c, since))
        for start in range(0, len(ids), PER_PAGE):
            chunk = ids[start : start + PER_PAGE]
            page = await self._client.comments(include=chunk, per_page=PER_PAGE, order="asc")
            found = {c.id: c for c in page.comments}
            for wp_id in chunk:
                await self._seen_again(wp_id, found.get(wp_id))

    async def _sweep(self) -> None:
        """The next page of comments mirrored as approved, read again by ID: an edit
        in wp-admin (or a decision) on any of them shows within one turn, a poll per
        100 comments, for one request a poll."""
        after = int(await self._store.read(lambda c: links.get_state(c, "sweep_after")) or 0)
        ids = await self._store.read(lambda c: links.mirrored_after(c, after, PER_PAGE))
        if not ids and after:  # a turn done: from the start again
            ids = await self._store.read(lambda c: links.mirrored_after(c, 0, PER_PAGE))
        if not ids:
            return
        page = await self._client.comments(include=ids, per_page=PER_PAGE, order="asc")
        found = {c.id: c for c in page.comments}
        for wp_id in ids:
            await self._seen_again(wp_id, found.get(wp_id))
        await self._store.write(lambda c: links.set_state(c, "sweep_after", str(ids[-1])))

    async def _full_sync_due(self) -> bool:
        at = await self._store.read(lambda c: links.get_state(c, "full_sync_at"))
        every = self._settings.full_sync_minutes * 60.0
        return at is None or self._clock.now().timestamp() - float(at) >= every

    async def _full_sync(self) -> int:
        started = self._clock.now().timestamp()
        watched = await self._store.read(links.watched)
        added = 0
        seen: set[int] = set()
        for number in range(1, MAX_PAGES + 1):
            page = await self._client.comments(page=number, per_page=PER_PAGE, order="asc")
            for item in page.comments:
                seen.add(item.id)
                added += await self._arrived(item, live=True)
            if number >= page.pages or not page.comments:
                break
        for wp_id in sorted(watched - seen):
            await self._seen_again(wp_id, None)
        await self._store.write(lambda c: links.set_state(c, "full_sync_at", str(started)))
        log.info("wordpress: full sync: %d comment(s) read, %d new", len(seen), added)
        return added

    async def _seen_again(self, wp_id: int, item: WpComment | None) -> None:
        """``item`` as listed now, or None when a listing of approved and held comments
        no longer has it: asked for by ID (trash, spam, or deleted for good)."""
        if item is None:
            try:
                item = await self._client.comment(wp_id)
            except WordPressMissing:
                await self._gone(wp_id)
                return
        await self._arrived(item, live=True)

    async def _arrived(self, item: WpComment, live: bool, depth: int = 0) -> int:
        """Apply what WordPress says of ``item``; 1 when it is new to mailbridge."""
        link = await self._store.read(lambda c: links.link_of_wp(c, item.id))
        if link is not None and link.wp_status == "deleted":
            return 0
        if link is not None and link.comment_id is not None:
            await self._changed(item, link)
            return 0
        thread_id = await self._thread_of(item.post)
        if thread_id is None:
            if link is not None and link.wp_status != item.status:
                # Watched before its post was known not bridged: no longer.
                await self._store.write(
                    lambda c: links.save_link(c, replace(link, wp_status=item.status), self._now())
                )
            return 0
        if item.status != "approved":
            if link is None or link.wp_status != item.status:
                # Held (or spam) there and not mirrored: watched until it is approved.
                held = Link(item.id, None, item.post, item.status, digest(item.content))
                await self._store.write(lambda c: links.save_link(c, held, self._now()))
            return 0
        return await self._mirror(item, thread_id, live, depth)

    async def _mirror(self, item: WpComment, thread_id: int, live: bool, depth: int) -> int:
        body = wordpress_to_markdown(item.content.replace("\r\n", "\n").strip())
        if not body.strip():
            log.info("wordpress: comment %d has no text; not mirrored", item.id)
            return 0
        parent_id = await self._parent_of(item, live, depth)
        email = self._address(item)
        new = NewComment(
            thread_id=thread_id, parent_id=parent_id,
            author=" ".join(item.author_name.split()) or "Anonymous", body=body,
            status=CommentStatus.PENDING if live else CommentStatus.APPROVED,
            source=Source.IMPORT, created_at=_date(item.date_gmt, self._now()), email=email,
            notify=self._settings.notify_commenters, source_ref=str(item.id),
        )  # fmt: skip
        twin = await self._twin(item, thread_id) if live else None
        link = Link(item.id, None, item.post, "approved", digest(item.content), digest(body))
        now = self._now()

        async def linked(conn: aiosqlite.Connection, comment: Comment) -> None:
            await links.save_link(conn, replace(link, comment_id=comment.id), now)
            # Its insert queued a push (the trigger): WordPress has it as it is.
            await conn.execute("DELETE FROM wp_push WHERE comment_id = ?", (comment.id,))
            if email and self._settings.notify_commenters:
                await subscribe_imported(conn, email, thread_id, now)

        if twin is not None:
            # mailbridge created it there, and the answer was lost: the same comment.
            await self._store.write(lambda c: linked(c, twin))
            return 0
        if live:
            _comment, created = await self._service.mirror(new, BY_WORDPRESS, also=linked)
            return int(created)

        async def silently(conn: aiosqlite.Connection) -> bool:
            comment_id, created = await comments.insert_comment(conn, new)
            found = await comments.get_comment(conn, comment_id)
            assert found is not None
            await linked(conn, found)
            return created

        return int(await self._store.write(silently))

    async def _parent_of(self, item: WpComment, live: bool, depth: int) -> int | None:
        """The mirrored comment ``item`` answers. A parent not mirrored yet (held until
        now: wp-admin's "Approve and Reply" approves it with the answer, and the answer
        is read first, being new) is read and mirrored first, so that its writer is told."""
        if not item.parent:
            return None
        parent = await self._store.read(lambda c: links.link_of_wp(c, item.parent))
        if parent is None or (parent.comment_id is None and parent.wp_status != "deleted"):
            if depth < _MAX_DEPTH:
                try:
                    above = await self._client.comment(item.parent)
                except WordPressMissing:
                    return None
                if above.status == "approved" and above.type == "comment":
                    await self._arrived(above, live, depth + 1)
                    parent = await self._store.read(lambda c: links.link_of_wp(c, item.parent))
        return parent.comment_id if parent is not None else None

    async def _changed(self, item: WpComment, link: Link) -> None:
        """A mirrored comment read again: follow its status and text where they moved."""
        assert link.comment_id is not None
        comment_id = link.comment_id
        comment = await self._store.read(lambda c: comments.get_comment(c, comment_id))
        if comment is None:
            return  # deleted in mailbridge: push.py trashes it there
        now = self._now()
        body_hash = link.body_hash
        content_hash = digest(item.content)
        body = None
        if content_hash != link.content_hash:
            body = wordpress_to_markdown(item.content.replace("\r\n", "\n").strip())
            body_hash = digest(body)
        seen = replace(link, wp_status=item.status, content_hash=content_hash, body_hash=body_hash)

        async def edit(conn: aiosqlite.Connection) -> None:
            if body is not None and body.strip():
                if await edit_body(conn, comment_id, body, now, "wordpress"):
                    log.info("wordpress: comment %d edited there; followed", comment_id)

        async def record(conn: aiosqlite.Connection, _comment: Comment | None = None) -> None:
            await links.save_link(conn, seen, now)

        target = _STATUS_OF[item.status]
        if item.status != link.wp_status and comment.status is not target:
            # The edit first: edited and approved in wp-admin at once, the approval's
            # emails and webhooks must carry the words as the moderator left them.
            # Apart, a crash between the two only repeats the edit, which is a no-op.
            await self._store.write(edit)
            await self._service.decide(comment_id, target, BY_WORDPRESS, also=record)
        elif seen != link:

            async def both(conn: aiosqlite.Connection) -> None:
                await edit(conn)
                await record(conn)

            await self._store.write(both)

    async def _gone(self, wp_id: int) -> None:
        """Deleted for good in WordPress: a tombstone, and off the page here."""
        link = await self._store.read(lambda c: links.link_of_wp(c, wp_id))
        if link is None or link.wp_status == "deleted":
            return
        tomb = replace(link, wp_status="deleted")
        now = self._now()

        async def record(conn: aiosqlite.Connection, _comment: Comment | None = None) -> None:
            await links.save_link(conn, tomb, now)

        log.info("wordpress: comment %d was deleted there", wp_id)
        if link.comment_id is not None:
            comment_id = link.comment_id
            found = await self._store.read(lambda c: comments.get_comment(c, comment_id))
            if found is not None and found.status is not CommentStatus.REJECTED:
                await self._service.decide(
                    comment_id, CommentStatus.REJECTED, BY_WORDPRESS, also=record
                )
                return
        await self._store.write(record)

    async def _twin(self, item: WpComment, thread_id: int) -> Comment | None:
        """A comment of mailbridge's, not linked yet, that is ``item``: same thread,
        same writer, same words (its creation there answered, but the answer was lost)."""
        words = text_of(item.content)

        async def find(conn: aiosqlite.Connection) -> Comment | None:
            async with conn.execute(
                "SELECT c.id FROM comments c JOIN addresses a ON a.id = c.address_id "
                "LEFT JOIN wp_comments w ON w.comment_id = c.id "
                "WHERE c.thread_id = ? AND c.source != 'import' AND w.wp_id IS NULL "
                "AND a.email = ? COLLATE NOCASE",
                (thread_id, item.author_email),
            ) as cur:
                ids = [int(r[0]) for r in await cur.fetchall()]
            for comment_id in ids:
                found = await comments.get_comment(conn, comment_id)
                if found is not None and text_of(render_comment(found.body)) == words:
                    return found
            return None

        return await self._store.read(find)

    async def _thread_of(self, post_id: int) -> int | None:
        """The thread of a bridged post (made on first sight); None when not bridged."""
        if post_id in self._not_bridged:
            return None
        found = await self._store.read(lambda c: links.thread_of_post(c, post_id))
        if found is not None:
            return found
        try:
            post = await self._client.post(post_id)
        except WordPressMissing:  # an attachment's comments, or a post deleted since
            self._not_bridged.add(post_id)
            return None
        # A slug as wp-admin shows it ("привет-мир") or as stored ("%d0%bf%d1%80..."),
        # in any case: WordPress lowercases it only where PHP has mbstring.
        names = {str(post.id), post.slug.lower(), unquote(post.slug).lower()}
        if self._wanted and not names & self._wanted:
            self._not_bridged.add(post_id)
            return None
        return await self._store.write(lambda c: _map_post(c, post, self._now()))

    def _address(self, item: WpComment) -> str | None:
        if not item.author_email:
            return None
        try:
            return normalise(item.author_email, smtputf8=self._smtputf8)
        except InvalidAddress as exc:
            log.info("wordpress: comment %d: address not used: %s", item.id, exc.reason)
            return None

    def _now(self) -> str:
        return iso(self._clock.now())


async def _map_post(conn: aiosqlite.Connection, post: WpPost, now: str) -> int:
    key = await renames.key_for(conn, post)  # not another post's, renamed or not
    thread_id, created = await threads.upsert_thread(
        conn, key=key, title=renames.title_of(post), url=renames.link_of(post), author="",
        author_address_id=None, now=now, closed=not post.comments_open,
    )  # fmt: skip
    await links.map_post(conn, post.id, thread_id)
    log.info("wordpress: post %d is thread %s (%s)", post.id, key, "new" if created else "existing")
    return thread_id


def _only_came(before: Page, page: Page, read: set[int]) -> bool:
    """Whether nothing was skipped between two pages read newest first: the count is
    the same, or it grew and the page begins with as many comments read already (new
    comments, at the top, moved the rest down). Anything else (one gone, or one back
    from spam among the older) may have moved one unread past the boundary."""
    grew = page.total - before.total
    return grew >= 0 and sum(c.id in read for c in page.comments) == grew


def text_of(markup: str) -> str:
    """The words of some HTML, for comparing what two systems stored of one text."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", markup)).split())


def _date(date_gmt: str, fallback: str) -> str:
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", date_gmt):
        return date_gmt + "+00:00"
    return fallback
