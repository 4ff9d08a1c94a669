"""Inbound sender authentication: DKIM, DMARC alignment, trusted Authentication-Results.

Two calls::

    result = await authenticate(raw, resolver=resolver, trusted_authserv_ids=relays,
                                from_domain=domain, suffixes=suffixes)
    decision = decide(result, AuthPolicy(...))

:func:`authenticate` never raises for anything a sender or DNS can do; with no DNS it
returns ``status="undetermined"`` and ``dns="unavailable"``, never a silent pass.
:func:`decide` is pure. See docs/sender-authentication.md for what each result means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from email.message import Message
from email.utils import getaddresses

from publicsuffixlist import PublicSuffixList

from mailbridge.rawheaders import parse_header_section
from mailbridge.senderauth.authres import peer_in_networks, topmost_trusted
from mailbridge.senderauth.dkim import DkimResult, DnsState, verify_dkim
from mailbridge.senderauth.dmarc import (
    DmarcResult,
    discover_policy,
    evaluate,
    load_public_suffixes,
    to_ascii_domain,
)
from mailbridge.senderauth.dns import (
    DnsResolver,
    DnsUnavailable,
    NoSuchRecord,
    Resolver,
    StaticResolver,
    TemporaryDnsError,
    UnavailableResolver,
)
from mailbridge.senderauth.verdict import (
    LOCAL,
    Action,
    AuthPolicy,
    AuthResult,
    Decision,
    Status,
    combine,
    decide,
    local_status,
)

__all__ = [
    "Action",
    "AuthPolicy",
    "AuthResult",
    "Decision",
    "DkimResult",
    "DmarcResult",
    "DnsResolver",
    "DnsUnavailable",
    "NoSuchRecord",
    "Resolver",
    "StaticResolver",
    "Status",
    "TemporaryDnsError",
    "UnavailableResolver",
    "authenticate",
    "decide",
    "from_domain_of",
    "load_public_suffixes",
    "peer_in_networks",
]

LOOPBACK = ("127.0.0.0/8", "::1/128")


def from_domain_of(headers: Message) -> str | None:
    """The domain of the message's single From address, or None (RFC 7489 §6.6.1)."""
    values = [str(v) for v in headers.get_all("From", [])]
    if len(values) != 1:
        return None
    found = [addr for _name, addr in getaddresses(values) if "@" in addr]
    if len(found) != 1:
        return None
    return found[0].rpartition("@")[2]


def _worst(states: Collection[DnsState]) -> DnsState:
    if "unavailable" in states:
        return "unavailable"
    return "temperror" if "temperror" in states else "ok"


async def authenticate(
    raw: bytes,
    *,
    resolver: Resolver,
    trusted_authserv_ids: Collection[str] = (),
    peer: str | None = None,
    trusted_networks: Collection[str] = LOOPBACK,
    from_domain: str | None = None,
    suffixes: PublicSuffixList | None = None,
    lookup_timeout: float = 10.0,
) -> AuthResult:
    """Authenticate the sender of ``raw`` (the message as received).

    ``from_domain``: the domain of the From address the caller checked against the
    reply token; when None it is read from the message (exactly one From address, or
    ``status="no-from"``). ``trusted_authserv_ids``: authserv-ids of relays whose
    topmost Authentication-Results header may be believed, and only when the SMTP
    client ``peer`` (as the handler records it, ``host:port``) is in
    ``trusted_networks`` (default: loopback, a relay on this host). ``suffixes``: the Public
    Suffix List from :func:`load_public_suffixes`, loaded once by the caller (loaded
    here per call otherwise). ``lookup_timeout`` bounds each DNS lookup.
    """
    # Headers only, as the inbound pipeline parses them: the body is not our business.
    headers = parse_header_section(raw)
    named = from_domain if from_domain is not None else from_domain_of(headers)
    if named is None:
        reason = "the message needs exactly one From address"
        return AuthResult(
            "no-from", None, (), DmarcResult("permerror", reason=reason), LOCAL, "ok", "not read"
        )
    psl = suffixes if suffixes is not None else await asyncio.to_thread(load_public_suffixes)
    domain = to_ascii_domain(named)
    if domain is None:
        # No DNS name, so no DMARC record and no signature can align: say so, no lookups.
        shown = " ".join(named.split()).lower()[:100] or "(empty)"
        dmarc = DmarcResult("none", reason=f"the From domain {shown!r} is not a DNS name")
        dkim_results = await verify_dkim(raw, resolver, lookup_timeout=lookup_timeout)
        dns = _worst({r.dns for r in dkim_results})
        return AuthResult("unauthenticated", shown, dkim_results, dmarc, LOCAL, dns, "not read")
    dkim_results, lookup = await asyncio.gather(
        verify_dkim(raw, resolver, lookup_timeout=lookup_timeout),
        discover_policy(domain, resolver, psl, lookup_timeout=lookup_timeout),
    )
    dmarc = evaluate(domain, dkim_results, lookup, psl)
    dns = _worst({r.dns for r in dkim_results} | {dmarc.dns})
    if trusted_authserv_ids and not (peer and peer_in_networks(peer, trusted_networks)):
        header, note = None, f"not consulted: peer {peer or '(unknown)'} is no trusted relay"
    else:
        fields = [(name, str(value)) for name, value in headers.items()]
        header, note = topmost_trusted(fields, trusted_authserv_ids)
    local = AuthResult(local_status(dmarc), domain, dkim_results, dmarc, LOCAL, dns, note)
    return combine(local, header, psl)
