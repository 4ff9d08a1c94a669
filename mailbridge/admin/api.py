"""The admin API's routes: comments listed by status and thread (cursor pagination),
one comment, and moderation decisions, for software holding an API token.

Every answer is JSON; every error is ``{"code", "message"}`` with a stable ``code``.
A missing, malformed, wrong or revoked token gets the same 401: nothing tells which.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re

import aiosqlite
from aiohttp import web

from mailbridge.admin import edits, tokens
from mailbridge.admin.openapi import document
from mailbridge.bridges.wordpress.links import post_of_thread
from mailbridge.clock import Clock, iso
from mailbridge.errors import NotFound
from mailbridge.models import (
    MAX_COMMENT_CHARS,
    Channel,
    Comment,
    CommentStatus,
    Decider,
    Thread,
    comment_fields,
    echoed,
    whole_number,
)
from mailbridge.moderate.service import CommentService
from mailbridge.people import data as people
from mailbridge.store import Store, comments, threads
from mailbridge.store.former_keys import current_key
from mailbridge.text_rules import TextRefused, check_body, check_name
from mailbridge.tokens import Action

__all__ = ["AdminApi"]

log = logging.getLogger(__name__)

_ACTIONS = {"approve": Action.APPROVE, "reject": Action.REJECT, "spam": Action.SPAM}
MAX_LIMIT = 200


def error(status: int, code: str, message: str) -> web.Response:
    response = web.json_response({"code": code, "message": message}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"c{last_id}".encode()).decode().rstrip("=")


def _read_cursor(raw: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return whole_number(text[1:]) if text.startswith("c") else None


class AdminApi:
    def __init__(
        self, service: CommentService, store: Store, clock: Clock, erased_comments: str
    ) -> None:
        self._service = service
        self._store = store
        self._clock = clock
        self._erased_comments = erased_comments

    async def _token(self, request: web.Request, scope: str) -> tokens.ApiToken | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        found = None
        if scheme.lower() == "bearer" and value.strip():
            found = await self._store.read(lambda c: tokens.verify(c, value.strip()))
        if found is None:
            log.info("admin API: refused a request without a valid token from %s", request.remote)
            response = error(401, "unauthorized", "A valid API token is required.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="mailbridge"'
            return response
        if scope not in found.scopes:
            return error(403, "forbidden", f"This token does not have the '{scope}' scope.")
        return found

    async def _comment_request(
        self, request: web.Request, scope: str
    ) -> tuple[tokens.ApiToken, int] | web.Response:
        """The token (with ``scope``) and the comment id of a /comments/{id} request, or
        the error to answer."""
        token = await self._token(request, scope)
        if isinstance(token, web.Response):
            return token
        comment_id = _id(request)
        if comment_id is None:
            return error(404, "comment_not_found", "no such comment")
        return token, comment_id

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(document())

    async def list_comments(self, request: web.Request) -> web.Response:
        token = await self._token(request, "read")
        if isinstance(token, web.Response):
            return token
        query = request.query
        status = query.get("status")
        if status is not None and status not in {s.value for s in CommentStatus}:
            return error(400, "invalid_status", "status: one of pending, approved, rejected, spam")
        limit = whole_number(query.get("limit", "50"), 1, MAX_LIMIT)
        if limit is None:
            return error(400, "invalid_limit", f"limit: a whole number from 1 to {MAX_LIMIT}")
        before = None
        if "cursor" in query:
            before = _read_cursor(query["cursor"])
            if before is None:
                return error(400, "invalid_cursor", "cursor: use next_cursor from a previous page")
        thread_key = query.get("thread")

        async def work(conn: aiosqlite.Connection) -> list[dict[str, object]] | None:
            thread_id = None
            if thread_key is not None:
                # A renamed WordPress post's old key names it still (each comment's
                # "thread" says the key now).
                key_now = await current_key(conn, thread_key)
                thread = None if key_now is None else await threads.get_thread(conn, key=key_now)
                if thread is None:
                    return None
                thread_id = thread.id
            found = await _page(conn, status, thread_id, before, limit + 1)
            return [await _view(conn, c) for c in found]

        rows = await self._store.read(work)
        if rows is None:
            return error(404, "thread_not_found", f"no thread '{echoed(thread_key or '')}'")
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _cursor(int(str(rows[-1]["id"]))) if more and rows else None
        return web.json_response({"comments": rows, "next_cursor": next_cursor})

    async def get_comment(self, request: web.Request) -> web.Response:
        checked = await self._comment_request(request, "read")
        if isinstance(checked, web.Response):
            return checked
        _token, comment_id = checked

        async def work(conn: aiosqlite.Connection) -> dict[str, object] | None:
            found = await comments.get_comment(conn, comment_id)
            return None if found is None else await _view(conn, found)

        view = await self._store.read(work)
        if view is None:
            return error(404, "comment_not_found", f"no comment {comment_id}")
        return web.json_response(view)

    async def decide(self, request: web.Request) -> web.Response:
        token = await self._token(request, "moderate")
        if isinstance(token, web.Response):
            return token
        action = _ACTIONS.get(request.match_info["action"])
        comment_id = _id(request)
        if action is None or comment_id is None:
            return error(404, "not_found", "no such route")
        try:
            outcome = await self._service.moderate(comment_id, action, Decider(Channel.API, None))
        except NotFound:
            return error(404, "comment_not_found", f"no comment {comment_id}")
        log.info("admin API: comment %d %s by token %d (%s)", comment_id,
                 outcome.comment.status.value, token.id, token.name)  # fmt: skip
        view = await self._store.read(lambda c: _view(c, outcome.comment))
        return web.json_response({**view, "changed": outcome.changed})

    async def edit_comment(self, request: web.Request) -> web.Response:
        """PATCH /api/admin/comments/{id} {"body"}: the text replaced, the old one kept."""
        checked = await self._comment_request(request, "moderate")
        if isinstance(checked, web.Response):
            return checked
        token, comment_id = checked
        data = await _json(request)
        if isinstance(data, web.Response):
            return data
        body = data.get("body") if isinstance(data, dict) and set(data) == {"body"} else None
        problem = _body_problem(body)
        if problem is not None:
            return error(400, "invalid_body", problem)
        assert isinstance(body, str)
        text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
        now = iso(self._clock.now())
        who = f"api token {token.id} ({token.name})"

        async def work(conn: aiosqlite.Connection) -> dict[str, object] | None:
            changed = await edits.edit_body(conn, comment_id, text, now, who)
            found = await comments.get_comment(conn, comment_id)
            if changed is None or found is None:
                return None
            view = await _view(conn, found)
            return {**view, "changed": changed, "history": await edits.history(conn, comment_id)}

        view = await self._store.write(work)
        if view is None:
            return error(404, "comment_not_found", f"no comment {comment_id}")
        log.info("admin API: comment %d edited by token %d", comment_id, token.id)
        return web.json_response(view)

    async def delete_comment(self, request: web.Request) -> web.Response:
        """DELETE /api/admin/comments/{id}: gone, unless someone answered it (409)."""
        checked = await self._comment_request(request, "moderate")
        if isinstance(checked, web.Response):
            return checked
        token, comment_id = checked
        try:
            deleted = await self._service.delete(comment_id)
        except NotFound:
            return error(404, "comment_not_found", f"no comment {comment_id}")
        if not deleted:
            return error(409, "has_replies",
                         "Someone answered this comment: reject it instead (the answers "
                         "leave the page with it), or delete the answers first.")  # fmt: skip
        log.info("admin API: comment %d deleted by token %d", comment_id, token.id)
        return web.json_response({"id": comment_id, "deleted": True})

    async def comment_history(self, request: web.Request) -> web.Response:
        """GET /api/admin/comments/{id}/history: the texts before each edit."""
        token = await self._token(request, "read")
        if isinstance(token, web.Response):
            return token
        comment_id = _id(request)

        async def work(conn: aiosqlite.Connection) -> list[dict[str, str]] | None:
            if comment_id is None or await comments.get_comment(conn, comment_id) is None:
                return None
            return await edits.history(conn, comment_id)

        found = await self._store.read(work)
        if found is None:
            return error(404, "comment_not_found", "no such comment")
        return web.json_response({"edits": found})

    async def person(self, request: web.Request) -> web.Response:
        """POST /api/admin/people/export or /erase {"email"}: the same answer whether
        the address is held or not, so the API cannot be used to probe addresses."""
        token = await self._token(request, "people")
        if isinstance(token, web.Response):
            return token
        verb = request.match_info["verb"]
        if verb not in ("export", "erase"):
            return error(404, "not_found", "no such route")
        data = await _json(request)
        if isinstance(data, web.Response):
            return data
        email = data.get("email") if isinstance(data, dict) and set(data) == {"email"} else None
        # isprintable(): no control character or lone surrogate (which the database
        # cannot take: a 500) can be part of an address.
        if (
            not isinstance(email, str)
            or "@" not in email
            or len(email) > 320
            or not email.isprintable()
        ):
            return error(400, "invalid_email", 'send {"email": "..."} and nothing else')
        if verb == "export":
            return web.json_response(await self._store.read(lambda c: people.export(c, email)))
        remove = self._erased_comments == "remove"
        now = self._clock.now()
        done = await people.erase_from(self._store, email, remove, now)
        # Logged without the address: the log must not keep what was just erased.
        log.info("admin API: an erasure by token %d (%s)", token.id, done.line())
        return web.json_response({"status": "erased"}, status=202)

    async def create_thread(self, request: web.Request) -> web.Response:
        """POST /api/admin/threads {"key", "title", "url"}: created, or the existing one."""
        token = await self._token(request, "moderate")
        if isinstance(token, web.Response):
            return token
        data = await _json(request)
        if isinstance(data, web.Response):
            return data
        problem = _thread_problem(data)
        if problem is not None or not isinstance(data, dict):
            return error(400, "invalid_thread", problem or "send a JSON object")
        key, title, url = str(data["key"]), str(data["title"]).strip(), str(data["url"])
        now = iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> tuple[Thread | None, bool]:
            was = await current_key(conn, key)
            if was is not None and was != key:
                # A renamed WordPress post's old key: its thread, not a second one under
                # the old key, which would take the links of the emails sent before.
                return await threads.get_thread(conn, key=was), False
            _id, created = await threads.upsert_thread(
                conn, key=key, title=title, url=url, author="", author_address_id=None, now=now
            )
            return await threads.get_thread(conn, key=key), created

        thread, created = await self._store.write(work)
        assert thread is not None
        log.info("admin API: thread %s %s by token %d", thread.key,
                 "created" if created else "already there", token.id)  # fmt: skip
        return web.json_response({**_thread_view(thread), "created": created},
                                 status=201 if created else 200)  # fmt: skip

    async def close_thread(self, request: web.Request) -> web.Response:
        """POST /api/admin/threads/{key}/close (or /open)."""
        token = await self._token(request, "moderate")
        if isinstance(token, web.Response):
            return token
        verb = request.match_info["verb"]
        if verb not in ("close", "open"):
            return error(404, "not_found", "no such route")
        key = request.match_info["key"]

        async def work(conn: aiosqlite.Connection) -> Thread | tuple[int, str] | None:
            key_now = await current_key(conn, key)
            if key_now is None:
                return None
            post_id = await post_of_thread(conn, key_now)
            if post_id is not None:
                return post_id, key_now  # WordPress says whether it takes comments (posts.py)
            if not await threads.set_closed(conn, key_now, verb == "close"):
                return None
            return await threads.get_thread(conn, key=key_now)

        thread = await self._store.write(work)
        if thread is None:
            return error(404, "thread_not_found", f"no thread '{echoed(key)}'")
        if isinstance(thread, tuple):
            post_id, key_now = thread
            named = f"'{echoed(key)}'" + (
                f" (renamed '{echoed(key_now)}' in WordPress)" if key_now != key else ""
            )
            return error(
                409,
                "thread_in_wordpress",
                f"thread {named} is WordPress post {post_id}: {verb} its comments "
                "there (wp-admin: the post's Discussion, Allow comments); mailbridge "
                "follows within wordpress.posts_check_minutes",
            )
        log.info("admin API: thread %s %sd by token %d", key, verb, token.id)
        return web.json_response(_thread_view(thread))


def _body_problem(body: object) -> str | None:
    if not isinstance(body, str):
        return 'send {"body": "..."} and nothing else'
    if not body.strip():
        return "body: must not be empty"
    if len(body) > MAX_COMMENT_CHARS:
        return f"body: at most {MAX_COMMENT_CHARS:,} characters"
    try:
        body.encode("utf-8")
        check_body(body)
    except UnicodeEncodeError:
        return "body: contains an invalid character (a lone surrogate)"
    except TextRefused as exc:
        return str(exc)
    return None


_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def _thread_problem(data: object) -> str | None:
    if not isinstance(data, dict) or set(data) != {"key", "title", "url"}:
        return 'send {"key", "title", "url"} and nothing else'
    key, title, url = data["key"], data["title"], data["url"]
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        return "key: lowercase letters, digits and dashes, at most 100"
    if not isinstance(title, str) or not 0 < len(title.strip()) <= 300:
        return "title: one line of text, at most 300 characters"
    try:
        # The rules of names: one line (no CR, NUL or other control), no lone
        # surrogate (the database cannot take one: a 500), nothing that spoofs.
        check_name(title)
    except TextRefused as exc:
        return "title: " + exc.reason.replace("author ", "", 1)
    if not isinstance(url, str) or len(url) > 2000 or not url.startswith(("https://", "http://")):
        return "url: an http(s) address of the page"
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "url: no spaces or control characters"
    return None


def _thread_view(thread: Thread) -> dict[str, object]:
    return {"key": thread.key, "title": thread.title, "url": thread.url, "closed": thread.closed}


async def _json(request: web.Request) -> object:
    """The request's JSON, or the 400 to answer (a web.Response)."""
    try:
        return json.loads((await request.read()).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return error(400, "invalid_json", "send a JSON object")


def _id(request: web.Request) -> int | None:
    raw = request.match_info.get("id", "")
    return whole_number(raw)


async def _page(
    conn: aiosqlite.Connection,
    status: str | None,
    thread_id: int | None,
    before: int | None,
    limit: int,
) -> list[Comment]:
    """Newest first; ``before`` is the last id of the previous page."""
    sql = "SELECT id FROM comments WHERE 1 = 1"
    args: list[object] = []
    if status is not None:
        sql += " AND status = ?"
        args.append(status)
    if thread_id is not None:
        sql += " AND thread_id = ?"
        args.append(thread_id)
    if before is not None:
        sql += " AND id < ?"
        args.append(before)
    async with conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)) as cur:
        ids = [int(row[0]) for row in await cur.fetchall()]
    found = [await comments.get_comment(conn, i) for i in ids]
    return [c for c in found if c is not None]


async def _view(conn: aiosqlite.Connection, comment: Comment) -> dict[str, object]:
    """A comment as the API shows it: never the writer's email address."""
    thread = await threads.get_thread(conn, thread_id=comment.thread_id)
    return {
        **comment_fields(comment, thread.key if thread else None),
        "published_at": comment.published_at,
        "held_reason": comment.held_reason,
    }
