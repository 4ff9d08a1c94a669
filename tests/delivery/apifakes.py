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
  Temporary credentials (a role's: ``sessions``, key id to secret, session token and
  expiry) are taken only with their token in ``X-Amz-Security-Token``, signed (else
  403 ``UnrecognizedClientException``, "The security token included in the request
  is invalid"), and before their expiry (else 403 ``ExpiredTokenException``).

  ``GET /v2/email/account`` (GetAccount, signed the same way): 200 ``{"SendingEnabled",
  "ProductionAccessEnabled", "SendQuota", ...}``; with ``account_denied`` set, 403
  ``AccessDeniedException`` (an IAM user allowed only ses:SendEmail).

- SendGrid v3 ``POST /v3/mail/send`` (JSON; ``Authorization: Bearer KEY``):
  ``personalizations`` (1 or more, each with ``to``, 1 or more ``{"email", "name"}``),
  ``from`` and ``reply_to`` (``{"email", "name"}``), ``subject``, ``content`` (1 or more
  ``{"type", "value"}``, a value at least one character, text/plain first and text/html
  second when both are there), ``headers`` (an object of strings, encoded: ASCII, and
  none of x-sg-id, x-sg-eid, received, dkim-signature, Content-Type,
  Content-Transfer-Encoding, To, From, Subject, Reply-To, CC, BCC),
  ``tracking_settings``, ``mail_settings``. 202 with an empty body and the
  ``X-Message-Id`` header; errors ``{"errors": [{"message", "field", "help"}]}``: a
  wrong key 401, a key without Mail Send 403 ``access forbidden``, a From that is not
  a verified Sender Identity 403 (field ``from``), a bad request 400.

  ``GET /v3/scopes`` (the same key): 200 ``{"scopes": [...]}``, the key's permissions.

A test may queue answers (``script``) that come before the normal ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
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
# Shaped as SendGrid's API keys: "SG.", the key's id, a dot, the secret.
SENDGRID_KEY = "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"
SENDGRID_NO_SEND = (
    "SG.Pq2wE8rT5yUi1oPa3sDf7g.m4Nb6Vc9Xz2Lk5Jh8Gf1Ds3Aq7We0Rt4Yu6Io9Pl2k"  # stats.read only
)
SENDGRID_VERIFIED = {"example.org"}  # domains authenticated in the (fake) account
_SENDGRID_RESERVED = {
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
    "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc",
}  # fmt: skip


@dataclass
class Received:
    """One request the fake accepted (answered 2xx) or refused."""

    provider: str
    status: int
    to: str = ""
    message: bytes = b""  # Mailgun: the raw MIME, as sent
    options: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)  # Postmark, SendGrid: the JSON
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
    # SES: temporary credentials AWS handed out: key id -> (secret, token, expiry as
    # a Unix time).
    sessions: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)  # SES: the session token of each request

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


def _sendgrid_error(status: int, message: str, field: str | None = None) -> web.Response:
    return _answer(status, {"errors": [{"message": message, "field": field, "help": None}]})


def _sendgrid_refused(request: web.Request, fake: Fake) -> web.Response | None:
    """SendGrid's answer to a request whose key it does not take, or None."""
    auth = request.headers.get("Authorization", "")
    if auth not in (f"Bearer {SENDGRID_KEY}", f"Bearer {SENDGRID_NO_SEND}"):
        fake.received.append(Received("sendgrid", 401))
        return _sendgrid_error(
            401, "The provided authorization grant is invalid, expired, or revoked"
        )
    return None


def _sendgrid_problems(fields: Any) -> list[tuple[str, str]]:
    """What SendGrid's validation would say of the request body: (field, message)."""
    if not isinstance(fields, dict):
        return [("", "Bad Request")]
    found: list[tuple[str, str]] = []
    people = fields.get("personalizations")
    if not isinstance(people, list) or not people:
        found.append(("personalizations", "You must have at least one personalization."))
    for n, person in enumerate(people if isinstance(people, list) else []):
        to = person.get("to") if isinstance(person, dict) else None
        if not isinstance(to, list) or not to:
            found.append((f"personalizations.{n}.to", "The to array is required."))
        for m, one in enumerate(to if isinstance(to, list) else []):
            email = one.get("email", "") if isinstance(one, dict) else ""
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(email)):
                found.append((f"personalizations.{n}.to.{m}.email",
                              "Does not contain a valid address."))  # fmt: skip
    for name in ("from", "reply_to"):
        one = fields.get(name)
        if name == "from" or one is not None:
            if not isinstance(one, dict) or "@" not in str(one.get("email", "")):
                found.append((f"{name}.email", "The email address is required."))
            elif set(one) - {"email", "name"}:
                found.append((name, f"unknown keys {sorted(set(one) - {'email', 'name'})}"))
    if not fields.get("subject") and not all(
        isinstance(p, dict) and p.get("subject") for p in people or [None]
    ):
        found.append(("subject", "The subject is required."))
    content = fields.get("content")
    if not isinstance(content, list) or not content:
        found.append(("content", "Unless a valid template_id is provided, the content "
                      "parameter is required."))  # fmt: skip
        content = []
    types = [c.get("type") if isinstance(c, dict) else None for c in content]
    for n, c in enumerate(content):
        if not isinstance(c, dict) or not c.get("type") or not c.get("value"):
            found.append((f"content.{n}", "The content value must be a string at least one "
                          "character in length."))  # fmt: skip
    if "text/plain" in types and types.index("text/plain") != 0:
        found.append(("content", "If present, text/plain must be first, followed by "
                      "text/html, followed by any other content."))  # fmt: skip
    if "text/html" in types and types.index("text/html") != ("text/plain" in types):
        found.append(("content", "If present, text/plain must be first, followed by "
                      "text/html, followed by any other content."))  # fmt: skip
    headers = fields.get("headers", {})
    if not isinstance(headers, dict):
        found.append(("headers", "Invalid type. Expected: object, given: array."))
        headers = {}
    for name, value in headers.items():
        if name.lower() in _SENDGRID_RESERVED:
            found.append((f"headers.{name}", f"{name} is a reserved header."))
        if not isinstance(value, str) or not (name + value).isascii():
            found.append((f"headers.{name}", "Invalid type or not encoded."))
    return found


