"""The JSON comment API: submit a comment (reading is mailbridge.web.published)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from mailbridge.addresses import NON_ASCII_LOCAL_PART, normalise
from mailbridge.clock import Clock, iso
from mailbridge.errors import InvalidAddress, InvalidInput, NotFound
from mailbridge.inbound.limits import check_rates_for_email
from mailbridge.models import (
    MAX_COMMENT_CHARS,
    MAX_ID,
    CommentStatus,
    NewComment,
    Source,
    echoed,
)
from mailbridge.moderate.private import contact_in_name
from mailbridge.moderate.service import CommentService
from mailbridge.rejections import SenderRateLimited, ThreadRateLimited
from mailbridge.settings import LimitSettings
from mailbridge.spam.form_token import form_time, make_form_token
from mailbridge.store import Store
from mailbridge.store.former_keys import renamed
from mailbridge.text_rules import TextRefused, check_body, check_name
from mailbridge.web.guard import client_ip, header_text
from mailbridge.web.limits import RateLimiter
from mailbridge.web.middleware import json_error

__all__ = ["CommentApi", "validate_submission"]

log = logging.getLogger(__name__)

MAX_AUTHOR = 80
MAX_BODY = MAX_COMMENT_CHARS
MAX_EMAIL = 254
# "website" is the honeypot: the blog's form renders it hidden, people leave it empty.
HONEYPOT = "website"
# "elapsed": seconds the form was open before sending, as the client says; a spam
# signal when under two seconds (mailbridge.spam.rules). "form": the token the widget
# was given when it showed the form, from which the server measures that time itself
# (mailbridge.spam.form_token).
ELAPSED = "elapsed"
FORM = "form"
_FIELDS = {"author", "email", "body", "parent", "notify", HONEYPOT, ELAPSED, FORM}


def _text(data: Mapping[str, Any], field: str, limit: int) -> str:
    value = data.get(field)
    if value is None:
        raise InvalidInput(field, f"{field} is required")
    if not isinstance(value, str):
        raise InvalidInput(field, f"{field} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # json.loads accepts "\ud800"; nothing downstream can store or send it.
        raise InvalidInput(
            field, f"{field} contains an invalid character (a lone surrogate)"
        ) from None
    value = value.strip()
    if not value:
        raise InvalidInput(field, f"{field} must not be empty")
    if len(value) > limit:
        raise InvalidInput(field, f"{field} must be at most {limit} characters")
    return value


def validate_submission(
    data: Any, *, smtputf8: bool = False
) -> tuple[str, str, str, int | None, str | None, bool]:
    """(author, email, body, parent, subscribe, trapped) from a decoded JSON body.

    ``email`` comes back normalised (mailbridge.addresses); ``smtputf8`` allows
    non-ASCII before the @.

    ``subscribe`` is the level asked for with ``notify``: true (or "replies") for
    answers to this comment's author, "thread" for every new comment, None for
    nothing. ``trapped`` is True when the honeypot field was filled in. Bad input
    raises :class:`InvalidInput` naming the field.
    """
    if not isinstance(data, dict):
        raise InvalidInput("body", "the request body must be a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidInput(unknown[0], f"unknown field '{unknown[0]}'")
    author = _text(data, "author", MAX_AUTHOR)
    try:
        check_name(author)
    except TextRefused as exc:
        raise InvalidInput("author", exc.reason) from None
    if (contact := contact_in_name(author)) is not None:
        # Refused, not held: the writer can fix it now, a moderator could only reject.
        raise InvalidInput(
            "author",
            f"author looks like it holds {contact}, and the name is shown to everyone "
            "beside the comment: write only the name to show (the email field is never "
            "shown)",
        )
    try:
        email = normalise(_text(data, "email", MAX_EMAIL), smtputf8=smtputf8)
    except InvalidAddress as exc:
        message = exc.reason
        if message != NON_ASCII_LOCAL_PART:
            message = f"email is not a usable email address: {message}"
        raise InvalidInput("email", message) from None
    body = _text(data, "body", MAX_BODY).replace("\r\n", "\n").replace("\r", "\n")
    try:
        check_body(body)
    except TextRefused as exc:
        raise InvalidInput("body", exc.reason) from None
    parent = data.get("parent")
    if parent is not None and (
        isinstance(parent, bool) or not isinstance(parent, int) or not 0 < parent <= MAX_ID
    ):
        raise InvalidInput("parent", "parent must be a comment id or null")
    notify = data.get("notify", False)
    if notify not in (True, False, "replies", "thread", "none"):
        raise InvalidInput("notify", 'notify must be true, false, "replies" or "thread"')
    subscribe = {True: "replies", False: None, "none": None}.get(notify, notify)
    trap = data.get(HONEYPOT)
    return author, email, body, parent, subscribe, bool(trap)


def elapsed_of(data: Mapping[str, Any]) -> float | None:
    """The form's "elapsed" seconds, when sent: a number from 0 to a day."""
    value = data.get(ELAPSED)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 86_400:
        raise InvalidInput(ELAPSED, "elapsed must be the seconds the form was open (0 to 86400)")
    return float(value)


