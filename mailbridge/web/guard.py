"""The web door's defences: who the client is, how often it may post, and who may call
the API from a browser (CORS)."""

from __future__ import annotations

import ipaddress
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from mailbridge.web.middleware import admin_error, json_error, loggable

__all__ = ["IpRateLimiter", "client_ip", "cors_middleware", "header_text", "read_form"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_ip(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """The client's address: X-Forwarded-For is believed only from a trusted proxy.

    Walking the header from the right and skipping our own proxies finds the first
    address a trusted hop saw; anything further left is the client's to forge.
    """
    remote = request.remote or "unknown"
    if remote not in trusted_proxies:
        return remote
    # Every line, in order: a proxy may add its own line after the client's (HAProxy),
    # and reading the first alone believed the client's.
    lines = request.headers.getall("X-Forwarded-For", [])
    hops = [h.strip() for h in ",".join(lines).split(",")]
    for hop in reversed([h for h in hops if h]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage: stop believing the header here
        if hop not in trusted_proxies:
            return hop
    return remote


def header_text(request: web.Request, name: str) -> str:
    """A header's value as text that can be stored: aiohttp keeps bytes that are not
    UTF-8 as lone surrogates (which the database cannot encode: a 500); here they
    become U+FFFD."""
    value = request.headers.get(name, "")
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The text fields of a posted form; a 400 when the body cannot be read as one.

    aiohttp's ``request.post()`` raises UnicodeDecodeError for bytes that are not of
    the form's charset, LookupError for a charset that does not exist and ValueError
    for a multipart body without a boundary or with a nameless part: each was a 500.
    Files and binary parts are left out: no form of ours has one."""
    try:
        form = await request.post()
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        log.info("%s %s: refused a form that cannot be read (%s)", request.method,
                 loggable(request.path), exc)  # fmt: skip
        raise web.HTTPBadRequest(
            text="The form could not be read: send it as UTF-8 "
            "application/x-www-form-urlencoded, as a browser does."
        ) from None
    return MultiDictProxy(MultiDict((k, v) for k, v in form.items() if isinstance(v, str)))


class IpRateLimiter:
    """At most ``limit`` events per client IP in any ``window`` seconds, in memory.

    Memory is bounded: beyond ``max_clients`` tracked addresses the least recently
    seen is forgotten (it can then post again early: an acceptable trade).
    """

    def __init__(self, limit: int, window: float = 3600.0, max_clients: int = 50_000) -> None:
        self._limit = limit
        self._window = window
        self._max = max_clients
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    async def hit(self, ip: str, now: float) -> int | None:
        """Record one event; return None if allowed, else seconds until the next is."""
        events = self._events.pop(ip, None) or deque()
        while events and events[0] <= now - self._window:
            events.popleft()
        self._events[ip] = events
        if len(self._events) > self._max:
            self._events.popitem(last=False)
        if len(events) >= self._limit:
            return max(1, math.ceil(events[0] + self._window - now))
        events.append(now)
        return None


def cors_middleware(origins: frozenset[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Let the named origins (the blog) call /api/ from the browser; nobody else."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        is_api = request.path.startswith("/api/")
        allowed = is_api and origin is not None and origin in origins
        if is_api and request.method == "OPTIONS":
            if not allowed:
                message = "This origin may not call the comment API."
                if request.path.startswith("/api/admin/"):
                    return admin_error(403, message)
                return json_error(403, message)
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            response = await handler(request)
        if allowed and origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    return middleware
