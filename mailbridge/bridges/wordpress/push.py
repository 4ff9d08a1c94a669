"""mailbridge to WordPress: bring each changed comment's state there.

A trigger (migration 0017) queues a comment in ``wp_push`` in the same transaction
as any change to it in a bridged thread, so nothing is forgotten across a crash.
Pushing a comment makes WordPress match mailbridge *where they differ from what the
bridge last knew of WordPress*: a change that came from WordPress is already known
there, so it costs no request and cannot bounce back.

- not there yet: created, as ``hold`` (or ``approved`` when already published),
  except one held as it may reveal personal details, created once approved here;
  under the right parent, with the writer's name and address. Its text goes as the
  sanitised HTML mailbridge publishes (never raw: the bridge's user may post
  unfiltered HTML). If a create's answer was lost, WordPress refuses the repeat as a
  duplicate (409), and the existing comment is found and linked instead;
- there: its status (approved, hold, spam, trash for rejected) and text, if changed;
  one held as private put back to pending (an Undo) is deleted there, until approved;
- deleted in WordPress (a tombstone): never created again;
- deleted in mailbridge: trashed there;
- refused for its post (comments closed there): parked until the post takes comments
  again (posts.py), not retried on a timer.

Imported comments (from a file, or mirrored from WordPress) are never created there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

import aiosqlite

from mailbridge.bridges.wordpress import links
from mailbridge.bridges.wordpress.client import (
    WordPressClient,
    WordPressDown,
    WordPressMissing,
    WordPressRefused,
    WordPressRejected,
    WpComment,
)
from mailbridge.bridges.wordpress.links import Link, Push, digest
from mailbridge.bridges.wordpress.pull import BY_WORDPRESS, text_of
from mailbridge.clock import Clock, iso
from mailbridge.models import Comment, CommentStatus, Source
from mailbridge.moderate.private import held_as_private
from mailbridge.moderate.service import CommentService
from mailbridge.people import data as people
from mailbridge.render import render_comment
from mailbridge.store import Store, comments, threads

__all__ = ["Pusher"]

log = logging.getLogger(__name__)

_WP_STATUS = {
    CommentStatus.APPROVED: "approved",
    CommentStatus.PENDING: "hold",
    CommentStatus.SPAM: "spam",
    CommentStatus.REJECTED: "trash",
}
_MAX_DEPTH = 32
_REMOVED = "<p>(removed at its writer's request)</p>"
_MAX_BACKOFF_SECONDS = 3600.0


class Pusher:
    def __init__(
        self,
        client: WordPressClient,
        store: Store,
        service: CommentService,
        clock: Clock,
        retry_seconds: float = 30.0,
        post_closed: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._post_closed = post_closed  # told the comment refused for its post
        self._retry_seconds = retry_seconds  # doubled after every failure of one comment
        self._store = store
        self._service = service
        self._clock = clock

    async def push_due(self) -> int:
        """Push every comment due; how many were pushed. WordPress being down (or
        refusing the credentials) ends the round: the rest waits for the next one."""
        done = 0
        while True:
            due = await self._store.read(
                lambda c: links.due_pushes(c, self._clock.now().timestamp())
            )
            if not due:
                return done
            for push in due:
                try:
                    await self._sync(push.comment_id)
                except WordPressRejected as exc:
                    if exc.post_closed:
                        await self._parked(push, exc)
                        continue
                    await self._failed(push, str(exc))
                    log.warning("wordpress: comment %d not pushed: %s", push.comment_id, exc)
                    continue
                except (WordPressDown, WordPressRefused) as exc:
                    # The site's failure, not this comment's: it stays due, and the
                    # bridge's own backoff says when WordPress is tried again.
                    await self._site_failed(push, str(exc))
                    raise
                await self._store.write(lambda c, p=push: links.push_done(c, p))  # type: ignore[misc]
                done += 1

    async def _site_failed(self, push: Push, error: str) -> None:
        await self._store.write(lambda c: links.push_error(c, push, error))

    async def _parked(self, push: Push, exc: WordPressRejected) -> None:
        """Refused for its post: tried again when the post takes comments again (posts.py
        sees it open) or the comment changes here, not hourly for ever: WordPress gives
        the same answer to every try while the post stays closed."""
        await self._store.write(lambda c: links.push_parked(c, push, str(exc)))
        status = await self._store.read(lambda c: _status_of(c, push.comment_id))
        log.warning(
            "wordpress: comment %d not pushed: %s (kept here only, %s; not tried again "
            "until the post takes comments again)",
            push.comment_id, exc, status,
        )  # fmt: skip
        if self._post_closed is not None:
            await self._post_closed(push.comment_id)

    async def _failed(self, push: Push, error: str) -> None:
        delay = min(self._retry_seconds * 2**push.attempts, _MAX_BACKOFF_SECONDS)
        next_at = self._clock.now().timestamp() + delay
        await self._store.write(lambda c: links.push_failed(c, push, error, next_at))

    async def _sync(self, comment_id: int, depth: int = 0) -> int | None:
        """Bring the comment's state to WordPress; its WordPress ID (None: not there)."""
        comment, link, post_id, email = await self._store.read(lambda c: _state(c, comment_id))
        if link is not None and link.wp_status == "deleted":
            return None  # deleted in WordPress: never created again
        if comment is None:
            if link is not None and link.wp_status != "trash":
                try:
                    trashed = await self._client.update_comment(link.wp_id, {"status": "trash"})
                except WordPressMissing:  # deleted there too, before a poll saw it
                    await self._save(replace(link, wp_status="deleted"))
                    return None
                await self._save(replace(link, wp_status=trashed.status))
                log.info("wordpress: comment %d deleted here; trashed there", comment_id)
            return None
        if link is None:
            if post_id is None or depth > _MAX_DEPTH:
                return None
            return await self._create(comment, post_id, email, depth)
        if _private_pending(comment) and comment.source is not Source.IMPORT:
            await self._take_out(comment, link)  # never one WordPress had first
            return None
        fields: dict[str, str] = {}
        wanted = _WP_STATUS[comment.status]
        if wanted != link.wp_status:
            fields["status"] = wanted
        if digest(comment.body) != link.body_hash:
            fields["content"] = render_comment(comment.body)
        if people.erased(comment):
            # Its writer erased here (docs/privacy.md): nobody's name or address there
            # either. Sent at every push of it: only an erasure or a change queues one.
            fields.update(author_name=comment.author, author_email="", author_url="")
            # As WordPress's own eraser leaves it (the REST API takes no empty one).
            fields["author_ip"] = "0.0.0.0"  # noqa: S104 - an address stored, not bound
            if "content" in fields and people.removed(comment):
                # Its words removed too: WordPress refuses an empty text (400), which
                # left them there, on the page, with every later push refused.
                fields["content"] = _REMOVED
        if not fields:
            return link.wp_id
        try:
            updated = await self._client.update_comment(link.wp_id, fields)
        except WordPressMissing:
            await self._deleted_there(comment, link)
            return None
        await self._save(
            replace(link, wp_status=updated.status, content_hash=digest(updated.content),
                    body_hash=digest(comment.body)),
        )  # fmt: skip
        log.info(
            "wordpress: comment %d -> %s there (%s)", comment.id, link.wp_id, ", ".join(fields)
        )
        return link.wp_id

    async def _create(
        self, comment: Comment, post_id: int, email: str | None, depth: int
    ) -> int | None:
        if comment.source is Source.IMPORT:
            return None  # from a file or from WordPress itself: not ours to create there
        if comment.status not in (CommentStatus.PENDING, CommentStatus.APPROVED):
            return None  # rejected or spam before it ever got there: nothing to show
        if _private_pending(comment):
            # wp-admin shows no reason a comment is held and approves it in one click:
            # one that may carry its writer's number goes there once approved here,
            # where the moderator was told what was seen.
            return None
        parent_wp = 0
        if comment.parent_id is not None:
            parent_wp = await self._sync(comment.parent_id, depth + 1) or 0
        content = render_comment(comment.body)
        fields = {
            "post": post_id,
            "parent": parent_wp,
            "author_name": comment.author,
            "author_email": email or "",
            "content": content,
            "date_gmt": _wp_date(comment.created_at),
            "status": _WP_STATUS[comment.status],
        }
        try:
            created = await self._client.create_comment(fields)
        except WordPressRejected as exc:
            if exc.code != "comment_duplicate":
                raise
            found = await self._find(post_id, parent_wp, email or "", content)
            if found is None:
                raise
            owner = await self._store.read(lambda c: links.link_of_wp(c, found.id))
            if owner is not None and owner.comment_id not in (None, comment.id):
                # Not this one's lost answer: another comment here with the same words
                # by the same writer (sent twice). Taking its link would make a
                # decision on the repeat act on the first there.
                log.info(
                    "wordpress: comment %d not created there: WordPress has the same words "
                    "by the same writer already (%d, comment %d here)",
                    comment.id, found.id, owner.comment_id,
                )  # fmt: skip
                return None
            created = found
            log.info("wordpress: comment %d was there already as %d", comment.id, found.id)
        await self._save(
            Link(created.id, comment.id, post_id, created.status, digest(created.content),
                 digest(comment.body)),
        )  # fmt: skip
        log.info(
            "wordpress: comment %d created there as %d (%s)", comment.id, created.id, created.status
        )
        return created.id

    async def _take_out(self, comment: Comment, link: Link) -> None:
        """One held as it may reveal personal details, approved and sent there, then
        back to pending here (an Undo, often of a tap made before the number was
        seen): deleted there, and created afresh once approved here again. Put back to
        'hold', it sat in wp-admin's queue with no reason shown, one Approve from
        publishing the number."""
        try:
            await self._client.delete_comment(link.wp_id)
        except WordPressMissing:
            pass  # gone there already
        await self._store.write(lambda c: links.drop_link(c, comment.id))
        log.info(
            "wordpress: comment %d held as private again; deleted there (%d) until approved",
            comment.id, link.wp_id,
        )  # fmt: skip

    async def _find(self, post_id: int, parent: int, email: str, content: str) -> WpComment | None:
        """The comment WordPress calls a duplicate of ours (see the module doc)."""
        words = text_of(content)
        for status in ("all", "spam"):
            page = await self._client.comments(
                status=status, per_page=100,
                extra={"post": str(post_id), "parent": str(parent), "author_email": email},
            )  # fmt: skip
            for item in page.comments:
                if text_of(item.content) == words:
                    return item
        return None

    async def _deleted_there(self, comment: Comment, link: Link) -> None:
        tomb = replace(link, wp_status="deleted")
        now = iso(self._clock.now())

        async def record(conn: aiosqlite.Connection, _comment: Comment | None = None) -> None:
            await links.save_link(conn, tomb, now)

        log.info("wordpress: comment %d was deleted there; off the page here", comment.id)
        if comment.status is CommentStatus.REJECTED:
            await self._store.write(record)
        else:
            await self._service.decide(
                comment.id, CommentStatus.REJECTED, BY_WORDPRESS, also=record
            )

    async def _save(self, link: Link) -> None:
        now = iso(self._clock.now())
        await self._store.write(lambda c: links.save_link(c, link, now))


async def _state(
    conn: aiosqlite.Connection, comment_id: int
) -> tuple[Comment | None, Link | None, int | None, str | None]:
    comment = await comments.get_comment(conn, comment_id)
    link = await links.link_of_comment(conn, comment_id)
    post_id = email = None
    if comment is not None:
        async with conn.execute(
            "SELECT post_id FROM wp_posts WHERE thread_id = ?", (comment.thread_id,)
        ) as cur:
            row = await cur.fetchone()
        post_id = None if row is None else int(row[0])
        if comment.address_id is not None:
            email = await threads.address_email(conn, comment.address_id)
    return comment, link, post_id, email


async def _status_of(conn: aiosqlite.Connection, comment_id: int) -> str:
    comment = await comments.get_comment(conn, comment_id)
    return "gone" if comment is None else comment.status.value


def _private_pending(comment: Comment) -> bool:
    """Pending, held as it may reveal personal details: kept out of wp-admin."""
    return comment.status is CommentStatus.PENDING and held_as_private(comment.held_reason)


def _wp_date(created_at: str) -> str:
    """mailbridge's ISO 8601 to WordPress's ``date_gmt`` (UTC, no zone)."""
    try:
        moment = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
