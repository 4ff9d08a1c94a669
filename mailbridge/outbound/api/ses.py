"""Amazon SES v2 ``SendEmail`` (``POST /v2/email/outbound-emails``) with
``Content.Raw``: our exact bytes, base64 in JSON, the envelope recipient as
``Destination.ToAddresses``.

Requests are signed with AWS Signature Version 4 by botocore's own signer (the
optional extra ``mailbridge[ses]``): a signing scheme is not something to write again.
botocore is imported only when an ``ses://`` transport is built.

The credentials are ``outbound.api_key`` (a static key pair) or, without one, botocore's
own credential chain, as the AWS CLI finds them: the environment (with
AWS_SESSION_TOKEN), the shared files, the ECS task role, the EC2 instance role. Those of
a role are temporary: botocore refreshes them before they expire, which may ask a
metadata endpoint over HTTP, so they are read off the event loop, at each signing, and
the session token goes with the signature (X-Amz-Security-Token).

SES answers a send to an address on its suppression list with 200 and reports the
bounce later (to the service, not to us), so no answer here is about the recipient:
``MessageRejected`` is about the message or, "Email address is not verified", about
our account (the sandbox, an unverified identity).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

from mailbridge.errors import ConfigError, PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.api.config import ApiConfig, masked_key
from mailbridge.outbound.api.http import Answer, ApiClient, Probe
from mailbridge.store.outbox import provider_key

__all__ = ["SesTransport", "ses_credentials"]

log = logging.getLogger(__name__)

# Answers (X-Amzn-ErrorType) about our account or its settings: the message is fine.
_ACCOUNT_ERRORS = {
    "MailFromDomainNotVerifiedException": "the MAIL FROM domain is not verified",
    "AccountSuspendedException": "the account's sending is suspended",
    "SendingPausedException": "sending is paused for the account or configuration set",
    "NotFoundException": "a resource named in the request does not exist",
}
_THROTTLED = {"TooManyRequestsException", "LimitExceededException", "ThrottlingException"}


def ses_credentials(key: str) -> tuple[str, str]:
    """``ACCESS_KEY_ID:SECRET_ACCESS_KEY`` (outbound.api_key) as its two halves."""
    key_id, colon, secret = key.partition(":")
    if not colon or not key_id or not secret:
        raise ConfigError(
            "outbound.api_key: ses:// needs ACCESS_KEY_ID:SECRET_ACCESS_KEY (an IAM "
            "user's key allowed ses:SendEmail)"
        )
    return key_id, secret


_CHAIN = (
    "AWS's credential chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and "
    "AWS_SESSION_TOKEN; AWS_PROFILE and the shared files ~/.aws/credentials, "
    "~/.aws/config; the ECS task role; the EC2 instance role)"
)


def _chain_credentials() -> Any:
    """What botocore's default chain finds now (a blocking call: files, and for a role
    an HTTP request to the metadata endpoint), or None."""
    import botocore.session

    return botocore.session.get_session().get_credentials()


class SesTransport:
    def __init__(self, region: str, api: ApiConfig) -> None:
        try:
            from botocore.credentials import Credentials
        except ImportError:
            raise ConfigError(
                "outbound.transport: ses:// needs botocore: pip install 'mailbridge[ses]'"
            ) from None
        self.region = region
        self.base = (api.base_url or f"https://email.{region}.amazonaws.com").rstrip("/")
        self._where = f"ses://{region}"
        # A static key pair (outbound.api_key), or the chain's, found at first use.
        self._credentials: Any = None
        self._finding = asyncio.Lock()
        if api.key:
            key_id, secret = ses_credentials(api.key)
            self.description = f"ses://{region} (key {key_id[:4]}…{masked_key(secret)})"
            self._credentials = Credentials(key_id, secret, method="outbound.api_key")
        else:
            self.description = (
                f"ses://{region} (AWS credentials from the environment, shared files or role)"
            )
        self._key_id = ""  # the first characters of the key id last signed with
        self._method = "outbound.api_key" if api.key else ""
        self._client = ApiClient(api, self._where)

    @property
    def url(self) -> str:
        return f"{self.base}/v2/email/outbound-emails"

    async def _frozen(self) -> Any:
        """The key id, secret and session token to sign with now: the chain's found once
        (off the loop), then refreshed by botocore as they near expiry."""
        from botocore.exceptions import BotoCoreError

        self._client.raise_if_held()
        try:
            async with self._finding:
                if self._credentials is None:
                    self._credentials = await asyncio.to_thread(_chain_credentials)
            if self._credentials is None:
                raise self._client.key_refused(
                    f"{self._where}: no AWS credentials: outbound.api_key is empty and "
                    f"{_CHAIN} found none; set one of them, or give the instance or task "
                    "a role allowed ses:SendEmail"
                )
            self._method = str(getattr(self._credentials, "method", "") or "")
            frozen = await asyncio.to_thread(self._credentials.get_frozen_credentials)
        except (BotoCoreError, RuntimeError, OSError, ValueError) as exc:
            # A role's endpoint that does not answer, a refresh that failed: found again
            # at the next attempt.
            if self._method != "outbound.api_key":
                self._credentials = None
            raise TemporaryDeliveryError(
                f"{self._where}: cannot get AWS credentials ({self._method or 'the chain'}): {exc}"
            ) from exc
        self._key_id = str(frozen.access_key)[:4]
        return frozen

    async def _signed_headers(
        self, body: bytes, method: str = "POST", url: str = ""
    ) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(
            method=method, url=url or self.url, data=body,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        # Frozen: a role's three parts read at once, never across a refresh (as
        # botocore's own request signer does); SigV4Auth adds the session token.
        SigV4Auth(await self._frozen(), "ses", self.region).add_auth(request)
        return {name: str(value) for name, value in request.headers.items()}

    def _shown_key(self) -> str:
        source = (
            "" if self._method == "outbound.api_key" else f", from {self._method or 'the chain'}"
        )
        return f"{self._key_id}…{source}"

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> str | None:
        payload: dict[str, Any] = {
            "Destination": {"ToAddresses": [rcpt_to]},
            "Content": {"Raw": {"Data": base64.b64encode(message).decode("ascii")}},
        }
        body = json.dumps(payload).encode()
        # Signed at each attempt: a signature is valid for a few minutes only.
        headers = await self._signed_headers(body)
        answer = await self._client.post(self.url, data=body, headers=headers)
        self._raise_for(answer)
        if isinstance(answer.json, dict) and isinstance(answer.json.get("MessageId"), str):
            # SES's id for its events and logs (the outbox id is on the line too).
            log.info("%s: accepted as %s", self._where, answer.json["MessageId"][:200])
            # Its notifications name the message by it (mail.messageId); ours only
            # with "Include original headers" on (SES rewrites the Message-ID).
            return provider_key("ses", answer.json["MessageId"])
        return None

    async def check(self) -> Probe:
        """Whether AWS takes the key, sending nothing: ``GetAccount`` (``GET
        /v2/email/account``), signed as a send is. A wrong key or secret is refused
        before any permission is looked at; an IAM user allowed only ses:SendEmail gets
        AccessDeniedException, which proves the key but not that permission."""
        url = f"{self.base}/v2/email/account"
        try:
            with self._client.probing():  # no credentials is reported here, not logged
                headers = await self._signed_headers(b"", "GET", url)
        except TemporaryDeliveryError as exc:
            return Probe("problem" if "no AWS credentials" in str(exc) else "unknown", str(exc))
        try:
            answer = await self._client.request("GET", url, headers=headers)
        except TemporaryDeliveryError as exc:  # cannot connect, TLS, no answer
            return Probe("unknown", str(exc))
        data = answer.json if isinstance(answer.json, dict) else {}
        key = f"{self._where}: AWS takes the key {self._shown_key()}"
        if answer.status == 200:
            if not data.get("SendingEnabled", True):
                return Probe("problem", f"{key}, but sending is paused for the account in "
                             f"{self.region} (the SES console)")  # fmt: skip
            sandbox = not data.get("ProductionAccessEnabled", True)
            return Probe("ok", f"{key}; SES sends from {self.region}" + (
                " (in the sandbox: only to verified addresses; request production access)"
                if sandbox else "") + "; nothing was sent")  # fmt: skip
        if answer.error_type == "AccessDeniedException":
            return Probe("ok", f"{key} (the user may not ses:GetAccount, so whether it may "
                         "ses:SendEmail shows at the first send); nothing was sent")  # fmt: skip
        if answer.status in (401, 403):
            return Probe("problem", self._client.explained(self._raise_for, answer))
        return Probe("unknown", f"{self._where}: cannot tell: SES answered HTTP "
                     f"{answer.status} {answer.error_type} {answer.text[:200]}")  # fmt: skip

    def _raise_for(self, answer: Answer) -> None:
        status = answer.status
        if 200 <= status < 300:
            return
        kind = answer.error_type
        said = (
            answer.json.get("message", answer.text)
            if isinstance(answer.json, dict)
            else answer.text
        )
        said = str(said)[:300]
        where = self._where
        if status in (401, 403):
            check = (
                "outbound.api_key (ACCESS_KEY_ID:SECRET_ACCESS_KEY), that the IAM user may"
                if self._method == "outbound.api_key"
                else f"the credentials {_CHAIN} gave, that the user or role may"
            )
            raise self._client.key_refused(
                f"{where}: SES refused the key {self._shown_key()} (HTTP {status} {kind} "
                f"{said}); check {check} ses:SendEmail, and the region ({self.region})"
            )
        if kind in _ACCOUNT_ERRORS:
            raise self._client.key_refused(
                f"{where}: SES will not send: {_ACCOUNT_ERRORS[kind]} (HTTP {status} {kind} "
                f"{said}); fix it in the SES console of {self.region}"
            )
        if kind == "MessageRejected" and "not verified" in said:
            # The sandbox (only verified recipients) or our From identity unverified:
            # about the account, never the recipient's fault.
            raise self._client.temporary(
                answer,
                f"SES will not send it: an identity is not verified in {self.region} (the "
                "From domain, or in the sandbox the recipient too; request production "
                "access)",
            )
        if status == 429 or kind in _THROTTLED:
            raise self._client.temporary(answer, f"SES is throttling ({kind})")
        if status == 400 and kind in ("MessageRejected", "BadRequestException"):
            raise PermanentDeliveryError(f"{where}: SES refused the message: {kind}: {said}")
        raise self._client.temporary(answer, "SES could not take the message now")

    async def aclose(self) -> None:
        await self._client.aclose()
