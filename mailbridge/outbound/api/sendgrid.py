"""SendGrid's v3 ``POST /v3/mail/send``: JSON fields built from the message we composed.

SendGrid, like Postmark, takes fields, not MIME: ``personalizations`` (the envelope
recipient, with the name our To header gives it), ``from``, ``reply_to`` (every name's
commas and semicolons made spaces: SendGrid drops a message whose to name has one),
``subject``, ``content`` (text/plain first, then text/html, as SendGrid requires) and every other
header in ``headers`` (Message-ID, In-Reply-To, References, List-Id, List-Unsubscribe,
List-Unsubscribe-Post, Auto-Submitted...), as we encoded them. SendGrid refuses to take
x-sg-id, x-sg-eid, Received, DKIM-Signature, Content-Type, Content-Transfer-Encoding,
To, From, Subject, Reply-To, CC and BCC there: those are fields or its own. What is
lost: our DKIM-Signature (SendGrid signs with the domain's key set up there) and our
folding. A message the fields cannot carry whole is refused, never cut down.

Click, open and subscription tracking (and Google Analytics' link tags, and the
account's footer) are turned off for each message: they would rewrite the moderation
and unsubscribe links, add a pixel that tells SendGrid when a commenter reads, and add
words we did not write.

A 202 names the message in ``X-Message-Id``; the Event Webhook's ``sg_message_id`` of
each event about it begins with that id and a dot (mailbridge.inbound_webhooks.events).
"""

from __future__ import annotations

import logging
import re
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.api.config import ApiConfig, masked_key
from mailbridge.outbound.api.http import Answer, ApiClient, Probe
from mailbridge.store.outbox import provider_key

__all__ = ["SENDGRID_BASE", "SendgridTransport", "sendgrid_fields"]

log = logging.getLogger(__name__)

SENDGRID_BASE = "https://api.sendgrid.com"

# SendGrid's reserved headers (refused in ``headers``) and those with a field of their
# own or that describe our bytes, which SendGrid writes anew.
_NOT_HEADERS = frozenset(
    {
        "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
        "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc",
        "date", "mime-version", "return-path", "delivered-to",
    }
)  # fmt: skip
_OFF = {"enable": False}


def _name(display_name: str) -> str:
    """A name as SendGrid's email objects take it: without "," or ";". SendGrid takes
    a to name holding one (202), then reads it as more addresses and drops the message
    as invalid (its documented limitation); a reply_to name carries the commenter's
    ("Smith, Ann via Blog"), and the rule is not documented for it either way, so every
    name goes the same way."""
    return " ".join(re.sub(r"[,;]", " ", display_name).split())


def _address(header: Any) -> dict[str, str]:
    """One address header as SendGrid's email object: ``email`` and ``name``."""
    addresses: tuple[Any, ...] = tuple(getattr(header, "addresses", ()))
    if len(addresses) != 1:
        raise ValueError(f"expected one address in {header.name}, found {len(addresses)}")
    found = {"email": addresses[0].addr_spec}
    name = _name(addresses[0].display_name or "")
    if name:
        found["name"] = name
    return found


