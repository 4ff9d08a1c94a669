"""What the queue page and the spam folder's page read (mailbridge.web.queue,
mailbridge.web.spam_folder): a page of comments a phone can load, the decisions that
can be undone, the comments a form left alone, and which of them a moderator moderates.
"""

from __future__ import annotations

import re

import aiosqlite

from mailbridge.bridges.wordpress.links import off_blog
from mailbridge.models import Comment, CommentStatus
from mailbridge.moderate.private import held_as_private
from mailbridge.notify import excerpt
from mailbridge.store import comments, decisions, threads

__all__ = [
    "DECIDED_PAGE",
    "PAGE_CHARS",
    "PAGE_COMMENTS",
    "decided_page",
    "fits_a_page",
    "kept_now",
    "pending_page",
    "theirs",
    "undo_now",
]

# One page of the queue: 200 comments of up to 20,000 characters each made pages of
# megabytes on a phone, and a spam wave is just that. The next come once these are
# decided.
PAGE_COMMENTS = 50
PAGE_CHARS = 150_000

_KEPT = re.compile(r"[0-9]{1,12}(?:,[0-9]{1,12}){0,199}")


async def kept_now(
    conn: aiosqlite.Connection, asked: str, only: int | None
) -> list[dict[str, object]]:
    """The comments decide() left alone (``kept`` of its redirect), as they are now:
    each is named with its current status, so the moderator sees why it was not
    changed. Ids only, read again here: the query's own words never reach the page;
    one on a thread the moderator does not moderate is named by its number alone."""
    if not _KEPT.fullmatch(asked):
        return []
    found: list[dict[str, object]] = []
    for comment_id in dict.fromkeys(int(part) for part in asked.split(",")):
        comment = await comments.get_comment(conn, comment_id)
        thread = None
        if comment is not None:
            thread = await threads.get_thread(conn, thread_id=comment.thread_id)
            if thread is None or (only is not None and thread.author_address_id != only):
                comment, thread = None, None
        found.append({"id": comment_id, "comment": comment, "thread": thread})
    return found


async def off_blog_now(
    conn: aiosqlite.Connection, asked: str, only: int | None
) -> list[dict[str, object]]:
    """Those just published (``off`` of a redirect: the queue's Approve, the spam
    folder's Not spam) that stay off the blog, as their WordPress post takes no
    comments (bridges/wordpress/links.off_blog): said where the moderator decided, as
    the moderation link's page says it."""
    return [
        item
        for item in await kept_now(conn, asked, only)
        if isinstance(item["comment"], Comment)
        and item["comment"].status is CommentStatus.APPROVED
        and await off_blog(conn, item["comment"].id)
    ]


async def undo_now(
    conn: aiosqlite.Connection, asked: str, only: int | None, since: str
) -> list[dict[str, object]]:
    """Those the spam folder's Not spam just published (``undo`` of its redirect) whose
    publication still stands and may be undone (made since ``since``), each with that
    decision: the Undo is offered where the tap was made, as a moderation link's page
    offers it, not only under the queue page's Decided. Read again here, as kept_now."""
    found: list[dict[str, object]] = []
    for item in await kept_now(conn, asked, only):
        comment = item["comment"]
        if not isinstance(comment, Comment):
            continue
        decision = await decisions.undoable_one(conn, comment.id, since)
        if decision is not None and decision.previous is CommentStatus.SPAM:
            found.append({**item, "decision": decision})
    return found


async def theirs(conn: aiosqlite.Connection, ids: list[int], only: int | None) -> set[int]:
    """Those of the comments that are on a thread the moderator moderates (``only``:
    the address whose threads they are, None for every thread) and exist."""
    found: set[int] = set()
    for comment_id in ids:
        comment = await comments.get_comment(conn, comment_id)
        if comment is None:
            continue
        if only is not None:
            thread = await threads.get_thread(conn, thread_id=comment.thread_id)
            if thread is None or thread.author_address_id != only:
                continue
        found.add(comment_id)
    return found


DECIDED_PAGE = 50


async def decided_page(
    conn: aiosqlite.Connection, since: str, before: int | None, only: int | None
) -> list[dict[str, object]]:
    """Decisions that can still be undone, newest first, with their comment and thread
    (``only``: those on the threads of that address)."""
    items: list[dict[str, object]] = []
    for decision in await decisions.undoable(conn, since, DECIDED_PAGE, before, only):
        comment = await comments.get_comment(conn, decision.comment_id)
        if comment is None:
            continue
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        if thread is None:
            continue
        items.append({"decision": decision, "comment": comment, "thread": thread})
    return items


def fits_a_page(pending: list[Comment]) -> list[Comment]:
    """The oldest pending comments that make a page a phone can load: at most
    PAGE_COMMENTS, and no more text than PAGE_CHARS (but always the first)."""
    shown: list[Comment] = []
    chars = 0
    for comment in pending[:PAGE_COMMENTS]:
        chars += len(comment.body)
        if shown and chars > PAGE_CHARS:
            break
        shown.append(comment)
    return shown


async def pending_page(
    conn: aiosqlite.Connection, only: int | None
) -> tuple[int, list[dict[str, object]]]:
    """How many comments are pending, and the oldest page of them with their thread and
    the comment they answer (``only``: on the threads of that address)."""
    waiting = await comments.pending_count(conn, only)
    items: list[dict[str, object]] = []
    pending = await comments.pending_queue(conn, PAGE_COMMENTS, only)
    for comment in fits_a_page(pending):
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        parent: Comment | None = None
        if comment.parent_id is not None:
            parent = await comments.get_comment(conn, comment.parent_id)
        items.append(
            {
                "comment": comment,
                "thread": thread,
                "parent": parent,
                "parent_excerpt": excerpt(parent.body) if parent else "",
                # Left out of "Select all": ticked one by one, once read (issue 10).
                "private": held_as_private(comment.held_reason),
            }
        )
    return waiting, items
