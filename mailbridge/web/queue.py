"""The moderation queue page: /moderate, for a moderator on a phone.

Sign-in is a link emailed to a moderator's address (no passwords). The form always
answers the same, whether the address moderates anything or not (no enumeration),
and is rate-limited per client. GET on the emailed link only shows a button (mail
scanners open links); its POST opens a session: a random cookie value, stored
hashed, HttpOnly, SameSite=Lax, Secure when the site is served over https, scoped
to /moderate. Every form carries a CSRF token derived from the session. The queue
lists pending comments with their context; several are decided at once; and the
decisions of the last 30 days that still stand, each with Undo.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import aiosqlite
from aiohttp import web

from mailbridge.addresses import mailbox, normalise, same_mailbox
from mailbridge.clock import Clock, iso
from mailbridge.errors import ExpiredLink, InvalidAddress, LinkError, NotFound
from mailbridge.models import Channel, Comment, Decider, whole_number
from mailbridge.moderate.private import held_as_private
from mailbridge.moderate.service import CommentService
from mailbridge.notify import Notifier, excerpt
from mailbridge.settings import Settings
from mailbridge.store import Store, comments, decisions, sessions, threads
from mailbridge.templating import Renderer
from mailbridge.tokens import Action, Keyring, csrf_token, make_login_token, read_login_token
from mailbridge.web.guard import client_ip, header_text, read_form
from mailbridge.web.limits import RateLimiter
from mailbridge.web.moderation import UNDO_DAYS

__all__ = ["COOKIE", "QueuePages"]

log = logging.getLogger(__name__)

COOKIE = "mb_session"
LOGIN_MINUTES = 15
SESSION_DAYS = 30
_ACTIONS = {"approve": Action.APPROVE, "reject": Action.REJECT, "spam": Action.SPAM}


class QueuePages:
    def __init__(
        self,
        *,
        service: CommentService,
        store: Store,
        notifier: Notifier,
        renderer: Renderer,
        keyring: Keyring,
        clock: Clock,
        settings: Settings,
        queued: Callable[[], None],
        limiter: RateLimiter,
    ) -> None:
        self._service = service
        self._store = store
        self._notifier = notifier
        self._renderer = renderer
        self._key = keyring.moderation
        self._clock = clock
        self._settings = settings
        self._queued = queued
        self._base = settings.site.public_url.rstrip("/")
        self._secure = urlsplit(self._base).scheme == "https"
        self._limiter = limiter  # sign-in emails per client IP per hour
        self._proxies = frozenset(settings.http.trusted_proxies)

    def _html(self, name: str, status: int = 200, **context: object) -> web.Response:
        body = self._renderer.page(name, site_name=self._settings.site.name, **context)
        response = web.Response(text=body, status=status, content_type="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _session(self, request: web.Request) -> tuple[sessions.SessionRow, str] | None:
        token = request.cookies.get(COOKIE)
        # isascii(): ours are; a cookie's bytes that are not UTF-8 arrive as lone
        # surrogates, which hashing cannot encode (it was a 500).
        if not token or not token.isascii():
            return None
        now = iso(self._clock.now())
        found = await self._store.read(lambda c: sessions.active(c, token, now))
        return None if found is None else (found, token)

    # -- signing in -------------------------------------------------------------------

    async def queue_or_login(self, request: web.Request) -> web.Response:
        signed_in = await self._session(request)
        if signed_in is None:
            return self._html("moderate_login", sent=False)
        session, token = signed_in
        pending = await self._store.read(_queue)
        since = iso(self._clock.now() - timedelta(days=UNDO_DAYS))
        decided = await self._store.read(lambda c: _decided(c, since))
        nonce = secrets.token_urlsafe(16)
        response = self._html(
            "moderate_queue",
            items=pending,
            decided=decided,
            undo_days=UNDO_DAYS,
            undone=request.query.get("undone", ""),
            who=session.email,
            csrf=csrf_token(self._key, token),
            done=_done(request.query.get("done", "")),
            nonce=nonce,
        )
        # Only the page's own "select all" script may run.
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
            "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        return response

    async def ask_link(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        raw = str(form.get("email", "")).strip()
        ip = client_ip(request, self._proxies)
        if await self._limiter.hit(ip, self._clock.now().timestamp()) is not None:
            raise web.HTTPTooManyRequests(text="Too many sign-in emails asked for; try later.")
        try:
            address = normalise(raw, smtputf8=self._settings.outbound.smtputf8)
        except InvalidAddress:
            return self._html(
                "moderate_login", status=400, sent=False, error="That is not an email address."
            )
        now = self._clock.now()

        async def work(conn: aiosqlite.Connection) -> bool:
            if not await _moderates(conn, self._settings, address):
                return False
            address_id = await threads.upsert_address(conn, address, iso(now))
            token = make_login_token(self._key, address_id, now + timedelta(minutes=LOGIN_MINUTES))
            to = mailbox("", address)
            url = f"{self._base}/moderate/signin/{token}"
            return await self._notifier.mail.moderator_login(conn, to, url, LOGIN_MINUTES)

        if await self._store.write(work):
            self._queued()
            log.info("queue: sign-in link sent to a moderator (from %s)", ip)
        else:
            log.info("queue: sign-in asked for an address that moderates nothing (from %s)", ip)
        # The same answer either way: the page never tells who moderates.
        return self._html("moderate_login", sent=True)

    def _login_id(self, request: web.Request) -> int:
        try:
            return read_login_token(self._key, request.match_info["token"], self._clock.now())
        except ExpiredLink:
            raise web.HTTPForbidden(
                text="This sign-in link has expired; ask for a new one at /moderate."
            ) from None
        except LinkError as exc:
            raise web.HTTPForbidden(text=exc.text) from None

    async def signin_page(self, request: web.Request) -> web.Response:
        self._login_id(request)
        return self._html("moderate_signin")

    async def signin(self, request: web.Request) -> web.StreamResponse:
        address_id = self._login_id(request)
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        expires = now + timedelta(days=SESSION_DAYS)
        agent = header_text(request, "User-Agent")

        async def work(conn: aiosqlite.Connection) -> bool:
            # Erased since the link was sent (privacy): nobody to sign in (was a 500).
            if await threads.address_email(conn, address_id) is None:
                return False
            await sessions.create(conn, token, address_id, iso(now), iso(expires), agent)
            return True

        if not await self._store.write(work):
            raise web.HTTPForbidden(
                text="This sign-in link is for an address this site no longer holds."
            )
        log.info("queue: a moderator signed in (address %d)", address_id)
        response = web.Response(status=303, headers={"Location": "/moderate"})
        response.set_cookie(
            COOKIE,
            token,
            max_age=SESSION_DAYS * 86400,
            path="/moderate",
            httponly=True,
            samesite="Lax",
            secure=self._secure,
        )
        return response

    async def signout(self, request: web.Request) -> web.StreamResponse:
        signed_in = await self._checked(request)
        now = iso(self._clock.now())
        await self._store.write(lambda c: sessions.revoke(c, signed_in.id, now))
        response = web.Response(status=303, headers={"Location": "/moderate"})
        response.del_cookie(COOKIE, path="/moderate")
        return response

    async def _checked(self, request: web.Request) -> sessions.SessionRow:
        """The session of a POST, with its CSRF token checked; 403 otherwise."""
        signed_in = await self._session(request)
        if signed_in is None:
            raise web.HTTPForbidden(text="Your session has ended; sign in again at /moderate.")
        session, token = signed_in
        form = await read_form(request)
        sent = str(form.get("csrf", "")).encode()
        # Bytes: compare_digest raises TypeError for a str with non-ASCII characters.
        if not hmac.compare_digest(sent, csrf_token(self._key, token).encode()):
            log.warning("queue: a form without its CSRF token (session %d)", session.id)
            raise web.HTTPForbidden(text="This form is stale or did not come from this site.")
        return session

    # -- deciding -------------------------------------------------------------------

    async def decide(self, request: web.Request) -> web.StreamResponse:
        session = await self._checked(request)
        form = await read_form(request)
        action = _ACTIONS.get(str(form.get("action", "")))
        if action is None:
            raise web.HTTPBadRequest(text="Choose approve, reject or spam.")
        asked = (whole_number(str(v)) for v in form.getall("comment", []))
        ids = [comment_id for comment_id in asked if comment_id is not None][:200]
        if not ids:
            raise web.HTTPSeeOther("/moderate?done=none")
        by = Decider(Channel.QUEUE, session.address_id)
        done = 0
        for comment_id in ids:
            try:
                outcome = await self._service.moderate(comment_id, action, by)
            except NotFound:
                continue
            done += int(outcome.changed)
        now = iso(self._clock.now())
        await self._store.write(lambda c: sessions.touch(c, session.id, now))
        raise web.HTTPSeeOther(f"/moderate?done={action.verb}:{done}")

    async def undo(self, request: web.Request) -> web.StreamResponse:
        """POST /moderate/undo: a comment's latest decision back, for 30 days, if it
        still stands (the same rule as the confirmation page's Undo)."""
        session = await self._checked(request)
        form = await read_form(request)
        comment_id = whole_number(str(form.get("comment", "")))
        if comment_id is None:
            raise web.HTTPBadRequest(text="Which comment? The form sent no comment number.")
        since = iso(self._clock.now() - timedelta(days=UNDO_DAYS))
        latest = await self._store.read(lambda c: decisions.undoable_one(c, comment_id, since))
        undone = "stale"
        if latest is not None:
            by = Decider(Channel.QUEUE, session.address_id)
            outcome = await self._service.undo(comment_id, latest.status, latest.previous, by)
            undone = "yes" if outcome is not None else "stale"
        log.info("queue: undo of comment %d: %s (session %d)", comment_id, undone, session.id)
        raise web.HTTPSeeOther(f"/moderate?undone={undone}")


# What decide() redirects with: "none", or a verb and how many comments changed.
_DONE = re.compile(r"none|(approve|reject|spam):[0-9]{1,3}")


def _done(asked: str) -> str:
    """The ``done`` of the query when decide() could have sent it, else "": a link
    from anywhere must not put its own words on the moderator's page."""
    return asked if _DONE.fullmatch(asked) else ""


async def _moderates(conn: aiosqlite.Connection, settings: Settings, address: str) -> bool:
    for configured in settings.moderation.moderators:
        bare = configured.rsplit("<", 1)[-1].rstrip(">").strip()
        if same_mailbox(address, bare):
            return True
    async with conn.execute(
        "SELECT 1 FROM threads t JOIN addresses a ON a.id = t.author_address_id "
        "WHERE a.email = ? LIMIT 1",
        (address,),
    ) as cur:
        return await cur.fetchone() is not None


async def _decided(conn: aiosqlite.Connection, since: str) -> list[dict[str, object]]:
    """Decisions that can still be undone, newest first, with their comment and thread."""
    items: list[dict[str, object]] = []
    for decision in await decisions.undoable(conn, since):
        comment = await comments.get_comment(conn, decision.comment_id)
        if comment is None:
            continue
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        items.append({"decision": decision, "comment": comment, "thread": thread})
    return items


async def _queue(conn: aiosqlite.Connection) -> list[dict[str, object]]:
    """Pending comments with their thread and the comment they answer."""
    items: list[dict[str, object]] = []
    for comment in await comments.pending_queue(conn):
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
    return items
