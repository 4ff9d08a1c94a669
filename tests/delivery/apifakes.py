"""Local fakes of the mail services' sending APIs, served over TLS on 127.0.0.1.

Each checks a request as the service documents it and answers as it does:

- Mailgun ``POST /v3/DOMAIN/messages.mime`` (multipart/form-data; HTTP Basic auth,
  user ``api``, the key as password; fields ``to`` and ``message``, a file holding
  the MIME; ``o:`` options). 200 ``{"id": "<...>", "message": "Queued. Thank you."}``;
  a wrong key 401 ``Forbidden``; an unknown domain 404 ``{"message": "Domain not
  found: ..."}``; a bad field 400 ``{"message": ...}``.
- Postmark ``POST /email`` (JSON; ``Accept: application/json``,
  ``X-Postmark-Server-Token``). 200 ``{"To", "SubmittedAt", "MessageID", "ErrorCode":
  0, "Message": "OK"}``; a wrong token 401 ``{"ErrorCode": 10, ...}``; errors 422
  ``{"ErrorCode": N, "Message": ...}``.

  ``GET /message-streams/{stream}`` (the same token): 200 ``{"ID", "ServerID", "Name",
  "MessageStreamType", ...}`` for its streams (``outbound`` Transactional, ``inbound``
  Inbound, ``broadcast`` Broadcasts); another 422 ``{"ErrorCode": 1226, ...}``.

- Amazon SES v2 ``POST /v2/email/outbound-emails`` (JSON; ``Destination.ToAddresses``,
  ``Content.Raw.Data`` base64; signed with AWS Signature Version 4 for service
  ``ses``). 200 ``{"MessageId": ...}``; errors with ``X-Amzn-ErrorType`` and
  ``{"message": ...}``: a bad signature or key 403 ``InvalidSignatureException`` /
  ``UnrecognizedClientException``. The signature is recomputed here from the request
  as received (botocore's canonical request, string to sign and HMAC chain), so a
  request changed after signing, or signed with another secret, is refused.

  ``GET /v2/email/account`` (GetAccount, signed the same way): 200 ``{"SendingEnabled",
  "ProductionAccessEnabled", "SendQuota", ...}``; with ``account_denied`` set, 403
  ``AccessDeniedException`` (an IAM user allowed only ses:SendEmail).

A test may queue answers (``script``) that come before the normal ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from delivery.tlskit import TestCA, make_ca

KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"  # shaped as Mailgun's keys
TOKEN = "00000000-1111-2222-3333-444455556666"  # shaped as Postmark's server tokens
DOMAIN = "mg.example.org"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SES_KEY = f"{AWS_KEY_ID}:{AWS_SECRET}"
REGION = "eu-west-1"


@dataclass
class Received:
    """One request the fake accepted (answered 2xx) or refused."""

    provider: str
    status: int
    to: str = ""
    message: bytes = b""  # Mailgun: the raw MIME, as sent
    options: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)  # Postmark: the JSON
    answered: str = ""  # the service's id for the message, as its 200 named it


@dataclass
class Fake:
    url: str
    ca: TestCA
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # requests not as documented
    # Postmark: addresses it holds inactive (ErrorCode 406).
    inactive: set[str] = field(default_factory=set)
    delay: float = 0.0  # seconds each answer waits (a slow service)
    account_denied: bool = False  # SES: the key may not ses:GetAccount
    sandbox: bool = False  # SES: the account is in the sandbox
    connections: set[Any] = field(default_factory=set)  # the client connections seen

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    if isinstance(body, str):
        return web.Response(status=status, text=body, headers=headers)
    return web.json_response(body, status=status, headers=headers)


def _mailgun(fake: Fake) -> Any:
    async def handler(request: web.Request) -> web.Response:
        fake.connections.add(request.transport)
        await asyncio.sleep(fake.delay)
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()
        if auth != expected:
            fake.received.append(Received("mailgun", 401))
            return _answer(401, "Forbidden")
        if request.match_info["domain"] != DOMAIN:
            fake.received.append(Received("mailgun", 404))
            return _answer(404, {"message": f"Domain not found: {request.match_info['domain']}"})
        if not request.content_type == "multipart/form-data":
            fake.problems.append(f"content type {request.content_type}")
            return _answer(400, {"message": "expected multipart/form-data"})
        to, message, options = "", b"", {}
        reader = await request.multipart()
        async for part in reader:
            name = part.name or ""  # type: ignore[union-attr]
            data = await part.read()  # type: ignore[union-attr]
            if name == "to":
                to = data.decode()
            elif name == "message":
                if not part.filename:  # type: ignore[union-attr]
                    fake.problems.append("message is not sent as a file")
                message = bytes(data)
            elif name.startswith("o:"):
                options[name] = data.decode()
            else:
                fake.problems.append(f"unexpected field {name}")
        if not to or not message:
            return _answer(400, {"message": "'to' parameter is missing"} if not to
                           else {"message": "'message' parameter is missing"})  # fmt: skip
        if fake.script:
            status, body, headers = fake.script.pop(0)
            fake.received.append(Received("mailgun", status, to, message, options))
            return _answer(status, body, headers)
        answered = f"<{uuid.uuid4().hex}@{DOMAIN}>"
        fake.received.append(Received("mailgun", 200, to, message, options, answered=answered))
        return _answer(200, {"id": answered, "message": "Queued. Thank you."})

    return handler


def _postmark(fake: Fake) -> Any:
    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("X-Postmark-Server-Token") != TOKEN:
            fake.received.append(Received("postmark", 401))
            said = (
                "The Server Token you provided in the X-Postmark-Server-Token request "
                "header was invalid."
            )
            return _answer(401, {"ErrorCode": 10, "Message": said})
        if request.headers.get("Accept") != "application/json":
            fake.problems.append(f"Accept {request.headers.get('Accept')}")
        if request.content_type != "application/json":
            return _answer(422, {"ErrorCode": 409, "Message": "JSON required"})
        try:
            fields = json.loads(await request.read())
        except ValueError:
            return _answer(422, {"ErrorCode": 402, "Message": "Invalid JSON"})
        for name in ("From", "To"):
            if not fields.get(name):
                return _answer(422, {"ErrorCode": 300, "Message": f"Invalid '{name}' address"})
        if not (fields.get("TextBody") or fields.get("HtmlBody")):
            return _answer(
                422,
                {"ErrorCode": 300, "Message": "Provide either email TextBody or HtmlBody or both."},
            )
        for header in fields.get("Headers", []):
            if set(header) != {"Name", "Value"}:
                fake.problems.append(f"header {header}")
        to = fields["To"]
        if any(address in to for address in fake.inactive):
            fake.received.append(Received("postmark", 422, to, fields=fields))
            said = (
                "You tried to send to recipient(s) that have been marked as inactive. Found "
                f"inactive addresses: {to}. Inactive recipients are ones that have generated "
                "a hard bounce, a spam complaint, or a manual suppression."
            )
            return _answer(422, {"ErrorCode": 406, "Message": said})
        if fake.script:
            status, body, headers = fake.script.pop(0)
            fake.received.append(Received("postmark", status, to, fields=fields))
            return _answer(status, body, headers)
        answered = str(uuid.uuid4())
        fake.received.append(Received("postmark", 200, to, fields=fields, answered=answered))
        submitted = "2026-12-07T14:00:00.0000000-05:00"
        return _answer(
            200,
            {"To": to, "SubmittedAt": submitted, "MessageID": answered,
             "ErrorCode": 0, "Message": "OK"},
        )  # fmt: skip

    return handler


_STREAMS = {"outbound": "Transactional", "inbound": "Inbound", "broadcast": "Broadcasts"}


def _postmark_stream(fake: Fake) -> Any:
    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("X-Postmark-Server-Token") != TOKEN:
            fake.received.append(Received("postmark", 401))
            said = (
                "The Server Token you provided in the X-Postmark-Server-Token request "
                "header was invalid."
            )
            return _answer(401, {"ErrorCode": 10, "Message": said})
        stream = request.match_info["stream"]
        if stream not in _STREAMS:
            said = "The message stream for the provided 'ID' was not found."
            return _answer(422, {"ErrorCode": 1226, "Message": said})
        return _answer(
            200,
            {"ID": stream, "ServerID": 123456, "Name": stream.title(), "Description": None,
             "MessageStreamType": _STREAMS[stream], "CreatedAt": "2026-01-01T00:00:00-05:00",
             "UpdatedAt": None, "ArchivedAt": None},
        )  # fmt: skip

    return handler


def _ses_account(fake: Fake) -> Any:
    async def handler(request: web.Request) -> web.Response:
        problem = _sigv4_problem(request, await request.read())
        if problem:
            kind = problem if problem.endswith("Exception") else "InvalidSignatureException"
            return _answer(403, {"message": problem}, {"X-Amzn-ErrorType": f"{kind}:"})
        if fake.account_denied:
            said = (
                "User: arn:aws:iam::123456789012:user/mailbridge is not authorized to "
                "perform: ses:GetAccount"
            )
            return _answer(403, {"message": said}, {"X-Amzn-ErrorType": "AccessDeniedException:"})
        return _answer(
            200,
            {"DedicatedIpAutoWarmupEnabled": False, "EnforcementStatus": "HEALTHY",
             "ProductionAccessEnabled": not fake.sandbox, "SendingEnabled": True,
             "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0,
                           "SentLast24Hours": 0.0}},
        )  # fmt: skip

    return handler


_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/ses/"
    r"aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def _sigv4_problem(request: web.Request, body: bytes) -> str:
    """Why the request's signature is not AWS SigV4's for our key, or ""."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    found = _SIGV4.fullmatch(request.headers.get("Authorization", ""))
    if found is None:
        return "no SigV4 Authorization header"
    if found["key"] != AWS_KEY_ID:
        return "UnrecognizedClientException"
    signed = found["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return "host and x-amz-date must be signed"
    stamp = request.headers["X-Amz-Date"]
    if not stamp.startswith(found["day"]):
        return "the credential's day is not X-Amz-Date's"
    again = AWSRequest(
        method=request.method,
        url=f"https://{request.host}{request.path_qs}",
        data=body,
        headers={name: request.headers[name] for name in signed},
    )
    again.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(AWS_KEY_ID, AWS_SECRET), "ses", found["region"])
    expected = signer.signature(
        signer.string_to_sign(again, signer.canonical_request(again)), again
    )
    return "" if expected == found["signature"] else "InvalidSignatureException"


