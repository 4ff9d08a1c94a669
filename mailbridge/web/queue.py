"""The moderation queue page: /moderate, for a moderator on a phone.

Sign-in is a link emailed to a moderator's address (no passwords). The form always
answers the same, whether the address moderates anything or not (no enumeration),
and is rate-limited per client and per address. GET on the emailed link only shows a
button (mail scanners open links); its POST opens a session, the only one that link
ever opens: a random cookie value, stored hashed, HttpOnly, SameSite=Lax, Secure when
the site is served over https, scoped to /moderate, ended when its address stops
moderating. Every form carries a CSRF token derived from the session. The queue
lists the oldest page of pending comments with their context; several are decided at
once (only those still pending); and the decisions of the last 30 days that still
stand, each with Undo.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlsplit

import aiosqlite
from aiohttp import web

from mailbridge.addresses import mailbox, matching_key, normalise
from mailbridge.clock import Clock, iso
from mailbridge.errors import ExpiredLink, InvalidAddress, LinkError, NotFound
from mailbridge.models import Channel, CommentStatus, Decider, Decision, whole_number
from mailbridge.moderate import explain
from mailbridge.moderate.moderators import moderates, moderates_all
from mailbridge.moderate.service import CommentService
from mailbridge.notify import Notifier
from mailbridge.settings import Settings
from mailbridge.store import Store, comments, decisions, is_unwritable, sessions, threads
from mailbridge.templating import Renderer
from mailbridge.tokens import Action, Keyring, csrf_token, make_login_token, read_login_token
from mailbridge.web.guard import client_ip, header_text, read_form
from mailbridge.web.limits import RateLimiter
from mailbridge.web.moderation import UNDO_DAYS
from mailbridge.web.queue_reads import (
    DECIDED_PAGE,
    decided_page,
    kept_now,
    off_blog_now,
    pending_page,
    theirs,
)

__all__ = ["AFTER_SIGN_IN", "COOKIE", "QueuePages"]

log = logging.getLogger(__name__)

COOKIE = "mb_session"
LOGIN_MINUTES = 15
SESSION_DAYS = 30
SEEN_EVERY_MINUTES = 5  # last_seen_at is written at most this often, not on every view
# Where a sign-in link may lead besides the queue: the spam folder, asked for by the
# spam report's link opened signed out (it led to the queue). One fixed word, never a
# URL from the request (no open redirect).
AFTER_SIGN_IN = "spam"
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
        address_limiter: RateLimiter,
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
        self._address_limiter = address_limiter  # and per address asked for
        self._proxies = frozenset(settings.http.trusted_proxies)

    async def _moderates(self, conn: aiosqlite.Connection, address: str) -> bool:
        return await moderates(conn, self._settings.moderation.moderators, address)

    def _only(self, session: sessions.SessionRow) -> int | None:
        """Whose threads the session may see and decide: None for a moderator of every
        thread (moderation.moderators), else its own address's (a thread's author
        moderates the threads they wrote, as by email: not everyone's)."""
        if moderates_all(self._settings.moderation.moderators, session.email):
            return None
        return session.address_id

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

        async def read(conn: aiosqlite.Connection) -> tuple[sessions.SessionRow | None, bool]:
            found = await sessions.active(conn, token, now)
            return found, found is not None and await self._moderates(conn, found.email)

        found, moderates = await self._store.read(read)
        if found is None:
            return None
        if not moderates:
            # Taken out of moderation.moderators (or no longer a thread's author) since
            # signing in: the session ends now, not in up to 30 days.
            await self._note(lambda c: sessions.revoke(c, found.id, now))
            log.warning("queue: session %d ended: its address moderates nothing now", found.id)
            return None
        seen = iso(self._clock.now() - timedelta(minutes=SEEN_EVERY_MINUTES))
        if found.last_seen_at < seen:
            # Every use, not only a decision: `sessions list` tells a device in use
            # from one forgotten (or stolen) by when it was last seen.
            await self._note(lambda c: sessions.touch(c, found.id, now))
        return found, token

    async def _note(self, work: Callable[[aiosqlite.Connection], Awaitable[object]]) -> None:
        """A session's bookkeeping: a database that cannot take it (locked, full) must
        not keep the moderator from reading the queue; a later request records it."""
        try:
            await self._store.write(work)
        except Exception as exc:
            if not is_unwritable(exc):
                raise
            log.warning("queue: session bookkeeping not recorded: %s", exc)

    # -- signing in -------------------------------------------------------------------

    async def queue_or_login(self, request: web.Request) -> web.Response:
        signed_in = await self._session(request)
        if signed_in is None:
            return self._html("moderate_login", sent=False)
        session, token = signed_in
        only = self._only(session)
        waiting, pending = await self._store.read(lambda c: pending_page(c, only))
        since = iso(self._clock.now() - timedelta(days=UNDO_DAYS))
        # Paged: a spam run's automatic decisions pushed the author's own (and the
        # comments to rescue) past the first page, where nothing reached them.
        before = whole_number(request.query.get("before", ""))
        decided = await self._store.read(lambda c: decided_page(c, since, before, only))
        older = None
        if len(decided) == DECIDED_PAGE:
            last = decided[-1]["decision"]
            assert isinstance(last, Decision)
            older = last.id
        asked = request.query.get("kept", "")
        spam = await self._store.read(lambda c: comments.spam_count(c, only))
        nonce = secrets.token_urlsafe(16)
        response = self._html(
            "moderate_queue",
            items=pending,
            waiting=waiting,
            spam=spam,
            decided=decided,
            older=older,
            newest=before is None,
            undo_days=UNDO_DAYS,
            undone=request.query.get("undone", ""),
            who=session.email,
            csrf=csrf_token(self._key, token),
            done=_done(request.query.get("done", "")),
            kept=await self._store.read(lambda c: kept_now(c, asked, only)),
            failed=await self._store.read(
                lambda c: kept_now(c, request.query.get("failed", ""), only)
            ),
            off_blog=await self._store.read(
                lambda c: off_blog_now(c, request.query.get("off", ""), only)
            ),
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
        asked_for = AFTER_SIGN_IN if form.get("next") == AFTER_SIGN_IN else ""
        ip = client_ip(request, self._proxies)
        if await self._limiter.hit(ip, self._clock.now().timestamp()) is not None:
            raise web.HTTPTooManyRequests(text="Too many sign-in emails asked for; try later.")
        try:
            # operator=True: as moderation.moderators is read, or a moderator at
            # me@intranet (which the settings take) was told "not an email address".
            # Relaxed for every address alike: the answer still tells nobody who moderates.
            address = normalise(raw, smtputf8=self._settings.outbound.smtputf8, operator=True)
        except InvalidAddress as exc:  # what was typed stays, with what is wrong with it
            return self._html("moderate_login", status=400, sent=False, email=raw,
                              error=f"That is not an email address: {exc.reason}",
                              next_page=asked_for)  # fmt: skip
        now = self._clock.now()
        # Per address too: from many client addresses (an IPv6 block, a botnet) the
        # per-IP limit let anyone flood the author's inbox with sign-in emails. Counted
        # for every address alike, so the answer tells nobody who moderates.
        key = matching_key(address) or address
        if await self._address_limiter.hit(key, now.timestamp()) is not None:
            log.info("queue: sign-in links for one address over the hourly limit (from %s)", ip)
            raise web.HTTPTooManyRequests(
                text="Several sign-in links were sent for this address in the last hour: "
                "use the latest one that arrived (each works for 15 minutes), "
                "or ask again later."
            )

        after = f"?next={asked_for}" if asked_for else ""

        async def work(conn: aiosqlite.Connection) -> bool:
            if not await self._moderates(conn, address):
                return False
            address_id = await threads.upsert_address(conn, address, iso(now))
            token = make_login_token(self._key, address_id, now + timedelta(minutes=LOGIN_MINUTES))
            to = mailbox("", address)
            url = f"{self._base}/moderate/signin/{token}{after}"
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
        link = request.match_info["token"]
        signed_in = await self._session(request)

        async def work(conn: aiosqlite.Connection) -> str:
            # Erased since the link was sent (privacy): nobody to sign in (was a 500);
            # or taken out of the moderators since: no session for them.
            email = await threads.address_email(conn, address_id)
            if email is None or not await self._moderates(conn, email):
                return "gone"
            # One session per link: pressed again, it opens no other (whoever finds it
            # in a forwarded email or a history within its 15 minutes signs nobody in).
            opened = await sessions.opened_by(conn, link)
            if opened is not None:
                same = signed_in is not None and signed_in[0].id == opened
                return "again" if same else "used"
            await sessions.create(conn, token, address_id, iso(now), iso(expires), agent, link)
            return "opened"

        outcome = await self._store.write(work)
        if outcome == "gone":
            raise web.HTTPForbidden(
                text="This sign-in link is for an address that no longer moderates comments here."
            )
        if outcome == "used":
            raise web.HTTPForbidden(
                text="This sign-in link was used already; each opens one session. "
                "Ask for a new one at /moderate."
            )
        where = (
            f"/moderate/{AFTER_SIGN_IN}"
            if request.query.get("next") == AFTER_SIGN_IN
            else "/moderate"
        )
        if outcome == "again":  # a double tap in the browser it signed in
            raise web.HTTPSeeOther(where)
        log.info("queue: a moderator signed in (address %d)", address_id)
        response = web.Response(status=303, headers={"Location": where})
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

    # For the spam folder's page (mailbridge.web.spam_folder): the same session, CSRF
    # and scope as the queue's, checked in one place.
    async def signed_in(self, request: web.Request) -> tuple[sessions.SessionRow, str] | None:
        return await self._session(request)

    async def checked(self, request: web.Request) -> sessions.SessionRow:
        return await self._checked(request)

    def scope(self, session: sessions.SessionRow) -> int | None:
        return self._only(session)

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
        only = self._only(session)
        done = 0
        kept: list[int] = []  # decided since the page was loaded (or gone): left alone
        failed: list[int] = []  # not decided: a failure stopped the batch
        approved: list[int] = []  # for "Not on the blog", read again on the page
        allowed = await self._store.read(lambda c: theirs(c, ids, only))
        for n, comment_id in enumerate(ids):
            if comment_id not in allowed:
                kept.append(comment_id)  # another author's post, or no such comment
                continue
            try:
                # Only while still pending: the page may be hours old, and a link, a
                # reply or another moderator's decision since must stand (a select-all
                # Approve published comments someone had marked as spam meanwhile).
                outcome = await self._service.moderate(
                    comment_id, action, by, expected=CommentStatus.PENDING
                )
            except NotFound:
                kept.append(comment_id)
                continue
            except Exception:
                # Each decision is its own transaction (one for the whole batch would
                # hold the database's one writer through up to 200 decisions and their
                # emails): those before stand, this one rolled back. Stop here (a failing
                # database would fail each of the rest, a busy timeout each) and name
                # exactly those not decided; a bare 500 left the author guessing.
                log.exception("queue: %s of comment %d failed; %d decided, %d left as they "
                              "were (session %d)", action.verb, comment_id, done,
                              len(ids) - n, session.id)  # fmt: skip
                failed = [i for i in ids[n:] if i in allowed]
                break
            if outcome.changed:
                done += 1
                if action is Action.APPROVE:
                    approved.append(comment_id)
            else:
                kept.append(comment_id)
        left = f"&kept={','.join(map(str, kept))}" if kept else ""
        left += f"&failed={','.join(map(str, failed))}" if failed else ""
        # The page names those of them whose WordPress post takes no comments (published
        # here only), as the single Approve's page and the spam folder's Not spam do.
        left += f"&off={','.join(map(str, approved))}" if approved else ""
        raise web.HTTPSeeOther(f"/moderate?done={action.verb}:{done}{left}")

    async def undo(self, request: web.Request) -> web.StreamResponse:
        """POST /moderate/undo: a comment's latest decision back, for 30 days, if it
        still stands (the same rule as the confirmation page's Undo)."""
        session = await self._checked(request)
        form = await read_form(request)
        comment_id = whole_number(str(form.get("comment", "")))
        if comment_id is None:
            raise web.HTTPBadRequest(text="Which comment? The form sent no comment number.")
        only = self._only(session)
        if not await self._store.read(lambda c: theirs(c, [comment_id], only)):
            raise web.HTTPForbidden(text="That comment is not on a post you moderate.")
        # The decision the page showed: someone may have decided again since it was
        # loaded, and the button must not undo that newer decision instead. A page
        # from before the forms named it is "stale": reloaded, it names it.
        shown = whole_number(str(form.get("decision", "")))
        since = iso(self._clock.now() - timedelta(days=UNDO_DAYS))
        latest = await self._store.read(lambda c: decisions.undoable_one(c, comment_id, since))
        undone = "stale"
        if latest is not None and latest.id == shown:
            by = Decider(Channel.QUEUE, session.address_id)
            try:
                outcome = await self._service.undo(
                    comment_id, latest.status, latest.previous, by, latest.id
                )
            except NotFound:  # deleted meanwhile, or erased at its writer's request
                outcome = None
            if outcome is not None:
                undone = "untrusted" if outcome.trust_withdrawn else "yes"
        if undone == "stale" and shown is not None:
            # Pressed twice, or the POST resent: say it worked, not "decided since".
            history = await self._store.read(lambda c: decisions.history(c, comment_id))
            if explain.undone_already(tuple(history), shown):
                undone = "already"
        log.info("queue: undo of comment %d: %s (session %d)", comment_id, undone, session.id)
        raise web.HTTPSeeOther(f"/moderate?undone={undone}")


# What decide() redirects with: "none", or a verb and how many comments changed.
_DONE = re.compile(r"none|(approve|reject|spam):[0-9]{1,3}")


def _done(asked: str) -> str:
    """The ``done`` of the query when decide() could have sent it, else "": a link
    from anywhere must not put its own words on the moderator's page."""
    return asked if _DONE.fullmatch(asked) else ""