def _sendgrid(fake: Fake) -> Any:
    async def handler(request: web.Request) -> web.Response:
        refused = _sendgrid_refused(request, fake)
        if refused is not None:
            return refused
        if request.content_type != "application/json":
            fake.problems.append(f"content type {request.content_type}")
            return _sendgrid_error(400, "Content-Type should be application/json.")
        try:
            fields = json.loads(await request.read())
        except ValueError:
            return _sendgrid_error(400, "Bad Request")
        problems = _sendgrid_problems(fields)
        if problems:
            fake.problems += [f"{f}: {m}" for f, m in problems]
            fake.received.append(Received("sendgrid", 400, fields=fields))
            body = {"errors": [{"message": m, "field": f, "help": None} for f, m in problems]}
            return _answer(400, body)
        to = fields["personalizations"][0]["to"][0]["email"]
        # SendGrid's documented limitation: a to name with a comma or a semicolon is
        # taken (202), then read as more addresses and the message dropped (Invalid).
        # Its from and reply_to names are not documented either way: a name that holds
        # one is reported too, as the fake cannot tell which of the two SendGrid does.
        named = [("to", one) for person in fields["personalizations"]
                 for one in person.get("to", [])]  # fmt: skip
        named += [(key, fields[key]) for key in ("from", "reply_to") if key in fields]
        for key, one in named:
            if re.search(r"[,;]", str(one.get("name", ""))):
                fake.problems.append(f"{key} name {one['name']!r}: dropped by SendGrid")
        if request.headers["Authorization"] == f"Bearer {SENDGRID_NO_SEND}":
            fake.received.append(Received("sendgrid", 403, to, fields=fields))
            return _sendgrid_error(403, "access forbidden")
        if fields["from"]["email"].rpartition("@")[2].lower() not in SENDGRID_VERIFIED:
            fake.received.append(Received("sendgrid", 403, to, fields=fields))
            said = (
                "The from address does not match a verified Sender Identity. Mail cannot "
                "be sent until this error is resolved. Visit https://sendgrid.com/docs/"
                "for-developers/sending-email/sender-identity/ to see the Sender Identity "
                "requirements"
            )
            return _sendgrid_error(403, said, "from")
        if fake.script:
            status, body, headers = fake.script.pop(0)
            fake.received.append(Received("sendgrid", status, to, fields=fields))
            return _answer(status, body, headers)
        answered = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        fake.received.append(Received("sendgrid", 202, to, fields=fields, answered=answered))
        return web.Response(status=202, headers={"X-Message-Id": answered})

    return handler


def _sendgrid_scopes(fake: Fake) -> Any:
    async def handler(request: web.Request) -> web.Response:
        refused = _sendgrid_refused(request, fake)
        if refused is not None:
            return refused
        if request.headers["Authorization"] == f"Bearer {SENDGRID_NO_SEND}":
            return _answer(200, {"scopes": ["stats.read", "user.profile.read"]})
        return _answer(200, {"scopes": ["mail.send", "sender_verification_eligible"]})

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
        problem = _sigv4_problem(request, await request.read(), fake)
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


def _sigv4_problem(request: web.Request, body: bytes, fake: Fake) -> str:
    """Why the request's signature is not AWS SigV4's for our key, or a session's, or ""."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    found = _SIGV4.fullmatch(request.headers.get("Authorization", ""))
    if found is None:
        return "no SigV4 Authorization header"
    signed = found["signed"].split(";")
    secret, token = AWS_SECRET, None
    if found["key"] in fake.sessions:
        secret, token, expiry = fake.sessions[found["key"]]
        fake.tokens.append(request.headers.get("X-Amz-Security-Token", ""))
        if request.headers.get("X-Amz-Security-Token") != token:
            return "UnrecognizedClientException"
        if "x-amz-security-token" not in signed:
            return "the security token must be signed"
        if time.time() >= expiry:
            return "ExpiredTokenException"
    elif found["key"] != AWS_KEY_ID:
        return "UnrecognizedClientException"
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
    signer = SigV4Auth(Credentials(found["key"], secret, token), "ses", found["region"])
    expected = signer.signature(
        signer.string_to_sign(again, signer.canonical_request(again)), again
    )
    return "" if expected == found["signature"] else "InvalidSignatureException"


def _ses(fake: Fake) -> Any:
    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        problem = _sigv4_problem(request, body, fake)
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
    """The four fakes on one TLS port of 127.0.0.1; its certificate from a private CA."""
    ca = make_ca(folder)
    fake = Fake("", ca)
    app = web.Application(client_max_size=30 * 1024 * 1024)
    app.router.add_post("/v3/{domain}/messages.mime", _mailgun(fake))
    app.router.add_post("/email", _postmark(fake))
    app.router.add_post("/v2/email/outbound-emails", _ses(fake))
    app.router.add_get("/message-streams/{stream}", _postmark_stream(fake))
    app.router.add_get("/v2/email/account", _ses_account(fake))
    app.router.add_post("/v3/mail/send", _sendgrid(fake))
    app.router.add_get("/v3/scopes", _sendgrid_scopes(fake))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ca.server_context())
    await site.start()
    fake.url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()
