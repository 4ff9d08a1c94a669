"""Postmark's ``POST /email``: JSON fields built from the message we composed.

Postmark takes no raw MIME over its API, so the message is read back into From, To
(the envelope recipient), Subject, ReplyTo, TextBody, HtmlBody, and every other
header in ``Headers``: Message-ID, In-Reply-To, References, List-Unsubscribe,
List-Unsubscribe-Post, List-Id, Auto-Submitted, X-Auto-Response-Suppress... What is
lost: our DKIM-Signature (Postmark builds new bytes and signs them with the
domain's Postmark key), and our exact encoding and folding. Tracking is off
(``TrackOpens``, ``TrackLinks``) so links reach the reader as we wrote them.
"""

from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.api.config import ApiConfig, masked_key
from mailbridge.outbound.api.http import Answer, ApiClient, Probe
from mailbridge.store.outbox import provider_key

__all__ = ["POSTMARK_BASE", "PostmarkTransport", "postmark_fields"]

log = logging.getLogger(__name__)

POSTMARK_BASE = "https://api.postmarkapp.com"

# Headers that have a field of their own, or that Postmark writes itself.
_OWN_FIELDS = frozenset(
    {
        "from", "to", "cc", "bcc", "subject", "reply-to", "date", "mime-version",
        "content-type", "content-transfer-encoding", "dkim-signature", "return-path",
        "delivered-to",
    }
)  # fmt: skip
# Postmark's ErrorCode (422) that are about our account or its settings: the message
# is fine, the operator must act (sender signature, account pending or out of credit).
_ACCOUNT_CODES = {400: "the From address is not a confirmed sender signature",
                  401: "the sender signature is not confirmed",
                  405: "the account may not send (out of credits?)",
                  412: "the account is pending approval",
                  413: "the account may not send"}  # fmt: skip


def postmark_fields(rcpt_to: str, message: bytes, stream: str) -> dict[str, Any]:
    """The ``/email`` request body for ``message`` to ``rcpt_to``."""
    mail = BytesParser(policy=policy.default).parsebytes(message)
    assert isinstance(mail, EmailMessage)
    to = rcpt_to
    for name, address in getaddresses([str(mail.get("To", ""))]):
        if address.lower() == rcpt_to.lower() and name:
            to = str(mail["To"])  # keep the display name the recipient sees
    fields: dict[str, Any] = {
        "From": str(mail["From"]),
        "To": to,
        "Subject": str(mail.get("Subject", "")),
    }
    if mail["Reply-To"] is not None:
        fields["ReplyTo"] = str(mail["Reply-To"])
    leaves = [p.get_content_type() for p in mail.walk() if not p.is_multipart()]
    if sorted(leaves) not in (["text/plain"], ["text/html"], ["text/html", "text/plain"]):
        # What we compose is one text and one HTML body; anything else would be cut to
        # those two fields, silently (words lost), so it is refused instead.
        raise ValueError(f"only a text and an HTML body fit Postmark's fields, not {leaves}")
    for part, key in (("plain", "TextBody"), ("html", "HtmlBody")):
        body = mail.get_body(preferencelist=(part,))
        if body is not None and body.get_content_type() == f"text/{part}":
            fields[key] = body.get_content()
    fields["Headers"] = [
        {"Name": name, "Value": str(value)}
        for name, value in mail.items()
        if name.lower() not in _OWN_FIELDS
    ]
    fields["MessageStream"] = stream
    fields["TrackOpens"] = False
    fields["TrackLinks"] = "None"
    return fields


