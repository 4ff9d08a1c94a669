"""The spam folder's page: /moderate/spam, beside the queue, for a moderator on a phone.

Signed in as for the queue (its session, its CSRF token, its scope: a thread's author
sees their own posts' spam only). Lists what is in the folder, newest first, a page a
phone can load at a time, each comment with why it is there, its post and the comment
it answers; "Not spam" publishes the selected ones or puts them back in the queue (the
trained filter learns them as ham either way), "Delete for good" deletes them after a
confirmation page. Only comments still in the folder are changed: one decided since
the page was loaded is left as it is, and named.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from datetime import timedelta

import aiosqlite
from aiohttp import web

from mailbridge.bridges.wordpress.links import off_blog
from mailbridge.clock import Clock, iso
from mailbridge.errors import NotFound
from mailbridge.models import Channel, Comment, CommentStatus, Decider, Decision, whole_number
from mailbridge.moderate import explain
from mailbridge.moderate.private import held_as_private
from mailbridge.moderate.service import CommentService
from mailbridge.moderate.spam_folder import Removed
from mailbridge.notify import excerpt
from mailbridge.settings import Settings
from mailbridge.spam import training
from mailbridge.store import Store, comments, decisions, threads
from mailbridge.templating import Renderer
from mailbridge.tokens import Action, Keyring, csrf_token
from mailbridge.web.guard import read_form
from mailbridge.web.moderation import UNDO_DAYS
from mailbridge.web.queue import AFTER_SIGN_IN, QueuePages

# The queue's page size (50 comments, 150,000 characters): a robot's wall of text times
# fifty was megabytes on a phone.
from mailbridge.web.queue_reads import (
    PAGE_COMMENTS,
    fits_a_page,
    kept_now,
    off_blog_now,
    theirs,
    undo_now,
)

__all__ = ["SpamFolderPages"]

log = logging.getLogger(__name__)

MOST_AT_ONCE = 200  # comments one form may name (as the queue's)
_ACTIONS = ("approve", "pending", "delete")

# What act() redirects with, checked again when shown: a link from anywhere must not
# put its own words on the moderator's page.
_DONE = re.compile(r"none|(approve|pending|delete):[0-9]{1,3}")


def done_said(asked: str) -> str:
    """The ``done`` of the query when act() could have sent it, else ""."""
    return asked if _DONE.fullmatch(asked) else ""


def asked_ids(form_values: list[str]) -> list[int]:
    """The comment numbers a form named, each once, in order, at most MOST_AT_ONCE."""
    found = (whole_number(value) for value in form_values)
    return list(dict.fromkeys(n for n in found if n is not None))[:MOST_AT_ONCE]


class SpamFolderPages:
    def __init__(
        self,
        *,
        queue: QueuePages,
        service: CommentService,
        store: Store,
        renderer: Renderer,
        keyring: Keyring,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._service = service
        self._store = store
        self._renderer = renderer
        self._key = keyring.moderation
        self._site = settings.site.name

    def _html(self, name: str, nonce: str = "", **context: object) -> web.Response:
        body = self._renderer.page(name, site_name=self._site, nonce=nonce, **context)
        response = web.Response(text=body, content_type="text/html")
        response.headers["Cache-Control"] = "no-store"
        # As the queue's: only the page's own "select all" script may run.
        script = f"'nonce-{nonce}'" if nonce else "'none'"
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src {script}; style-src 'unsafe-inline'; "
            "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        return response

    async def page(self, request: web.Request) -> web.Response:
        signed_in = await self._queue.signed_in(request)
        if signed_in is None:  # the report's link, opened before signing in
            return self._html("moderate_login", sent=False, next_page=AFTER_SIGN_IN)
        session, token = signed_in
        only = self._queue.scope(session)
        before = whole_number(request.query.get("before", ""))
        total, items, older = await self._store.read(lambda c: _folder(c, before, only))
        nonce = secrets.token_urlsafe(16)
        asked = {
            name: request.query.get(name, "")
            for name in ("kept", "answered", "off", "failed", "undo")
        }
        since = iso(self._clock.now() - timedelta(days=UNDO_DAYS))
        return self._html(
            "moderate_spam",
            nonce=nonce,
            total=total,
            items=items,
            older=older,
            newest=before is None,
            who=session.email,
            csrf=csrf_token(self._key, token),
            done=done_said(request.query.get("done", "")),
            kept=await self._store.read(lambda c: kept_now(c, asked["kept"], only)),
            answered=await self._store.read(lambda c: kept_now(c, asked["answered"], only)),
            off_blog=await self._store.read(lambda c: off_blog_now(c, asked["off"], only)),
            failed=await self._store.read(lambda c: kept_now(c, asked["failed"], only)),
            undo=await self._store.read(lambda c: undo_now(c, asked["undo"], only, since)),
            undo_days=UNDO_DAYS,
        )

    async def act(self, request: web.Request) -> web.StreamResponse:
        session = await self._queue.checked(request)
        form = await read_form(request)
        action = str(form.get("action", ""))
        if action not in _ACTIONS:
            raise web.HTTPBadRequest(
                text="Choose Not spam (publish it or put it back in the queue) or Delete for good."
            )
        ids = asked_ids([str(v) for v in form.getall("comment", [])])
        if not ids:
            raise web.HTTPSeeOther("/moderate/spam?done=none")
        only = self._queue.scope(session)
        allowed = await self._store.read(lambda c: theirs(c, ids, only))
        if action == "delete" and form.get("sure") != "yes":
            # Deleting cannot be undone: the selection is shown again, with one button.
            chosen = [i for i in ids if i in allowed]
            listed = await self._store.read(lambda c: _still_spam(c, chosen))
            signed_in = await self._queue.signed_in(request)
            assert signed_in is not None  # checked() above
            token = signed_in[1]
            return self._html("moderate_spam_delete", items=listed,
                              csrf=csrf_token(self._key, token))  # fmt: skip
        by = Decider(Channel.QUEUE, session.address_id)
        done = 0
        kept: list[int] = []  # decided since the page was loaded (or gone): left alone
        answered: list[int] = []  # not deleted: somebody replied to it
        off: list[int] = []  # published here only: its WordPress post takes no comments
        published: list[int] = []  # offered an Undo on the page the redirect shows
        failed: list[int] = []  # not done: a failure stopped the batch (as on the queue)
        for n, comment_id in enumerate(ids):
            if comment_id not in allowed:
                kept.append(comment_id)  # another author's post, or no such comment
                continue
            try:
                if action == "delete":
                    removed = await self._service.delete_spam(comment_id)
                    if removed is Removed.DELETED:
                        done += 1
                    else:
                        (answered if removed is Removed.ANSWERED else kept).append(comment_id)
                    continue
                if action == "approve":
                    # Only while still spam: a page hours old must not publish a
                    # comment someone rejected or deleted since.
                    outcome = await self._service.moderate(
                        comment_id, Action.APPROVE, by, expected=CommentStatus.SPAM
                    )
                else:
                    outcome = await self._service.rescue(comment_id, by)
            except NotFound:  # deleted meanwhile, or erased at its writer's request
                kept.append(comment_id)
                continue
            except Exception:
                # One transaction each: those before stand. Stop and name the rest, as
                # the queue page does (mailbridge.web.queue.decide); a bare 500 left the
                # author guessing which were done.
                log.exception("spam folder: %s of comment %d failed; %d done (session %d)",
                              action, comment_id, done, session.id)  # fmt: skip
                failed = [i for i in ids[n:] if i in allowed]
                break
            if outcome.changed:
                done += 1
                if action == "approve":
                    published.append(comment_id)
                if action == "approve" and await self._store.read(
                    functools.partial(off_blog, comment_id=comment_id)
                ):
                    off.append(comment_id)
            else:
                kept.append(comment_id)
        log.info("spam folder: %s of %d comment(s), %d done (session %d)",
                 action, len(ids), done, session.id)  # fmt: skip
        if action == "delete" and done:
            # As after an erasure: the write-ahead log kept the deleted pages (the
            # addresses the robots typed among them) for any copy of the data directory.
            await self._store.scrub()
        left = f"&kept={','.join(map(str, kept))}" if kept else ""
        left += f"&answered={','.join(map(str, answered))}" if answered else ""
        left += f"&off={','.join(map(str, off))}" if off else ""
        left += f"&failed={','.join(map(str, failed))}" if failed else ""
        left += f"&undo={','.join(map(str, published))}" if published else ""
        raise web.HTTPSeeOther(f"/moderate/spam?done={action}:{done}{left}")


async def _still_spam(conn: aiosqlite.Connection, ids: list[int]) -> list[dict[str, object]]:
    """The comments a delete would take, for its confirmation page."""
    found: list[dict[str, object]] = []
    for comment_id in ids:
        comment = await comments.get_comment(conn, comment_id)
        if comment is None or comment.status is not CommentStatus.SPAM:
            continue
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        found.append({"comment": comment, "thread": thread})
    return found


async def _folder(
    conn: aiosqlite.Connection, before: int | None, only: int | None
) -> tuple[int, list[dict[str, object]], int | None]:
    """How many are in the folder, a page of them newest first with their context, and
    the comment the next page starts below (None: this is the last)."""
    total = await comments.spam_count(conn, only)
    found = await comments.spam_page(conn, PAGE_COMMENTS + 1, before, only)
    shown = fits_a_page(found)
    items: list[dict[str, object]] = []
    for comment in shown:
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        parent: Comment | None = None
        if comment.parent_id is not None:
            parent = await comments.get_comment(conn, comment.parent_id)
        history = await decisions.history(conn, comment.id)
        learnt = await training.learnt_from(conn, comment.id)
        decision: Decision | None = explain.placed_by(tuple(history), learnt)
        items.append(
            {
                "comment": comment,
                "thread": thread,
                "parent": parent,
                "parent_excerpt": excerpt(parent.body) if parent else "",
                "decision": decision,
                # Left out of "Select all", as on the queue: ticked once read.
                "private": held_as_private(comment.held_reason),
            }
        )
    older = shown[-1].id if shown and len(found) > len(shown) else None
    return total, items, older
