"""POST /inbound/mailgun/mime, /postmark, /sendgrid, /ses (docs/inbound-webhooks.md).

Each route exists only when its service is configured. A request is authenticated
first (401 otherwise, logged), read with a size bound (``smtp.max_message_size``; 413
beyond), then delivered through the same path as a message read over IMAP
(mailbridge.inbound.fetched). The answer tells the service what to do, in its terms:
200 once the comment (or the refusal) is committed; for a refusal for good, what
makes the service stop (Mailgun 406, Postmark 403, SendGrid 200: it retries anything
else); 503 with Retry-After for "try again later", which every one of them retries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from mailbridge.clock import Clock
from mailbridge.inbound.fetched import deliver
from mailbridge.inbound.process import ReplyIntake, SmtpEnvelope
from mailbridge.inbound_webhooks.events import (
    mailgun_event,
    postmark_event,
    sendgrid_events,
    sendgrid_key,
    sendgrid_signature_ok,
    ses_events,
)
from mailbridge.inbound_webhooks.providers import (
    BadPayload,
    Delivered,
    NotAuthentic,
    basic_auth_matches,
    mailgun_delivery,
    mailgun_signature_ok,
    postmark_delivery,
    sendgrid_delivery,
)
from mailbridge.inbound_webhooks.ses import Fetch, SnsVerifier, ses_delivery
from mailbridge.inbound_webhooks.tokens import SpentTokens
from mailbridge.mail_events.accounting import MailEventAccounting
from mailbridge.mail_events.event import MailEvent
from mailbridge.settings import Settings

__all__ = ["InboundWebhooks"]

log = logging.getLogger(__name__)

_FIELD_LIMIT = 64 * 1024  # any form field but the message itself


class TooLarge(Exception):
    pass


class InboundWebhooks:
    def __init__(
        self,
        settings: Settings,
        intake: ReplyIntake,
        clock: Clock,
        fetch: Fetch | None = None,
        events: MailEventAccounting | None = None,
    ) -> None:
        """``events``: where the services' delivery events are counted (bounces,
        complaints); None: their routes do not exist."""
        self._hooks = settings.inbound_webhooks
        self._events = events
        # Behind the https proxy every request comes from it: the service's own address
        # (the inbound log's peer, each refusal's log line) is in X-Forwarded-For.
        # Imported here: mailbridge.web imports this package.
        from mailbridge.web.guard import client_ip

        self._client_ip = client_ip
        self._proxies = frozenset(settings.http.trusted_proxies)
        self._sendgrid_key = (
            sendgrid_key(self._hooks.sendgrid_event_key) if self._hooks.sendgrid_event_key else None
        )
        self._limit = settings.smtp.max_message_size
        self._intake = intake
        self._clock = clock
        # SNS's signing certificates and subscription links: fetched from AWS, over https.
        self._sns = SnsVerifier(self._hooks.ses_topic_arn, fetch or _fetch_https)
        # SES's bounces and complaints come through a topic of their own.
        self._sns_events = SnsVerifier(
            self._hooks.ses_events_topic_arn, fetch or _fetch_https,
            "inbound_webhooks.ses_events_topic_arn",
        )  # fmt: skip
        # Mailgun's signature covers no body: each token is taken once (tokens.py).
        self._mailgun_tokens = SpentTokens()

    def routes(self) -> list[web.RouteDef]:
        found = []
        if self._hooks.mailgun_signing_key:
            # Mailgun posts the raw MIME (body-mime) only to a URL ending in "mime";
            # to any other it posts its parsed fields, which lose the message.
            found.append(web.post("/inbound/mailgun/mime", self.mailgun))
            found.append(web.post("/inbound/mailgun", self.mailgun))  # as set up before
        if self._hooks.postmark_password:
            found.append(web.post("/inbound/postmark", self.postmark))
        if self._hooks.sendgrid_password:
            found.append(web.post("/inbound/sendgrid", self.sendgrid))
        if self._hooks.ses_topic_arn:
            found.append(web.post("/inbound/ses", self.ses))
        if self._events is not None and self._hooks.mailgun_signing_key:
            found.append(web.post("/inbound/mailgun/events", self.mailgun_events))
        if self._events is not None and self._sendgrid_key is not None:
            found.append(web.post("/inbound/sendgrid/events", self.sendgrid_events))
        if self._events is not None and self._hooks.postmark_password:
            found.append(web.post("/inbound/postmark/events", self.postmark_events))
        if self._events is not None and self._hooks.ses_events_topic_arn:
            found.append(web.post("/inbound/ses/events", self.ses_events))
        return found

    async def ses_events(self, request: web.Request) -> web.Response:
        async def read() -> list[MailEvent]:
            message = _json(await _bounded(request, 4 * _FIELD_LIMIT))  # SNS: 256 KB
            if not isinstance(message, dict):
                raise BadPayload("expected an SNS message object")
            await self._sns_events.verify(message)
            kind = message.get("Type")
            if kind == "SubscriptionConfirmation":
                await self._sns_events.confirm(message)
                log.info("ses events: subscription of %s confirmed", message.get("TopicArn"))
                return []
            if kind == "UnsubscribeConfirmation":
                return []
            if kind != "Notification":
                raise BadPayload(f"an SNS message of type {str(kind)[:40]!r}")
            return ses_events(message)

        return await self._count(request, "ses", read)

    async def postmark_events(self, request: web.Request) -> web.Response:
        async def read() -> list[MailEvent]:
            self._basic(
                request, "postmark", self._hooks.postmark_user, self._hooks.postmark_password
            )
            # The bounce's content (a delivery report, the message it returns) with it.
            found = postmark_event(_json(await _bounded(request, 2 * self._limit)))
            return [] if found is None else [found]

        return await self._count(request, "postmark", read)

    async def mailgun_events(self, request: web.Request) -> web.Response:
        token = ""

        async def read() -> list[MailEvent]:
            nonlocal token
            data = _json(await _bounded(request, _FIELD_LIMIT))
            signature = data.get("signature") if isinstance(data, dict) else None
            if not isinstance(signature, dict):
                raise NotAuthentic("no signature object in the body")
            fields = {k: str(v) for k, v in signature.items()}
            now = self._clock.now().timestamp()
            mailgun_signature_ok(fields, self._hooks.mailgun_signing_key, now)
            self._mailgun_tokens.check(fields["token"], now)
            token = fields["token"]
            found = mailgun_event(data)
            return [] if found is None else [found]

        return self._spent(await self._count(request, "mailgun", read), token)

    def _spent(self, response: web.Response, token: str) -> web.Response:
        """Spend a Mailgun token once its request was answered for good (tokens.py):
        anything but a 5xx "try again later" (a signed body refused 400 stays refused)."""
        if token and response.status < 500:
            self._mailgun_tokens.spend(token, self._clock.now().timestamp())
        return response

    async def sendgrid_events(self, request: web.Request) -> web.Response:
        async def read() -> list[MailEvent]:
            assert self._sendgrid_key is not None  # the route exists only with it
            # A batch of up to about a thousand events, each well under 1 KB.
            body = await _bounded(request, 16 * _FIELD_LIMIT)
            sendgrid_signature_ok(
                self._sendgrid_key,
                request.headers.get("X-Twilio-Email-Event-Webhook-Signature"),
                request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp"),
                body,
            )
            return sendgrid_events(_json(body))

        return await self._count(request, "sendgrid", read)

    async def _count(
        self,
        request: web.Request,
        service: str,
        read: Callable[[], Awaitable[list[MailEvent]]],
    ) -> web.Response:
        """Authenticate and read the events, then count them; what each did is answered
        (and logged by the accounting). A refusal counts nothing."""
        assert self._events is not None
        peer = f"{service}:{self._client_ip(request, self._proxies)}"
        try:
            events = await read()
        except (NotAuthentic, BadPayload, aiohttp.ClientError, TimeoutError, TooLarge) as exc:
            batch = "larger than a batch of events"
            return _refused(exc, peer, "events ", (batch, batch), {})
        try:
            outcomes = await self._events.record(events, peer)
        except Exception:  # the database busy or failing: nothing counted, retried
            log.exception("%s: events not recorded; the service is asked to retry", peer)
            return web.json_response(
                {"error": "try_later", "message": "try again later"},
                status=503, headers={"Retry-After": "60"},
            )  # fmt: skip
        return web.json_response(
            {"outcomes": [{"event": o.event_id, "kind": o.kind, "outcome": o.outcome}
                          for o in outcomes]}
        )  # fmt: skip

    async def mailgun(self, request: web.Request) -> web.Response:
        token = ""

        async def read() -> Delivered:
            nonlocal token
            fields, raw = await _form(request, "body-mime", self._limit)
            now = self._clock.now().timestamp()
            mailgun_signature_ok(fields, self._hooks.mailgun_signing_key, now)
            # Not refused here when spent: a reply posted again files nothing new (its
            # Message-ID), and is no more than mail to the same address over SMTP. Spent
            # all the same, so that the events route never takes this signature.
            token = fields["token"]
            return mailgun_delivery(fields, raw)

        return self._spent(await self._handle(request, "mailgun", read, refused_status=406), token)

    async def postmark(self, request: web.Request) -> web.Response:
        async def read() -> Delivered:
            self._basic(
                request, "postmark", self._hooks.postmark_user, self._hooks.postmark_password
            )
            # JSON escapes the message: allow for it growing (a quote, a newline: 2 bytes).
            body = await _bounded(request, 2 * self._limit + _FIELD_LIMIT)
            return postmark_delivery(_json(body))

        return await self._handle(request, "postmark", read, refused_status=403)

    async def sendgrid(self, request: web.Request) -> web.Response:
        async def read() -> Delivered:
            self._basic(
                request, "sendgrid", self._hooks.sendgrid_user, self._hooks.sendgrid_password
            )
            fields, raw = await _form(request, "email", self._limit)
            return sendgrid_delivery(fields, raw)

        return await self._handle(request, "sendgrid", read, refused_status=200)

    async def ses(self, request: web.Request) -> web.Response:
        async def read() -> Delivered | None:
            # SNS caps a message at 256 KB (SES sends only mail under 150 KB this way).
            body = await _bounded(request, 2 * self._limit + _FIELD_LIMIT)
            message = _json(body)
            if not isinstance(message, dict):
                raise BadPayload("expected an SNS message object")
            await self._sns.verify(message)
            kind = message.get("Type")
            if kind == "SubscriptionConfirmation":
                await self._sns.confirm(message)
                log.info("ses: subscription of %s confirmed", message.get("TopicArn"))
                return None
            if kind == "UnsubscribeConfirmation":
                return None
            if kind != "Notification":
                raise BadPayload(f"an SNS message of type {str(kind)[:40]!r}")
            return ses_delivery(message)

        # SNS retries anything but a 2xx: a refusal for good is answered 200.
        return await self._handle(request, "ses", read, refused_status=200)

    def _basic(self, request: web.Request, service: str, user: str, password: str) -> None:
        if not basic_auth_matches(request.headers.get("Authorization"), user, password):
            # The operator reads this in the log: which settings the URL must carry.
            raise NotAuthentic(
                "HTTP Basic credentials missing or wrong: the webhook URL must carry "
                f"inbound_webhooks.{service}_user and {service}_password "
                f"(https://USER:PASSWORD@host/inbound/{service}...)"
            )

    async def _handle(
        self,
        request: web.Request,
        service: str,
        read: Callable[[], Awaitable[Delivered | None]],
        refused_status: int,
    ) -> web.Response:
        peer = f"{service}:{self._client_ip(request, self._proxies)}"
        try:
            delivered = await read()
            if delivered is None:  # not a message: a subscription confirmed, say
                return web.json_response({"outcome": "done"})
        except (NotAuthentic, BadPayload, aiohttp.ClientError, TimeoutError, TooLarge) as exc:
            challenge = {"WWW-Authenticate": 'Basic realm="mailbridge inbound"'}
            too_large = ("larger than smtp.max_message_size", "larger than this server accepts")
            return _refused(exc, peer, "", too_large, challenge)
        # Each recipient, as SMTP takes each RCPT: the second address is as much a reply.
        answers = []
        for rcpt in delivered.rcpts:
            envelope = SmtpEnvelope(
                peer=peer, helo="", mail_from=delivered.sender, rcpt_to=rcpt,
                raw=delivered.raw, fetched=True,
            )  # fmt: skip
            answers.append(await deliver(self._intake, envelope))
        later = [a for a in answers if not a.startswith(("2", "5"))]
        if later:  # the retry repeats them all: those done now are duplicates then
            return web.json_response(
                {"outcome": later[0], "outcomes": answers},
                status=503, headers={"Retry-After": "60"},
            )  # fmt: skip
        taken = [a for a in answers if a.startswith("2")]
        if taken:
            return web.json_response({"outcome": taken[0], "outcomes": answers})
        return web.json_response(
            {"outcome": answers[0], "outcomes": answers}, status=refused_status
        )


async def _bounded(request: web.Request, limit: int) -> bytes:
    """The body, refusing it (TooLarge) as soon as it passes ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