def _ses(fake: Fake) -> Any:
    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        problem = _sigv4_problem(request, body)
        if problem:
            fake.received.append(Received("ses", 403))
            kind = problem if problem.endswith("Exception") else "InvalidSignatureException"
            return _answer(403, {"message": problem}, {"X-Amzn-ErrorType": f"{kind}:"})
        if request.content_type != "application/json":
            fake.problems.append(f"content type {request.content_type}")
        fields = json.loads(body)
        to = fields.get("Destination", {}).get("ToAddresses", [])
        raw = fields.get("Content", {}).get("Raw", {}).get("Data", "")
        if len(to) != 1 or not raw or set(fields) - {"Destination", "Content"}:
            fake.problems.append(f"fields {sorted(fields)}")
            return _answer(
                400, {"message": "bad request"}, {"X-Amzn-ErrorType": "BadRequestException"}
            )
        got = Received("ses", 200, to[0], base64.b64decode(raw), fields=fields)
        if fake.script:
            status, answer, headers = fake.script.pop(0)
            got.status = status
            fake.received.append(got)
            return _answer(status, answer, headers)
        got.answered = f"0102{uuid.uuid4().hex}-000000"
        fake.received.append(got)
        return _answer(200, {"MessageId": got.answered})

    return handler


@contextlib.asynccontextmanager
async def serving(folder: Path) -> AsyncIterator[Fake]:
    """The three fakes on one TLS port of 127.0.0.1; its certificate from a private CA."""
    ca = make_ca(folder)
    fake = Fake("", ca)
    app = web.Application(client_max_size=30 * 1024 * 1024)
    app.router.add_post("/v3/{domain}/messages.mime", _mailgun(fake))
    app.router.add_post("/email", _postmark(fake))
    app.router.add_post("/v2/email/outbound-emails", _ses(fake))
    app.router.add_get("/message-streams/{stream}", _postmark_stream(fake))
    app.router.add_get("/v2/email/account", _ses_account(fake))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ca.server_context())
    await site.start()
    fake.url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()
