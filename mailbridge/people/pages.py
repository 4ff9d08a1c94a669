"""The self-service pages for a person's own data: /privacy.

A person asks for a link by typing their address; the link goes to that address, so
following it proves they own it. The answer to the request is the same whether the
address is held or not (no probing), and requests are rate-limited per client. The
link (an HMAC token bound to the address and to this purpose, valid an hour) opens a
page with what is held, a JSON download, and an erase button behind a confirmation.
GET never changes anything: erasure is a POST with the box ticked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

import aiosqlite
from aiohttp import web

from mailbridge.addresses import mailbox, matching_key, normalise
from mailbridge.clock import Clock, iso
from mailbridge.errors import ExpiredLink, InvalidAddress, LinkError
from mailbridge.notify import Notifier
from mailbridge.people import data
from mailbridge.settings import Settings
from mailbridge.store import Store, threads
from mailbridge.templating import Renderer
from mailbridge.tokens import make_privacy_token, read_privacy_token
from mailbridge.web.guard import client_ip, read_form
from mailbridge.web.limits import RateLimiter

__all__ = ["PrivacyPages"]

log = logging.getLogger(__name__)

LINK_MINUTES = 60


class PrivacyPages:
    def __init__(
        self,
        *,
        store: Store,
        notifier: Notifier,
        renderer: Renderer,
        key: bytes,
        clock: Clock,
        settings: Settings,
        queued: Callable[[], None],
        limiter: RateLimiter,
        address_limiter: RateLimiter,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._renderer = renderer
        self._key = key
        self._clock = clock
        self._settings = settings
        self._queued = queued
        self._base = settings.site.public_url.rstrip("/")
        self._limiter = limiter  # link emails per client IP per hour
        self._address_limiter = address_limiter  # and per address asked for
        self._proxies = frozenset(settings.http.trusted_proxies)

    def _html(self, name: str, status: int = 200, **context: object) -> web.Response:
        body = self._renderer.page(name, site_name=self._settings.site.name, **context)
        response = web.Response(text=body, status=status, content_type="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
        return response

    async def form(self, request: web.Request) -> web.Response:
        return self._html("privacy", sent=False)

    async def ask(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        ip = client_ip(request, self._proxies)
        if await self._limiter.hit(ip, self._clock.now().timestamp()) is not None:
            raise web.HTTPTooManyRequests(text="Too many links asked for; try again later.")
        raw = str(form.get("email", "")).strip()
        try:
            address = normalise(raw, smtputf8=self._settings.outbound.smtputf8)
        except InvalidAddress as exc:  # what was typed stays, with what is wrong with it
            return self._html("privacy", status=400, sent=False, email=raw,
                              error=f"That is not an email address: {exc.reason}")  # fmt: skip
        now = self._clock.now()
        # Per address too: from many client addresses (a botnet, an IPv6 block behind a
        # trusted proxy) the per-client limit let anyone flood a commenter's inbox with
        # these links. Counted for every address alike, so the answer tells nobody
        # whose address is held.
        key = matching_key(address) or address
        if await self._address_limiter.hit(key, now.timestamp()) is not None:
            log.info("privacy: links for one address over the hourly limit (from %s)", ip)
            raise web.HTTPTooManyRequests(
                text="Several links were asked for this address in the last hour: use the "
                f"latest one that arrived (each works for {LINK_MINUTES} minutes), or ask "
                "again later."
            )

        async def work(conn: aiosqlite.Connection) -> bool:
            address_id = await data.address_id_of(conn, address)
            if address_id is None:
                return False
            token = make_privacy_token(self._key, address_id, now + timedelta(minutes=LINK_MINUTES))
            url = f"{self._base}/privacy/{token}"
            return await self._notifier.mail.privacy_link(
                conn, mailbox("", address), url, LINK_MINUTES
            )

        if await self._store.write(work):
            self._queued()
        log.info("privacy: a link was asked for (from %s)", ip)  # never which address
        return self._html("privacy", sent=True)

    def _address_id(self, request: web.Request) -> int:
        try:
            return read_privacy_token(self._key, request.match_info["token"], self._clock.now())
        except ExpiredLink:
            raise web.HTTPForbidden(
                text="This link has expired; ask for a new one at /privacy."
            ) from None
        except LinkError as exc:
            raise web.HTTPForbidden(text=exc.text) from None

    async def _email(self, address_id: int) -> str | None:
        return await self._store.read(lambda c: threads.address_email(c, address_id))

    async def page(self, request: web.Request) -> web.Response:
        email = await self._email(self._address_id(request))
        if email is None:
            return self._html("privacy_data", held=None, token=request.match_info["token"])
        held = await self._store.read(lambda c: data.export(c, email))
        return self._html("privacy_data", held=held, token=request.match_info["token"],
                          mode=self._settings.privacy.erased_comments)  # fmt: skip

    async def download(self, request: web.Request) -> web.Response:
        email = await self._email(self._address_id(request))
        held = await self._store.read(lambda c: data.export(c, email or "-"))
        response = web.Response(
            text=json.dumps(held, ensure_ascii=False, indent=2),
            content_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="my-data.json"',
                     "Cache-Control": "no-store"},
        )  # fmt: skip
        return response

    async def erase(self, request: web.Request) -> web.Response:
        address_id = self._address_id(request)
        form = await read_form(request)
        if form.get("confirm") != "yes":
            return self._html("privacy_data", status=400, held=None,
                              token=request.match_info["token"],
                              error="Tick the box to confirm, then press Erase.")  # fmt: skip
        email = await self._email(address_id)
        if email is not None:
            remove = self._settings.privacy.erased_comments == "remove"
            now = self._clock.now()
            done = await data.erase_from(self._store, email, remove, now)
            # Logged without the address: the log must not keep what was just erased.
            log.info("privacy: an address was erased by its owner (%s)", done.line())
        return self._html("privacy_erased", at=iso(self._clock.now()))
