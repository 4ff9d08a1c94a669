"""Whether a domain's SPF record authorises an address: RFC 7208's check_host(), for the
operator's own check (``mailbridge check-config --dns``), never to judge incoming mail.

Why not pyspf: it is synchronous and looks names up through a module-level function,
so it cannot use the injectable resolver the rest of mailbridge (and its tests) use.
This covers the mechanisms real records use: ip4, ip6, a, mx, include, exists, all and
the redirect modifier, with the limit of ten lookups. Macros (``%{i}``) and ptr are not
evaluated: a record that needs them is reported as such, not guessed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal, Protocol

from mailbridge.senderauth.dns import DnsUnavailable, NoSuchRecord, TemporaryDnsError

__all__ = ["SpfLookups", "SpfResult", "check_host", "spf_record", "with_address"]

Result = Literal["pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"]
_QUALIFIERS: dict[str, Result] = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MAX_LOOKUPS = 10  # RFC 7208 4.6.4
MAX_MX = 10


class SpfLookups(Protocol):
    async def txt(self, name: str) -> list[str]: ...
    async def mx(self, name: str) -> list[tuple[int, str]]: ...
    async def addresses(self, name: str) -> list[str]: ...


@dataclass(frozen=True)
class SpfResult:
    result: Result
    reason: str  # the term that decided, or why nothing could be decided


class _PermError(Exception):
    pass


class _TempError(Exception):
    pass


def spf_record(records: list[str]) -> str | None:
    """The one SPF record among a name's TXT records; ValueError for two or more."""
    found = [r for r in records if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]
    if len(found) > 1:
        raise ValueError("more than one v=spf1 record")
    return found[0] if found else None


def with_address(record: str | None, ip: str) -> str:
    """``record`` changed to authorise ``ip`` (a new record when there is none): the
    address goes in front of the closing ``all`` or ``redirect``."""
    term = ("ip6:" if ipaddress.ip_address(ip).version == 6 else "ip4:") + ip
    if not record:
        return f"v=spf1 {term} -all"
    terms = record.split()
    for i, t in enumerate(terms[1:], start=1):
        if t.lstrip("+-~?").lower() == "all" or t.lower().startswith("redirect="):
            return " ".join([*terms[:i], term, *terms[i:]])
    return " ".join([*terms, term])


class _Budget:
    def __init__(self) -> None:
        self.used = 0

    def spend(self) -> None:
        self.used += 1
        if self.used > MAX_LOOKUPS:
            raise _PermError(f"more than {MAX_LOOKUPS} DNS lookups")


async def check_host(ip: str, domain: str, dns: SpfLookups) -> SpfResult:
    """RFC 7208 check_host(ip, domain) for the subset described above."""
    try:
        return await _check(ipaddress.ip_address(ip), domain.lower().rstrip("."), dns, _Budget())
    except _PermError as exc:
        return SpfResult("permerror", str(exc))
    except _TempError as exc:
        return SpfResult("temperror", str(exc))


async def _check(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, domain: str, dns: SpfLookups, budget: _Budget
) -> SpfResult:
    try:
        record = spf_record(await dns.txt(domain))
    except NoSuchRecord:
        record = None
    except (TemporaryDnsError, DnsUnavailable) as exc:
        raise _TempError(str(exc)) from None
    except ValueError as exc:
        raise _PermError(f"{domain}: {exc}") from None
    if record is None:
        return SpfResult("none", f"{domain} publishes no SPF record")
    redirect = ""
    for term in record.split()[1:]:
        if "%" in term:
            raise _PermError(f"{domain}: {term} uses macros, which this check does not expand")
        name, eq, value = term.partition("=")
        if eq and ":" not in name and "/" not in name:
            if name.lower() == "redirect":
                redirect = value
            continue  # exp= and unknown modifiers change nothing here
        qualifier = term[0] if term[0] in _QUALIFIERS else "+"
        if await _matches(term.lstrip("+-~?"), ip, domain, dns, budget):
            return SpfResult(_QUALIFIERS[qualifier], f"{domain}: {term}")
    if redirect:
        budget.spend()
        return await _check(ip, redirect.lower().rstrip("."), dns, budget)
    return SpfResult("neutral", f"{domain}: no term matched")


async def _matches(
    mechanism: str,
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
    domain: str,
    dns: SpfLookups,
    budget: _Budget,
) -> bool:
    kind, sep, rest = mechanism.partition(":")
    kind = kind.lower()
    cidr = ""
    if not sep:  # "a/24", "mx//64"
        kind, _, cidr = kind.partition("/")
        cidr = "/" + cidr if cidr else ""
    elif kind in ("a", "mx") and "/" in rest:  # "a:host/24"
        rest, _, cidr = rest.partition("/")
        cidr = "/" + cidr
    try:
        if kind == "all":
            return True
        if kind in ("ip4", "ip6"):
            return ip in ipaddress.ip_network(rest, strict=False)
        if kind == "include":
            budget.spend()
            inner = await _check(ip, rest.lower().rstrip("."), dns, budget)
            if inner.result in ("none", "permerror"):
                raise _PermError(f"include:{rest}: {inner.reason}")
            if inner.result == "temperror":
                raise _TempError(inner.reason)
            return inner.result == "pass"
        target = (rest or domain).lower().rstrip(".")
        if kind == "a":
            budget.spend()
            return _any_in(await _addresses(dns, target), ip, cidr)
        if kind == "mx":
            budget.spend()
            hosts = [h for _p, h in await _mx(dns, target)][:MAX_MX]
            for host in hosts:
                if _any_in(await _addresses(dns, host), ip, cidr):
                    return True
            return False
        if kind == "exists":
            budget.spend()
            return bool(await _addresses(dns, target))
        if kind == "ptr":
            budget.spend()
            return False  # RFC 7208 5.5: "do not use"; not evaluated here
    except ValueError as exc:
        raise _PermError(f"{domain}: {mechanism}: {exc}") from None
    raise _PermError(f"{domain}: unknown mechanism {mechanism!r}")


def _any_in(found: list[str], ip: ipaddress.IPv4Address | ipaddress.IPv6Address, cidr: str) -> bool:
    """``cidr``: "", "/24", "//64" or "/24//64" (RFC 7208 5.6: IPv4, then IPv6)."""
    v4, _, v6 = cidr.removeprefix("/").partition("//") if cidr else ("", "", "")
    if cidr.startswith("//"):
        v4, v6 = "", cidr[2:]
    for text in found:
        address = ipaddress.ip_address(text)
        if address.version != ip.version:
            continue
        given = v4 if address.version == 4 else v6
        bits = int(given) if given else address.max_prefixlen
        if ip in ipaddress.ip_network(f"{address}/{bits}", strict=False):
            return True
    return False


async def _addresses(dns: SpfLookups, name: str) -> list[str]:
    try:
        return await dns.addresses(name)
    except NoSuchRecord:
        return []  # a "void lookup": no match
    except (TemporaryDnsError, DnsUnavailable) as exc:
        raise _TempError(str(exc)) from None


async def _mx(dns: SpfLookups, name: str) -> list[tuple[int, str]]:
    try:
        return await dns.mx(name)
    except NoSuchRecord:
        return []
    except (TemporaryDnsError, DnsUnavailable) as exc:
        raise _TempError(str(exc)) from None
