"""Mailgun's signature tokens, each taken once (docs/inbound-webhooks.md).

Mailgun signs ``timestamp + token`` only, never the body: whoever saw one signed
request (a proxy's or load balancer's request log, a copy of the traffic) could, for
the 15 minutes the timestamp is believed, post the same signature with any body, an
event naming another message, say. Mailgun's advice is to take each token once. A
token is spent once its request was answered for good (2xx, Mailgun's 406, or a
signed body refused 400), never on a "try again later" (5xx): a retry of that one
must still pass. The events route
refuses a spent token; the inbound route spends its tokens but takes one again (a
reply posted twice is filed once, by its Message-ID, and anyone can mail the same
address over SMTP), so that no inbound request's signature passes on the events route.

In memory, per process: a daemon restarted within the window forgets them, and each
daemon sharing a database keeps its own (a load balancer sends a replay to any of
them). Bounded: beyond ``limit`` live tokens the oldest go first.
"""

from __future__ import annotations

from collections import OrderedDict

from mailbridge.inbound_webhooks.providers import MAILGUN_WINDOW_SECONDS, NotAuthentic

__all__ = ["SpentTokens"]


class SpentTokens:
    def __init__(self, window: float = 2 * MAILGUN_WINDOW_SECONDS, limit: int = 100_000) -> None:
        # Twice the window: a timestamp is believed up to MAILGUN_WINDOW_SECONDS either
        # side of now, so a token may come back that long after its own time.
        self._window = window
        self._limit = limit
        self._spent: OrderedDict[str, float] = OrderedDict()  # token -> when spent

    def check(self, token: str, now: float) -> None:
        """Raise NotAuthentic if ``token`` was spent, lately."""
        self._forget(now)
        if token in self._spent:
            raise NotAuthentic("this Mailgun token was used before (a replayed signature?)")

    def spend(self, token: str, now: float) -> None:
        self._spent[token] = now
        self._spent.move_to_end(token)
        while len(self._spent) > self._limit:
            self._spent.popitem(last=False)

    def _forget(self, now: float) -> None:
        while self._spent:
            token, at = next(iter(self._spent.items()))
            if now - at < self._window:
                return
            del self._spent[token]
