"""The bridge's loop: push what changed here, then read what changed there.

One task does both, one after the other, so the two directions never race on one
comment. A failure (WordPress down, a 5xx, HTML instead of JSON, refused
credentials) is logged with what WordPress answered and tried again after a backoff
that doubles up to 15 minutes; nothing is lost meanwhile: pushes wait in their
table, and the cursor only moves after a pass that was read whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiosqlite

from mailbridge.bridges.wordpress import links
from mailbridge.bridges.wordpress.client import (
    WordPressClient,
    WordPressError,
    WordPressRefused,
    WordPressTooLarge,
)
from mailbridge.bridges.wordpress.posts import PostWatch
from mailbridge.bridges.wordpress.pull import Puller
from mailbridge.bridges.wordpress.push import Pusher
from mailbridge.clock import Clock, iso
from mailbridge.moderate.service import CommentService
from mailbridge.settings import Settings
from mailbridge.settings.validate import public_url_advice
from mailbridge.store import Store

__all__ = ["WordPressBridge"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_SECONDS = 900.0
_PUSH_CHECK_SECONDS = 5.0


class WordPressBridge:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        service: CommentService,
        clock: Clock,
        client: WordPressClient | None = None,
    ) -> None:
        wp = settings.wordpress
        self._client = client or WordPressClient(
            wp.site_url,
            wp.user,
            wp.app_password,
            requests_per_second=wp.requests_per_second,
            timeout_seconds=wp.timeout_seconds,
            max_answer_bytes=int(wp.max_answer_mb * 1_000_000),
        )
        self._store = store
        self._clock = clock
        self._poll_seconds = wp.poll_seconds
        self._posts = PostWatch(self._client, store, clock, wp.posts_check_minutes * 60.0)
        self._pusher = Pusher(
            self._client, store, service, clock, retry_seconds=wp.poll_seconds,
            post_closed=self._posts.refused,
        )  # fmt: skip
        recent = max(900.0, float(settings.notifications.batch_window_seconds))
        self._puller = Puller(
            self._client, store, service, clock, wp, settings.outbound.smtputf8, recent
        )
        self._wake = asyncio.Event()
        self._failures = 0
        advice = public_url_advice(settings)
        if advice is not None:
            log.warning("wordpress: %s", advice)

    def wake(self) -> None:
        """Something changed here: push it now rather than at the next check."""
        self._wake.set()

    async def run_once(self) -> int:
        """Push, then poll, once; how many comments were new. Raises WordPressError."""
        try:
            await self._pusher.push_due()
            added = await self._puller.poll()
            await self._posts.check_due()
        except WordPressError as exc:
            await self._failed(exc)
            raise
        await self._store.write(lambda c: links.set_state(c, "failing_since", ""))
        return added

    async def push_once(self) -> int:
        try:
            return await self._pusher.push_due()
        except WordPressError as exc:
            await self._failed(exc)
            raise

    async def _failed(self, exc: Exception) -> None:
        """What failed, for ``mailbridge status`` and /metrics (cleared by a whole poll)."""
        now = iso(self._clock.now())
        # Refused credentials need the owner, and so does the bridge's own failure (a
        # bug, the database): it comes back at every try. The rest passes by itself.
        if isinstance(exc, WordPressRefused):
            reason, error = "credentials", str(exc)
        elif isinstance(exc, WordPressTooLarge):  # a plugin's or proxy's: it stays so
            reason, error = "too_large", str(exc)
        elif isinstance(exc, WordPressError | OSError):
            reason, error = "unreachable", str(exc)
        else:
            reason, error = "error", f"the bridge failed: {type(exc).__name__}: {exc}"
        error = error[:500]

        async def record(conn: aiosqlite.Connection) -> None:
            await links.set_state(conn, "last_error", error)
            await links.set_state(conn, "last_error_at", now)
            await links.set_state(conn, "failing_reason", reason)
            if not await links.get_state(conn, "failing_since"):
                await links.set_state(conn, "failing_since", now)

        await self._store.write(record)

    async def _failed_quietly(self, exc: Exception) -> None:
        """Recorded if the database lets it: the failure may be the database's, and
        the loop must go on (the log has it either way)."""
        try:
            await self._failed(exc)
        except Exception:
            log.warning("wordpress: the failure could not be recorded", exc_info=True)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_poll = loop.time()
        try:
            while True:
                delay = self._poll_seconds
                try:
                    if loop.time() >= next_poll:
                        await self.run_once()
                        self._failures = 0
                    elif not self._failures:  # while it fails, only the backoff tries
                        await self.push_once()
                except (WordPressError, OSError) as exc:
                    self._failures += 1
                    delay = min(self._poll_seconds * 2**self._failures, _MAX_BACKOFF_SECONDS)
                    log.warning("wordpress: %s; trying again in %.1f s", exc, delay)
                    if isinstance(exc, OSError):  # WordPressError: recorded already
                        await self._failed_quietly(exc)
                except Exception as exc:  # never let one bad answer end the bridge
                    self._failures += 1
                    delay = min(self._poll_seconds * 2**self._failures, _MAX_BACKOFF_SECONDS)
                    log.exception("wordpress: the bridge failed; trying again in %.1f s", delay)
                    await self._failed_quietly(exc)
                if loop.time() >= next_poll:
                    next_poll = loop.time() + delay
                self._wake.clear()
                wait = min(max(next_poll - loop.time(), 0.0), _PUSH_CHECK_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
        finally:
            await self._client.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