def _headers(mail: EmailMessage) -> dict[str, str]:
    """Every other header, as we encoded it (SendGrid asks for encoded values), unfolded."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for name, raw in mail.raw_items():
        if name.lower() in _NOT_HEADERS:
            continue
        if name.lower() in seen:
            # ``headers`` is a JSON object: a second one would replace the first.
            raise ValueError(f"two {name} headers cannot go in SendGrid's headers object")
        value = re.sub(r"\r?\n(?=[ \t])", "", str(raw)).strip()
        if not value.isascii():
            raise ValueError(f"the {name} header is not ASCII (SendGrid wants it encoded)")
        seen.add(name.lower())
        found[name] = value
    return found


def sendgrid_fields(rcpt_to: str, message: bytes) -> dict[str, Any]:
    """The ``/v3/mail/send`` request body for ``message`` to ``rcpt_to``."""
    mail = BytesParser(policy=policy.default).parsebytes(message)
    assert isinstance(mail, EmailMessage)
    to: dict[str, str] = {"email": rcpt_to}
    for address in getattr(mail["To"], "addresses", ()):
        if address.addr_spec.lower() == rcpt_to.lower() and address.display_name:
            # The name the recipient sees (a digest's: the one they use on the blog).
            name = _name(address.display_name)
            if name:
                to["name"] = name
    if mail["From"] is None:
        raise ValueError("no From header")
    leaves = [p.get_content_type() for p in mail.walk() if not p.is_multipart()]
    if sorted(leaves) not in (["text/plain"], ["text/html"], ["text/html", "text/plain"]):
        # What we compose is one text and one HTML body; anything else would be cut to
        # those two, silently (words lost), so it is refused instead.
        raise ValueError(f"only a text and an HTML body fit SendGrid's content, not {leaves}")
    content = []
    for part in ("plain", "html"):  # SendGrid: text/plain first, then text/html
        body = mail.get_body(preferencelist=(part,))
        if body is not None and body.get_content_type() == f"text/{part}":
            content.append({"type": f"text/{part}", "value": body.get_content()})
    fields: dict[str, Any] = {
        "personalizations": [{"to": [to]}],
        "from": _address(mail["From"]),
        "subject": str(mail.get("Subject", "")),
        "content": content,
    }
    if mail["Reply-To"] is not None:
        fields["reply_to"] = _address(mail["Reply-To"])
    headers = _headers(mail)
    if headers:
        fields["headers"] = headers
    fields["tracking_settings"] = {
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": _OFF,
        "subscription_tracking": _OFF,
        "ganalytics": _OFF,
    }
    fields["mail_settings"] = {"footer": _OFF}
    return fields


def _errors(answer: Answer) -> list[dict[str, str]]:
    """SendGrid's ``{"errors": [{"message", "field", "help"}]}``, as strings."""
    found = answer.json.get("errors") if isinstance(answer.json, dict) else None
    return [
        {"message": str(e.get("message") or ""), "field": str(e.get("field") or "")}
        for e in (found if isinstance(found, list) else [])
        if isinstance(e, dict)
    ]


def _said(answer: Answer) -> str:
    errors = _errors(answer)
    if not errors:
        return answer.text[:300]
    return "; ".join((f"{e['field']}: " if e["field"] else "") + e["message"] for e in errors)[:300]


def _rate_reset(answer: Answer, now: float | None = None) -> float | None:
    """Seconds until SendGrid's ``X-RateLimit-Reset`` (a Unix time), when it gives no
    ``Retry-After``."""
    if answer.retry_after is not None:
        return answer.retry_after
    value = answer.headers.get("X-RateLimit-Reset", "").strip()
    if not value.isdigit():
        return None
    return max(0.0, int(value) - (time.time() if now is None else now))


