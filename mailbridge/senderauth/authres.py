"""Authentication-Results (RFC 8601): parse it, and decide whether to believe it.

Anyone can write an ``Authentication-Results`` header into a message, so one is
honoured only when all of these hold:

- its authserv-id (the first word) is one the operator named as a trusted relay;
- it is the topmost ``Authentication-Results`` header of the message: a relay
  prepends its own, so anything below it was already in the message when the relay
  received it, and may have been written by the sender;
- it sits above the message's own header fields (From, To, Subject, Date, ...):
  a header among or below them came with the message, not from a relay.

and the message must have come to us from the relay itself: the SMTP client's
address must be in the operator's trusted networks (:func:`peer_in_networks`), or a
sender reaching our port directly could write the "topmost" header themselves.

The trusted relay must also do what RFC 8601 §5 requires of it: remove incoming
``Authentication-Results`` headers that claim its authserv-id. The parser below is
small and strict: a header it cannot read is ignored as a whole, never half-used.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

__all__ = [
    "AuthResHeader",
    "AuthResSyntaxError",
    "MethodResult",
    "parse_authres",
    "peer_in_networks",
    "topmost_trusted",
]

_MAX_VALUE = 16_384
_MAX_DEPTH = 16  # nested comments
_MAX_RESULTS = 64
_WORD_END = frozenset(' \t\r\n;=()"')
_DIGITS = re.compile(r"\d+\Z")

# Header fields written by the message's author, not by relays on the way.
ORIGINATOR_FIELDS = frozenset(
    {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


class AuthResSyntaxError(ValueError):
    """The header value does not follow RFC 8601's grammar."""


@dataclass(frozen=True)
class MethodResult:
    """One ``method=result`` clause, e.g. ``dkim=pass header.d=example.com``."""

    method: str  # lowercased, without a /version
    result: str  # lowercased
    properties: tuple[tuple[str, str], ...] = ()  # ("header.d", "example.com"), names lowercased
    comments: tuple[str, ...] = ()
    reason: str | None = None

    def prop(self, name: str) -> str | None:
        """The first value of property ``name`` (e.g. ``"header.from"``), if present."""
        for key, value in self.properties:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class AuthResHeader:
    authserv_id: str
    results: tuple[MethodResult, ...]


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "quoted", ";", "="
    text: str
    start: int
    end: int


def _comment(value: str, start: int) -> tuple[str, int]:
    """The text of the comment opening at ``start`` and the index after it."""
    depth, i, out = 0, start, []
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if char == "(":
            depth += 1
            if depth > _MAX_DEPTH:
                raise AuthResSyntaxError("comments nested too deeply")
            if depth > 1:
                out.append(char)
        elif char == ")":
            depth -= 1
            if depth == 0:
                return "".join(out), i + 1
            out.append(char)
        else:
            out.append(char)
        i += 1
    raise AuthResSyntaxError("unterminated comment")


def _quoted(value: str, start: int) -> tuple[str, int]:
    i, out = start + 1, []
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise AuthResSyntaxError("unterminated quoted string")


def _tokens(value: str) -> tuple[list[_Token], list[tuple[int, str]]]:
    """Tokens, and the comments with the index of the token they follow."""
    tokens: list[_Token] = []
    comments: list[tuple[int, str]] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char in " \t\r\n":
            i += 1
        elif char == "(":
            text, i = _comment(value, i)
            comments.append((len(tokens), text))
        elif char == ")":
            raise AuthResSyntaxError("unbalanced ')'")
        elif char == '"':
            text, end = _quoted(value, i)
            tokens.append(_Token("quoted", text, i, end))
            i = end
        elif char in ";=":
            tokens.append(_Token(char, char, i, i + 1))
            i += 1
        else:
            end = i
            while end < len(value) and value[end] not in _WORD_END:
                end += 1
            tokens.append(_Token("word", value[i:end], i, end))
            i = end
    return tokens, comments


def _split(tokens: list[_Token]) -> list[tuple[int, list[_Token]]]:
    """Groups of tokens between semicolons, each with the index of its first token."""
    groups: list[tuple[int, list[_Token]]] = []
    current: list[_Token] = []
    first = 0
    for index, token in enumerate(tokens):
        if token.kind == ";":
            groups.append((first, current))
            current, first = [], index + 1
        else:
            current.append(token)
    groups.append((first, current))
    return groups


def _value(tokens: list[_Token], i: int) -> tuple[str, int]:
    """A property value at ``tokens[i]``, with any ``=`` glued to it (base64 padding)."""
    if i >= len(tokens) or tokens[i].kind not in ("word", "quoted"):
        raise AuthResSyntaxError("a property needs a value")
    text, end = tokens[i].text, tokens[i].end
    i += 1
    while i < len(tokens) and tokens[i].kind in ("=", "word") and tokens[i].start == end:
        text, end = text + tokens[i].text, tokens[i].end
        i += 1
    return text, i