class CommentApi:
    def __init__(
        self,
        service: CommentService,
        store: Store,
        clock: Clock,
        limits: LimitSettings,
        trusted_proxies: frozenset[str],
        limiter: RateLimiter,
        *,
        form_key: bytes,
        smtputf8: bool = False,
    ) -> None:
        """``form_key``: signs the form tokens (Keyring.form)."""
        self._service = service
        self._form_key = form_key
        self._smtputf8 = smtputf8
        self._store = store
        self._clock = clock
        self._limits = limits
        self._trusted_proxies = trusted_proxies
        self._ip_limiter = limiter

    async def form(self, request: web.Request) -> web.Response:
        """POST /api/threads/{thread}/form: a token saying the form is shown now.

        No database, no body: a simple CORS request (no preflight). POST and no-store,
        so that no browser or CDN keeps one: a cached token would date every reader's
        form from the first one's."""
        token = make_form_token(self._form_key, request.match_info["thread"], self._clock.now())
        response = web.json_response({"form": token})
        response.headers["Cache-Control"] = "no-store"
        return response

    async def submit(self, request: web.Request) -> web.Response:
        key = request.match_info["thread"]
        try:
            thread = await self._service.thread(key)
        except NotFound:
            # Its WordPress post renamed since the reader's page was loaded: the same
            # conversation (a POST is not sent on: a 301 would make it a GET).
            keyed_now = await self._store.read(lambda c: renamed(c, key))
            if keyed_now is None:
                return json_error(404, f"no thread '{echoed(key)}'", "thread")
            thread = await self._service.thread(keyed_now)
        if thread.closed:
            return json_error(403, "This conversation is closed to new comments.", "thread")
        if request.content_type != "application/json":
            # Also keeps plain cross-site HTML forms from posting comments.
            return json_error(415, "send the comment as application/json")
        ip = client_ip(request, self._trusted_proxies)
        wait = await self._ip_limiter.hit(ip, self._clock.now().timestamp())
        if wait is not None:
            log.info("comment API: client %s over its hourly limit", ip)
            return _too_many("Too many comments from your network; please try again later.", wait)
        raw = await request.read()  # aiohttp answers 413 past client_max_size
        try:
            # Decode ourselves: json.loads would guess UTF-16/32 from the first bytes.
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            log.info("comment API: refused from %s: body is not UTF-8", ip)
            return json_error(400, "the request body is not valid UTF-8 text")
        except RecursionError:
            log.info("comment API: refused from %s: JSON nested too deeply", ip)
            return json_error(400, "malformed JSON: nested too deeply")
        except ValueError as exc:
            # JSONDecodeError, and integers longer than Python's 4,300-digit limit.
            log.info("comment API: refused from %s: malformed JSON (%s)", ip, exc)
            return json_error(400, f"malformed JSON: {exc}")
        try:
            author, email, body, parent, subscribe, trap = validate_submission(
                data, smtputf8=self._smtputf8
            )
            elapsed = elapsed_of(data)
        except InvalidInput as exc:
            log.info("comment API: refused from %s: %r", ip, exc.message)
            return json_error(400, exc.message, exc.field)
        if trap and not self._service.keeps_spam:
            # Robots fill the hidden field. Answer as if it worked, so they learn
            # nothing; with no spam folder to keep it in, keep nothing.
            log.info("comment API: honeypot field filled by %s; discarded", ip)
            return _as_if_pending()
        if thread.closed:
            return json_error(403, "this thread is closed to new comments", "thread")
        now = self._clock.now()
        # Never refused for its token: an old widget or another client has none.
        timing = form_time(self._form_key, data.get(FORM), key, now, elapsed)
        try:
            await self._store.read(
                lambda c: check_rates_for_email(c, self._limits, now, email, thread.id)
            )
            comment = await self._service.submit(
                NewComment(
                    thread_id=thread.id,
                    parent_id=parent,
                    author=author,
                    body=body,
                    status=CommentStatus.PENDING,
                    source=Source.WEB,
                    created_at=iso(now),
                    email=email,
                    notify=subscribe is not None,
                    subscribe=subscribe,
                    seconds_to_write=timing.seconds,
                    form_doubt=timing.doubt,
                    # Kept, scored as spam: a password manager or autofill fills it
                    # for real people too, and the author can rescue from the folder.
                    trapped=trap,
                    client_ip=ip,
                    user_agent=header_text(request, "User-Agent")[:500],
                )
            )
        except (SenderRateLimited, ThreadRateLimited) as exc:
            return _too_many(exc.detail, exc.retry_after or 60)
        except InvalidInput as exc:
            return json_error(400, exc.message, exc.field)
        if trap:
            log.info("comment API: honeypot field filled by %s; comment %d", ip, comment.id)
            return _as_if_pending()
        return web.json_response({"id": comment.id, "status": comment.status.value}, status=202)


def _as_if_pending() -> web.Response:
    """What a filled honeypot is answered: as if it worked, so robots learn nothing."""
    return web.json_response({"id": None, "status": "pending"}, status=202)


def _too_many(message: str, retry_after: int) -> web.Response:
    response = json_error(429, message)
    response.headers["Retry-After"] = str(retry_after)
    return response
