"""Confirmation and unsubscribe links.

As with moderation links, a GET only shows what will change, with a button; the
POST changes it. The one exception a mail provider needs: RFC 8058's one-click
POST (form body ``List-Unsubscribe=One-Click``, no cookies, no page) unsubscribes
at once. The token in the URL is the only credential.
"""

from __future__ import annotations

import logging

import aiosqlite
from aiohttp import web

from mailbridge.clock import Clock, iso
from mailbridge.errors import ExpiredLink, LinkError
from mailbridge.models import Thread
from mailbridge.store import Store, mail_events, subscriptions, threads
from mailbridge.store.subscriptions import Level
from mailbridge.templating import Renderer
from mailbridge.tokens import Keyring, LinkPurpose, SubscriptionLink, read_subscription_token
from mailbridge.web.guard import read_form

__all__ = ["SubscriptionPages"]

log = logging.getLogger(__name__)

# What an expired link's owner can do instead (only what is true).
_WHAT_NOW = {
    LinkPurpose.CONFIRM: (
        " To be emailed, ask again when you next comment: a new confirmation email follows."
    ),
    LinkPurpose.UNSUBSCRIBE: " Every newer email from this site carries a link that works.",
}

# What each button of the unsubscribe page does: (scope, level).
_CHOICES = {
    "thread-none": ("thread", Level.NONE),
    "thread-replies": ("thread", Level.REPLIES),
    "thread-thread": ("thread", Level.THREAD),
    "all-none": ("all", Level.NONE),
}


class SubscriptionPages:
    def __init__(
        self, store: Store, keyring: Keyring, renderer: Renderer, clock: Clock, site_name: str
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._renderer = renderer
        self._clock = clock
        self._site_name = site_name

    def _html(self, name: str, **context: object) -> web.Response:
        body = self._renderer.page(name, site_name=self._site_name, **context)
        response = web.Response(text=body, content_type="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    def _link(self, request: web.Request, purpose: LinkPurpose) -> SubscriptionLink:
        try:
            return read_subscription_token(
                self._keyring.subscription,
                purpose,
                request.match_info["token"],
                self._clock.now().date(),
            )
        except LinkError as exc:
            log.warning("%s link refused (%s)", purpose.name.lower(), type(exc).__name__)
            text = exc.text
            if isinstance(exc, ExpiredLink):
                text += _WHAT_NOW[purpose]
            raise web.HTTPForbidden(text=text) from None

    async def _thread(self, thread_id: int | None) -> Thread | None:
        if thread_id is None:
            return None
        return await self._store.read(lambda c: threads.get_thread(c, thread_id=thread_id))

    # -- confirmation ----------------------------------------------------------

    async def confirm_page(self, request: web.Request) -> web.Response:
        link = self._link(request, LinkPurpose.CONFIRM)

        async def done(conn: aiosqlite.Connection) -> bool:
            # A confirmed address is asked again before its owner's "stop" is undone.
            if not await subscriptions.is_confirmed(conn, link.address_id):
                return False
            return link.thread_id is None or (
                await subscriptions.requested_level(conn, link.address_id, link.thread_id) is None
            )

        confirmed = await self._store.read(done)
        return self._html(
            "confirm",
            link=link,
            thread=await self._thread(link.thread_id),
            done=confirmed,
            changed=False,
            current=await self._current(link),
        )

    async def _current(self, link: SubscriptionLink) -> str | None:
        """What the address gets now (the link's thread, else site-wide): a link
        confirmed again after a "stop" or an erasure must not promise emails."""

        async def work(conn: aiosqlite.Connection) -> Level | None:
            if link.thread_id is None:
                return await subscriptions.explicit_level(conn, link.address_id, None)
            return await subscriptions.effective_level(conn, link.address_id, link.thread_id)

        level = await self._store.read(work)
        return None if level is None else level.value

    async def confirm(self, request: web.Request) -> web.Response:
        link = self._link(request, LinkPurpose.CONFIRM)
        now = iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> bool:
            changed = await subscriptions.confirm_address(conn, link.address_id, now)
            for thread_id, level in await subscriptions.take_requests(conn, link.address_id):
                await subscriptions.set_level(conn, link.address_id, thread_id, level, "web", now)
                changed = True
            # Asked for after a spam complaint (a complaint dropped what was asked
            # before), and confirmed from their own mailbox: they want mail again.
            if changed and await mail_events.lift_complaint(conn, link.address_id):
                log.info("address %d: its spam complaint lifted (confirmed)", link.address_id)
            return changed

        changed = await self._store.write(work)
        log.info(
            "address %d confirmed its subscription%s",
            link.address_id,
            "" if changed else " (again)",
        )
        return self._html(
            "confirm",
            link=link,
            thread=await self._thread(link.thread_id),
            done=True,
            changed=changed,
            current=await self._current(link),
        )

    # -- unsubscribe -----------------------------------------------------------

    async def unsubscribe_page(self, request: web.Request) -> web.Response:
        link = self._link(request, LinkPurpose.UNSUBSCRIBE)
        thread = await self._thread(link.thread_id)
        level = None
        if thread is not None:
            level = await self._store.read(
                lambda c: subscriptions.effective_level(c, link.address_id, thread.id)
            )
        return self._html("unsubscribe", link=link, thread=thread, level=level, result=None)

    async def unsubscribe(self, request: web.Request) -> web.Response:
        link = self._link(request, LinkPurpose.UNSUBSCRIBE)
        form = await read_form(request)
        if form.get("List-Unsubscribe") == "One-Click":
            # RFC 8058: the provider's button, for this List-Id, i.e. the whole site.
            scope, level, source = "all", Level.NONE, "one-click"
        elif str(form.get("choice", "")) in _CHOICES:
            scope, level = _CHOICES[str(form["choice"])]
            source = "unsubscribe page"
        else:
            raise web.HTTPBadRequest(text="Choose what to change.")
        if scope == "thread" and link.thread_id is None:
            raise web.HTTPBadRequest(text="This link is not about one conversation.")
        thread = await self._thread(link.thread_id)
        if scope == "thread" and thread is None:
            # Deleted since the email was sent (it was a 500).
            raise web.HTTPNotFound(text="That conversation no longer exists; nothing more "
                                   "is sent about it.")  # fmt: skip
        now = iso(self._clock.now())
        thread_id = link.thread_id if scope == "thread" else None

        async def work(conn: aiosqlite.Connection) -> bool:
            # Erased (privacy) since the email was sent: nothing is held to change and
            # nothing more is sent; a provider's one-click was a 500 here.
            if await threads.address_email(conn, link.address_id) is None:
                return False
            await subscriptions.choose(conn, link.address_id, thread_id, level, source, now)
            return True

        if await self._store.write(work):
            log.info("address %d set %s to %s (%s)", link.address_id, scope, level.value, source)
        else:
            log.info("address %d: unsubscribe (%s) of what is no longer held", link.address_id,
                     source)  # fmt: skip
        return self._html(
            "unsubscribe",
            link=link,
            thread=thread,
            level=level,
            result={"scope": scope, "level": level.value},
        )