async def _form(
    request: web.Request, message_field: str, limit: int
) -> tuple[dict[str, str], bytes | None]:
    """A form's fields, and its ``message_field`` as bytes (multipart or urlencoded)."""
    if request.content_type == "multipart/form-data":
        try:
            return await _multipart(request, message_field, limit)
        except (ValueError, HttpProcessingError) as exc:
            # No boundary, or a body that does not start with it, or a part aiohttp
            # cannot read: a 500 before any signature was checked.
            raise BadPayload(f"a multipart form that cannot be read ({exc})") from None
    if request.content_type == "application/x-www-form-urlencoded":
        fields: dict[str, str] = {}
        raw: bytes | None = None
        body = await _bounded(request, 3 * limit + _FIELD_LIMIT)  # percent-encoding triples
        text = body.decode("latin-1")
        for key, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
            # Percent-escapes decoded as latin-1 too (parse_qsl's default is UTF-8, and
            # a character past U+00FF then failed to encode back: a 500): each is one byte.
            if key == message_field:
                raw = value.encode("latin-1")
            else:
                fields[key] = value.encode("latin-1").decode("utf-8", "replace")
        return fields, raw
    raise BadPayload(f"expected a form, got {request.content_type or 'no content type'}")


async def _multipart(
    request: web.Request, message_field: str, limit: int
) -> tuple[dict[str, str], bytes | None]:
    fields: dict[str, str] = {}
    raw: bytes | None = None
    reader = await request.multipart()
    async for part in reader:
        # A nested multipart is not what any of these services sends: skipped.
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        bound = limit if part.name == message_field else _FIELD_LIMIT
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            data += chunk
            if len(data) > bound:
                raise TooLarge()
        if part.name == message_field:
            raw = bytes(data)
        else:
            fields[part.name] = data.decode("utf-8", "replace")
    return fields, raw


