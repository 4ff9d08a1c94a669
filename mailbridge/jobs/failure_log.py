"""Each try's outcome of a task tried again and again (the mailbox, a periodic job),
written where `mailbridge status` reads it (mailbridge.store.failing)."""

from __future__ import annotations

import logging
import re

from mailbridge.clock import Clock, iso
from mailbridge.store import Store, UnitOfWork
from mailbridge.store.failing import cleared, failed

__all__ = ["FailureLog", "one_line"]

log = logging.getLogger(__name__)

# `status` is pasted into tickets: an address in a server's answer or an exception
# (an IMAP user is often one) is shown as its domain alone.
_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:@]+@([A-Za-z0-9.-]+)")
# A URL's user and password (a database's, a mailbox's) up to its last "@": a password
# with "@" in it was cut at its first one, the rest shown as an address's domain.
_USERINFO = re.compile(r"(?<=://)[^\s/?#]*@")


def one_line(text: str, limit: int = 300, secrets: tuple[str, ...] = ()) -> str:
    """``text`` on one line, ``secrets`` (passwords of the settings) and a URL's user
    and password hidden, addresses masked, at most ``limit`` characters."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    # The URL's "@" held aside meanwhile: the address rule would take "//***" as a name.
    hidden = _ADDRESS.sub(r"***@\1", _USERINFO.sub("***\x00", text.replace("\x00", "")))
    flat = " ".join(hidden.replace("\x00", "@").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class FailureLog:
    def __init__(self, store: Store, clock: Clock, secrets: tuple[str, ...] = ()) -> None:
        """``secrets``: passwords an error may quote (the mailbox's, the relay's), never
        written as they are."""
        self._store = store
        self._clock = clock
        self._secrets = secrets
        # Names whose row is known gone: a row left by a daemon stopped while failing
        # goes at this one's first success; after that a success writes nothing unless
        # a failure came between (an IMAP round is a success every poll).
        self._clean: set[str] = set()

    def may_have_failed(self, name: str) -> None:
        """Another daemon may have run ``name`` since (a lead that moved): the next
        success deletes its row whatever this process saw."""
        self._clean.discard(name)

    async def failed(self, name: str, error: str) -> None:
        self._clean.discard(name)
        await self._write(
            lambda c: failed(
                c, name, one_line(error, secrets=self._secrets), iso(self._clock.now())
            )
        )

    async def succeeded(self, name: str) -> None:
        if name in self._clean:
            return
        if await self._write(lambda c: cleared(c, name)):
            self._clean.add(name)

    async def _write(self, work: UnitOfWork[None]) -> bool:
        try:
            await self._store.write(work)
        except Exception as exc:  # the database failing too: /healthz and the log say so
            log.warning("could not record a task's outcome for `mailbridge status`: %s", exc)
            return False
        return True