class PostmarkTransport:
    def __init__(self, stream: str, api: ApiConfig) -> None:
        self.stream = stream
        self.base = (api.base_url or POSTMARK_BASE).rstrip("/")
        suffix = "" if stream == "outbound" else f"?stream={stream}"
        self.description = f"postmark://{suffix} (token {masked_key(api.key)})"
        self._where = "postmark://"
        self._headers = {
            "Accept": "application/json",
            "X-Postmark-Server-Token": api.key,
        }
        self._client = ApiClient(api, self._where)

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> str | None:
        try:
            body = postmark_fields(rcpt_to, message, self.stream)
        except (ValueError, LookupError) as exc:  # unreadable: never will be
            raise PermanentDeliveryError(f"{self._where}: cannot read the message: {exc}") from exc
        answer = await self._client.post(f"{self.base}/email", json=body, headers=self._headers)
        self._raise_for(answer)
        if isinstance(answer.json, dict) and isinstance(answer.json.get("MessageID"), str):
            # Postmark's id for its activity page (the outbox id is on the line too).
            log.info("%s: accepted as %s", self._where, answer.json["MessageID"][:200])
            # Its Bounce and SpamComplaint webhooks name the message by it (MessageID).
            return provider_key("postmark", answer.json["MessageID"])
        return None

    async def check(self) -> Probe:
        """Whether Postmark takes the server token and has the message stream, sending
        nothing: ``GET /message-streams/{stream}`` (server level, as ``/email``)."""
        url = f"{self.base}/message-streams/{self.stream}"
        try:
            answer = await self._client.request("GET", url, headers=self._headers)
        except TemporaryDeliveryError as exc:  # cannot connect, TLS, no answer
            return Probe("unknown", str(exc))
        data = answer.json if isinstance(answer.json, dict) else {}
        if answer.status == 401 or data.get("ErrorCode") == 10:
            return Probe("problem", self._client.explained(self._raise_for, answer))
        kind = data.get("MessageStreamType")
        if answer.status == 200 and kind in ("Transactional", "Broadcasts"):
            return Probe(
                "ok",
                f"{self._where}: Postmark takes the server token {masked_key(self._client.api.key)}"
                f"; message stream '{self.stream}' ({kind}); nothing was sent",
            )
        if answer.status == 200:
            return Probe(
                "problem",
                f"{self._where}: the message stream '{self.stream}' is {kind}, not one that "
                "sends: name a Transactional stream in outbound.transport "
                "(postmark://?stream=NAME)",
            )
        said = str(data.get("Message", answer.text))[:300]
        if answer.status in (404, 422):
            return Probe(
                "problem",
                f"{self._where}: Postmark takes the token but has no message stream "
                f"'{self.stream}' on that server (HTTP {answer.status} {said}): check "
                "?stream= in outbound.transport (the stream's ID, default outbound)",
            )
        return Probe(
            "unknown", f"{self._where}: cannot tell: Postmark answered HTTP {answer.status} {said}"
        )

    def _raise_for(self, answer: Answer) -> None:
        status = answer.status
        data = answer.json if isinstance(answer.json, dict) else {}
        code = data.get("ErrorCode")
        said = str(data.get("Message", answer.text))[:300]
        where = self._where
        if status == 200 and code in (0, None):
            return
        if status == 401 or code == 10:
            raise self._client.key_refused(
                f"{where}: Postmark refused the server token {masked_key(self._client.api.key)} "
                f"(HTTP {status} {said}); check outbound.api_key: a Server API token of the "
                "server that sends (API Tokens tab), not an Account token"
            )
        if status == 422 and code == 406:
            # Inactive: Postmark had a hard bounce, a spam complaint or a manual
            # suppression for this address, and will not send to it.
            raise PermanentDeliveryError(
                f"{where}: 5.1.1 the recipient is inactive at Postmark: HTTP 422 "
                f"ErrorCode 406 {said}",
                at_rcpt=True,
            )
        if status == 422 and code == 300 and "'To'" in said:
            raise PermanentDeliveryError(
                f"{where}: 5.1.3 the recipient's address was refused: HTTP 422 "
                f"ErrorCode 300 {said}",
                at_rcpt=True,
            )
        if status == 422 and code in _ACCOUNT_CODES:
            raise self._client.key_refused(
                f"{where}: Postmark will not send: {_ACCOUNT_CODES[code]} (HTTP 422 "
                f"ErrorCode {code} {said}); fix it in Postmark, or outbound.from"
            )
        if status == 422:
            raise PermanentDeliveryError(
                f"{where}: Postmark refused the message: HTTP 422 ErrorCode {code} {said}"
            )
        raise self._client.temporary(answer, "Postmark could not take the message now")

    async def aclose(self) -> None:
        await self._client.aclose()