def _resinfo(tokens: list[_Token], comments: tuple[str, ...]) -> MethodResult:
    if len(tokens) < 3 or tokens[0].kind != "word" or tokens[1].kind != "=":
        raise AuthResSyntaxError("expected method=result")
    if tokens[2].kind != "word":
        raise AuthResSyntaxError("expected a result keyword")
    method = tokens[0].text.lower().partition("/")[0]
    result = tokens[2].text.lower()
    reason: str | None = None
    properties: list[tuple[str, str]] = []
    i = 3
    while i < len(tokens):
        name = tokens[i]
        if name.kind != "word" or i + 1 >= len(tokens) or tokens[i + 1].kind != "=":
            raise AuthResSyntaxError(f"unexpected {name.text[:20]!r}")
        value, i = _value(tokens, i + 2)
        key = name.text.lower()
        if key == "reason":
            reason = value
        else:
            # ptype.property; undotted keys (Microsoft's action=, compauth=) are not in
            # RFC 8601 but common, and harmless to keep.
            properties.append((key, value))
    return MethodResult(method, result, tuple(properties), comments, reason)


def parse_authres(value: str) -> AuthResHeader:
    """Parse an Authentication-Results header value (the part after the colon)."""
    if len(value) > _MAX_VALUE:
        raise AuthResSyntaxError("header too long")
    tokens, comments = _tokens(value)
    groups = _split(tokens)
    head = groups[0][1]
    if not head or head[0].kind not in ("word", "quoted"):
        raise AuthResSyntaxError("missing authserv-id")
    if len(head) > 2 or (len(head) == 2 and not _DIGITS.match(head[1].text)):
        raise AuthResSyntaxError("unexpected text after the authserv-id")
    if len(head) == 2 and head[1].text != "1":
        raise AuthResSyntaxError(f"unsupported version {head[1].text[:10]}")
    results: list[MethodResult] = []
    rest = groups[1:]
    if len(rest) == 1 and [t.text.lower() for t in rest[0][1]] == ["none"]:
        return AuthResHeader(head[0].text, ())
    for position, (start, group) in enumerate(rest):
        if not group:
            if position == len(rest) - 1:
                continue  # a trailing semicolon is common enough to tolerate
            raise AuthResSyntaxError("empty result")
        end = start + len(group)
        attached = tuple(text for at, text in comments if start <= at <= end)
        results.append(_resinfo(group, attached))
        if len(results) > _MAX_RESULTS:
            raise AuthResSyntaxError("too many results")
    return AuthResHeader(head[0].text, tuple(results))


def peer_in_networks(peer: str, networks: Collection[str]) -> bool:
    """Whether the SMTP client ``peer`` (``host``, ``host:port`` or ``[v6]:port``) is in
    one of ``networks`` (``"192.0.2.10"``, ``"10.0.0.0/8"``, ``"::1/128"``).

    A peer that is no IP address (a Unix socket, an empty string) is never trusted.
    An invalid network raises ValueError: it is a configuration mistake.
    """
    parsed = [ipaddress.ip_network(n.strip(), strict=False) for n in networks]
    host = peer.strip()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        host = host.partition(":")[0]
    else:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            host = host.rpartition(":")[0]  # IPv6 with a port appended, as aiosmtpd's peer
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in parsed)


def topmost_trusted(
    headers: Iterable[tuple[str, str]], trusted_ids: Collection[str]
) -> tuple[AuthResHeader | None, str]:
    """The Authentication-Results header to honour, if any, and a note saying why (not).

    ``headers`` are the message's header fields in order, topmost first.
    """
    trusted = {i.strip().lower() for i in trusted_ids if i.strip()}
    if not trusted:
        return None, "no trusted relays configured"
    for name, value in headers:
        field = name.strip().lower()
        if field in ORIGINATOR_FIELDS:
            return None, "no Authentication-Results header above the message's own fields"
        if field != "authentication-results":
            continue
        try:
            parsed = parse_authres(value)
        except AuthResSyntaxError as exc:
            return None, f"topmost Authentication-Results unreadable ({exc})"
        authserv_id = parsed.authserv_id.strip().lower()
        if authserv_id not in trusted:
            return None, f"topmost Authentication-Results is from untrusted {authserv_id[:60]!r}"
        return parsed, f"topmost Authentication-Results from trusted relay {authserv_id}"
    return None, "no Authentication-Results header"