def _refused(
    exc: Exception, peer: str, what: str, too_large: tuple[str, str], challenge: dict[str, str]
) -> web.Response:
    """What a webhook request that could not be read is answered, the same for replies
    and for events (``what``: "" or "events "), and its log line. ``too_large``: what
    the log and the answer say of a body too large."""
    if isinstance(exc, NotAuthentic):
        log.warning("%s: %srefused, not authentic: %s", peer, what, exc)
        return web.json_response(
            {"error": "not_authentic", "message": str(exc)}, status=401, headers=challenge
        )
    if isinstance(exc, BadPayload):
        log.warning("%s: %srefused, bad payload: %s", peer, what, exc)
        return web.json_response({"error": "bad_payload", "message": str(exc)}, status=400)
    if isinstance(exc, TooLarge):
        log.warning("%s: %srefused, %s", peer, what, too_large[0])
        return web.json_response({"error": "too_large", "message": too_large[1]}, status=413)
    # aiohttp.ClientError or TimeoutError: what the request names (SNS's certificate).
    log.warning("%s: could not reach what the request names: %s", peer, exc)
    return web.json_response(
        {"error": "try_later", "message": "try again later"},
        status=503, headers={"Retry-After": "60"},
    )  # fmt: skip


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # nested deep enough to exhaust the stack: a 500
        raise BadPayload("not JSON") from None


async def _fetch_https(url: str) -> bytes:
    """GET an https URL (already checked to be SNS's), bounded in time and size."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, allow_redirects=False) as response,
    ):
        response.raise_for_status()
        return await response.content.read(64 * 1024)