class SendgridTransport:
    def __init__(self, api: ApiConfig) -> None:
        self.base = (api.base_url or SENDGRID_BASE).rstrip("/")
        self.description = f"sendgrid:// (key {masked_key(api.key)})"
        self._where = "sendgrid://"
        self._headers = {"Authorization": f"Bearer {api.key}"}
        self._client = ApiClient(api, self._where)

    @property
    def url(self) -> str:
        return f"{self.base}/v3/mail/send"

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> str | None:
        try:
            body = sendgrid_fields(rcpt_to, message)
        except (ValueError, LookupError) as exc:  # unreadable: never will be
            raise PermanentDeliveryError(f"{self._where}: cannot read the message: {exc}") from exc
        answer = await self._client.post(self.url, json=body, headers=self._headers)
        self._raise_for(answer)
        theirs = answer.headers.get("X-Message-Id", "").strip()
        if not theirs:
            return None
        # SendGrid's id for its activity feed (the outbox id is on the line too).
        log.info("%s: accepted as %s", self._where, theirs[:200])
        # Its events name the message by sg_message_id, which begins with this id.
        return provider_key("sendgrid", theirs)

    async def check(self) -> Probe:
        """Whether SendGrid takes the key and lets it send, sending nothing: ``GET
        /v3/scopes`` lists what the key may do (any key may ask); ``mail.send`` must
        be one."""
        url = f"{self.base}/v3/scopes"
        try:
            answer = await self._client.request("GET", url, headers=self._headers)
        except TemporaryDeliveryError as exc:  # cannot connect, TLS, no answer
            return Probe("unknown", str(exc))
        key = f"{self._where}: SendGrid takes the key {masked_key(self._client.api.key)}"
        if answer.status == 401:
            return Probe("problem", self._client.explained(self._raise_for, answer))
        scopes = answer.json.get("scopes") if isinstance(answer.json, dict) else None
        if answer.status == 200 and isinstance(scopes, list):
            if "mail.send" in scopes:
                return Probe("ok", f"{key}, allowed Mail Send; nothing was sent")
            return Probe(
                "problem",
                f"{key}, but it may not send (no mail.send among its {len(scopes)} "
                "permissions): make a key with Mail Send (Settings > API Keys) and set "
                "outbound.api_key",
            )
        return Probe(
            "unknown",
            f"{self._where}: cannot tell: SendGrid answered HTTP {answer.status} {_said(answer)}",
        )

    def _raise_for(self, answer: Answer) -> None:
        status, said, where = answer.status, _said(answer), self._where
        if 200 <= status < 300:
            return
        errors = _errors(answer)
        fields = [e["field"] for e in errors]
        if status == 401:
            raise self._client.key_refused(
                f"{where}: SendGrid refused the API key {masked_key(self._client.api.key)} "
                f"(HTTP 401 {said}); check outbound.api_key (an API key with Mail Send "
                "permission; an EU subuser's key needs outbound.api_url = "
                "https://api.eu.sendgrid.com)"
            )
        if status == 403 and "from" in fields:
            raise self._client.key_refused(
                f"{where}: SendGrid will not send from this address: it is not a verified "
                f"Sender Identity (HTTP 403 {said}); authenticate the domain of "
                "outbound.from in SendGrid (Settings > Sender Authentication), or set "
                "outbound.from to a verified sender"
            )
        if status == 403:
            raise self._client.key_refused(
                f"{where}: SendGrid will not let the key {masked_key(self._client.api.key)} "
                f"send (HTTP 403 {said}); give it Mail Send permission (Settings > API "
                "Keys), or see the account's status in SendGrid"
            )
        if status == 400 and any(f.startswith("from") for f in fields):
            # Our From, which every message carries: the setting is wrong, not this mail.
            raise self._client.key_refused(
                f"{where}: SendGrid refused the From address (HTTP 400 {said}); check outbound.from"
            )
        if status == 400 and any(f.startswith("reply_to") for f in fields):
            # Our reply address, which every notification carries: the reply domain is
            # wrong, not this mail; failing each message would lose them all.
            raise self._client.key_refused(
                f"{where}: SendGrid refused the Reply-To address (HTTP 400 {said}); check "
                "smtp.reply_domain"
            )
        if (
            status == 400
            and fields
            and all(re.fullmatch(r"personalizations\.0\.to(\.0(\.email)?)?", f) for f in fields)
        ):
            # Its syntax check of the recipient: as a relay's 553 5.1.3 to RCPT TO.
            raise PermanentDeliveryError(
                f"{where}: 5.1.3 the recipient's address was refused: HTTP 400 {said}",
                at_rcpt=True,
            )
        if status in (400, 413):
            # About this message (malformed, too large): sending it again will not help.
            raise PermanentDeliveryError(
                f"{where}: SendGrid refused the message: HTTP {status} {said}"
            )
        if status == 429:
            raise TemporaryDeliveryError(
                f"{where}: SendGrid is limiting the rate: HTTP 429 {said}",
                retry_after=_rate_reset(answer),
            )
        raise self._client.temporary(answer, "SendGrid could not take the message now")

    async def aclose(self) -> None:
        await self._client.aclose()
