"""Deliver one webhook row: sign it, POST it, tell the worker what the answer means.

2xx is delivered. A timeout (the endpoint's ``timeout_seconds``), a refused
connection, a 5xx, 408, 429 or a redirect is temporary: the worker retries with its
backoff, and gives up after ``outbound.give_up_hours`` (a dead letter, shown by
``mailbridge outbox``). Redirects are never followed: a receiver that moved must be
configured again, so an event never goes to a host the operator did not name.
Another 4xx is permanent. The signature is made by the ``standardwebhooks``
package: HMAC-SHA256 over ``id.timestamp.body``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiohttp
from standardwebhooks import Webhook

from mailbridge import __version__
from mailbridge.clock import Clock
from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.settings import WebhookSettings
from mailbridge.store.outbox import OutboxRow

__all__ = ["WebhookSender"]

_TEMPORARY = frozenset({408, 425, 429})


class WebhookSender:
    def __init__(self, endpoints: Sequence[WebhookSettings], clock: Clock) -> None:
        self._secrets = {e.url: e.secret for e in endpoints}
        self._timeouts = {e.url: aiohttp.ClientTimeout(total=e.timeout_seconds) for e in endpoints}
        self._clock = clock

    def headers(self, row: OutboxRow, at: datetime) -> dict[str, str]:
        secret = self._secrets[row.rcpt_to]
        return {
            "Content-Type": "application/json",
            "User-Agent": f"mailbridge/{__version__}",
            "webhook-id": row.message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(row.message_id, at, row.message),
        }

    async def deliver(self, row: OutboxRow) -> None:
        if row.rcpt_to not in self._secrets:
            raise PermanentDeliveryError(
                "that endpoint is no longer in [[webhooks]]: nothing to sign it with"
            )
        headers = self.headers(row, self._clock.now())
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeouts[row.rcpt_to]) as session,
                session.post(
                    row.rcpt_to, data=row.message, headers=headers, allow_redirects=False
                ) as response,
            ):
                status = response.status
                where = response.headers.get("Location", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryDeliveryError(f"webhook: {type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            raise TemporaryDeliveryError(
                f"webhook: answered {status} (a redirect to {where[:200]!r}; not followed)"
            )
        if status >= 500 or status in _TEMPORARY:
            raise TemporaryDeliveryError(f"webhook: answered {status}")
        raise PermanentDeliveryError(f"webhook: answered {status}")
