"""What the API transports share: one aiohttp session, verified TLS, the key masked,
and the HTTP answers every service gives the same meaning.

The outcomes are an SMTP relay's (:mod:`mailbridge.outbound.relay`): an answer about
the service or our account (429, 5xx, a timeout, a refused key, an unverified
domain) is temporary, so the message stays queued until the operator fixes it;
only an answer about this message or its recipient is permanent, and only one
about the recipient's address (``at_rcpt``) counts as a bounce.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from mailbridge import __version__
from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.api.config import ApiConfig

__all__ = ["Answer", "ApiClient", "Probe", "retry_after_seconds"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    text: str  # the body, cut for the log and the outbox row
    json: Any  # the body parsed, or None
    retry_after: float | None
    error_type: str = ""  # AWS's X-Amzn-ErrorType, without its ":..." suffix
    # The answer's headers (case-insensitive): SendGrid names the message it accepted
    # in one (X-Message-Id), not in its empty body.
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    """What ``check-config --api`` learnt from asking the service without sending:
    ``ok``, ``problem`` (the key or a setting is wrong: ``said`` names it) or
    ``unknown`` (the service could not be asked)."""

    status: str
    said: str


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` (RFC 9110 10.2.3): seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_dt = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return max(0.0, (when - now_dt).total_seconds())


def _redirected(
    description: str, status: int, headers: Mapping[str, str]
) -> TemporaryDeliveryError:
    where = urlsplit(headers.get("Location", ""))
    to = f" to {where.scheme}://{where.netloc.rpartition('@')[2]}" if where.netloc else ""
    return TemporaryDeliveryError(
        f"{description}: answered with a redirect (HTTP {status}{to}), not followed: the "
        "key and the message go to the service's own URL only; is outbound.api_url "
        "right, or a proxy in the way?"
    )


class ApiClient:
    """One kept session (its connection pool) for one service."""

    def __init__(self, api: ApiConfig, description: str) -> None:
        self.api = api
        self.description = description
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._key_refused: tuple[float, str] | None = None
        self._opening = asyncio.Lock()  # the first sends at once make one session
        self._probing = False  # check-config asking: a refusal is reported, not logged

    async def _tls(self) -> ssl.SSLContext:
        ca = self.api.ca_file
        try:
            # Reads certificate files: off the event loop.
            return await asyncio.to_thread(
                ssl.create_default_context, cafile=str(ca) if ca else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise TemporaryDeliveryError(
                f"{self.description}: cannot load the CA file {ca} (outbound.relay_ca_file): {exc}"
            ) from exc

    async def _get_session(self) -> aiohttp.ClientSession:
        async with self._opening:
            if self._session is None:
                tls = await self._tls()
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=self.api.max_connections, ssl=tls),
                    timeout=aiohttp.ClientTimeout(total=self.api.timeout),
                    headers={"User-Agent": f"mailbridge/{__version__}"},
                )
            return self._session

    def raise_if_held(self) -> None:
        """Fail without a request while the service's refusal of our key is recent."""
        if self._key_refused is None:
            return
        at, detail = self._key_refused
        ago = time.monotonic() - at
        if ago >= self.api.auth_hold_seconds:
            return
        raise TemporaryDeliveryError(
            f"{detail}; not tried: no new request for {self.api.auth_hold_seconds:.0f} s "
            f"after the key was refused (this {ago:.0f} s ago)"
        )

    @contextlib.contextmanager
    def probing(self) -> Iterator[None]:
        """For ``check-config``: a refusal inside is reported, not logged nor held."""
        self._probing = True
        try:
            yield
        finally:
            self._probing = False

    def explained(self, raise_for: Any, answer: Answer) -> str:
        """What ``raise_for`` would say of ``answer`` to a send, for ``check-config``:
        nothing logged, nothing held."""
        with self.probing():
            try:
                raise_for(answer)
            except (TemporaryDeliveryError, PermanentDeliveryError) as exc:
                return str(exc)
        return f"{self.description}: HTTP {answer.status}"

    def key_refused(self, detail: str) -> TemporaryDeliveryError:
        """The service refused our key: loud, held, and never the recipient's fault."""
        if self._probing:
            return TemporaryDeliveryError(detail)
        first = self._key_refused is None or (
            time.monotonic() - self._key_refused[0] >= self.api.auth_hold_seconds
        )
        self._key_refused = (time.monotonic(), detail)
        if first:  # once per hold, not once per queued message
            log.error("%s", detail)
        return TemporaryDeliveryError(detail)

    async def post(self, url: str, **kwargs: Any) -> Answer:
        """POST ``url``; a network failure or timeout is a temporary failure."""
        return await self.request("POST", url, **kwargs)

    async def request(self, method: str, url: str, **kwargs: Any) -> Answer:
        if self._closed:
            raise TemporaryDeliveryError(f"{self.description}: transport closed")
        self.raise_if_held()
        session = await self._get_session()
        try:
            # Never followed: aiohttp resends a 307/308 with every header but
            # Authorization (Postmark's token, SES's signature) and the message, to any
            # host, plain HTTP too. No mail API redirects a send.
            async with session.request(method, url, allow_redirects=False, **kwargs) as response:
                raw = await response.read()
                status = response.status
                if 300 <= status < 400:
                    raise _redirected(self.description, status, response.headers)
                retry = retry_after_seconds(response.headers.get("Retry-After"))
                error_type = response.headers.get("X-Amzn-ErrorType", "").split(":", 1)[0]
                headers = response.headers.copy()
                json: Any = None
                if "json" in (response.content_type or ""):
                    try:
                        json = await response.json(content_type=None)
                    except ValueError:
                        json = None
        except TimeoutError as exc:  # before ClientError: aiohttp's timeouts are both
            raise TemporaryDeliveryError(
                f"{self.description}: no answer within {self.api.timeout:g} s "
                "(outbound.relay_timeout_seconds)"
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise TemporaryDeliveryError(
                f"{self.description}: the service's certificate is not trusted ({exc}); "
                "nothing was sent (outbound.relay_ca_file trusts a private CA)"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TemporaryDeliveryError(
                f"{self.description}: cannot reach {url.split('/', 3)[2]}: {exc}"
            ) from exc
        text = raw[:500].decode("utf-8", "replace").strip()
        return Answer(status, text, json, retry, error_type, headers)

    def temporary(self, answer: Answer, what: str) -> TemporaryDeliveryError:
        """429, 5xx and other answers about the service: try again later."""
        return TemporaryDeliveryError(
            f"{self.description}: {what}: HTTP {answer.status} {answer.text}",
            retry_after=answer.retry_after,
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None
