"""Mailgun's ``POST /v3/DOMAIN/messages.mime``: the message as we composed and signed
it, byte for byte (DKIM-Signature, List-Unsubscribe, Message-ID kept), and the
envelope recipient as ``to``.

Mailgun's open and click tracking is turned off for each message (``o:tracking-*``):
it rewrites the HTML's links, which would break our DKIM body hash, send the
moderation and unsubscribe links through Mailgun's redirector, and add a pixel
that tells Mailgun when a commenter reads their email.
"""

from __future__ import annotations

import base64
import logging

import aiohttp

from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.api.config import ApiConfig, masked_key
from mailbridge.outbound.api.http import Answer, ApiClient, Probe
from mailbridge.store.outbox import provider_key

__all__ = ["MailgunTransport", "mailgun_base"]

log = logging.getLogger(__name__)

_BASES = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}


def mailgun_base(region: str, api: ApiConfig) -> str:
    """The API's base URL for ``region`` (``us`` or ``eu``), or ``outbound.api_url``."""
    from mailbridge.errors import ConfigError

    if region not in _BASES:
        raise ConfigError(f"outbound.transport: mailgun region must be us or eu, got '{region}'")
    return (api.base_url or _BASES[region]).rstrip("/")


def _message_of(answer: Answer) -> str:
    if isinstance(answer.json, dict) and isinstance(answer.json.get("message"), str):
        return str(answer.json["message"])[:300]
    return answer.text[:300]


class MailgunTransport:
    def __init__(self, domain: str, base: str, api: ApiConfig) -> None:
        self.domain = domain
        self.base = base
        region = "eu" if ".eu." in base else "us"
        self.description = (
            f"mailgun://{domain}" + ("?region=eu" if region == "eu" else "")
            + f" (key {masked_key(api.key)})"
        )  # fmt: skip
        self._where = f"mailgun://{domain}"
        self._region = region
        # HTTP Basic, user "api", the key as password (aiohttp's BasicAuth is deprecated).
        token = base64.b64encode(f"api:{api.key}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self._client = ApiClient(api, self._where)

    @property
    def url(self) -> str:
        return f"{self.base}/v3/{self.domain}/messages.mime"

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> str | None:
        form = aiohttp.FormData()
        form.add_field("to", rcpt_to)
        form.add_field("message", message, filename="message.mime", content_type="message/rfc822")
        form.add_field("o:tracking-clicks", "no")
        form.add_field("o:tracking-opens", "no")
        answer = await self._client.post(self.url, data=form, headers=self._headers)
        self._raise_for(answer)
        if isinstance(answer.json, dict) and isinstance(answer.json.get("id"), str):
            # Mailgun's id for its logs and events (the outbox id is on the line too):
            # where to look when Mailgun drops it later (its suppression list).
            log.info("%s: accepted as %s", self._where, answer.json["id"][:200])
            # Its events name it as message.headers["message-id"], without brackets:
            # kept as a Message-ID is, <...>, as the events are read.
            return provider_key("mailgun", f"<{answer.json['id'].strip().strip('<>')}>")
        return None

    async def check(self) -> Probe:
        """Whether Mailgun takes the key for the domain, sending nothing: Mailgun has no
        endpoint a sending key may read, so this posts to messages.mime with neither
        ``to`` nor ``message``. The key is checked first (401), then the domain in the
        region (404); a 400 about the missing fields means both are right, and a
        message without a recipient cannot be sent."""
        form = aiohttp.FormData()
        form.add_field("o:tracking-clicks", "no", content_type="text/plain")  # multipart
        try:
            answer = await self._client.post(self.url, data=form, headers=self._headers)
        except TemporaryDeliveryError as exc:  # cannot connect, TLS, no answer
            return Probe("unknown", str(exc))
        said = _message_of(answer)
        if answer.status == 400 and ("'to'" in said or "'message'" in said):
            return Probe(
                "ok",
                f"{self._where}: Mailgun takes the key {masked_key(self._client.api.key)} "
                f"for {self.domain} in its {self._region.upper()} region (nothing was sent)",
            )
        if answer.status in (401, 403, 404):
            return Probe("problem", self._client.explained(self._raise_for, answer))
        return Probe(
            "unknown", f"{self._where}: cannot tell: Mailgun answered HTTP {answer.status} {said}"
        )

    def _raise_for(self, answer: Answer) -> None:
        status, said = answer.status, _message_of(answer)
        where = self._where
        if 200 <= status < 300:
            return
        if status == 401:
            eu_hint = (
                "; a domain in Mailgun's EU region needs ?region=eu" if self._region == "us" else ""
            )
            raise self._client.key_refused(
                f"{where}: Mailgun refused the API key {masked_key(self._client.api.key)} "
                f"(HTTP 401 {said}); check outbound.api_key: it must be a sending or "
                f"account key of the {self._region.upper()} region ({self.base}){eu_hint}"
            )
        if status == 404:
            raise self._client.key_refused(
                f"{where}: Mailgun does not know the domain {self.domain} in the "
                f"{self._region.upper()} region (HTTP 404 {said}); check the domain in "
                "outbound.transport (the sending domain as Mailgun lists it) and ?region=eu"
            )
        if status == 403:
            raise self._client.temporary(
                answer,
                "Mailgun will not send this for the domain (a sandbox domain sends only "
                "to its authorized recipients; a disabled domain not at all); see the "
                "domain in Mailgun's control panel",
            )
        if status == 400 and "'to'" in said and "valid address" in said:
            # Mailgun's syntax check of the recipient (RFC 5321/5322): as a relay's
            # 553 5.1.3 to RCPT TO, about this address only.
            raise PermanentDeliveryError(
                f"{where}: 5.1.3 the recipient's address was refused: HTTP 400 {said}",
                at_rcpt=True,
            )
        if status in (400, 413):
            # About this message (malformed, too large): sending it again will not help.
            raise PermanentDeliveryError(f"{where}: Mailgun refused the message: HTTP {status} "
                                         f"{said}")  # fmt: skip
        raise self._client.temporary(answer, "Mailgun could not take the message now")

    async def aclose(self) -> None:
        await self._client.aclose()
