"""TXT lookups for sender authentication, behind a small injectable interface.

Every check in this package asks DNS one kind of question: the TXT records at a
name (a DKIM key at ``selector._domainkey.domain``, a DMARC policy at
``_dmarc.domain``). :class:`Resolver` is that question; the answers that are not
records are exceptions, because each one means something different to the checks:

- :class:`NoSuchRecord`: the name has no TXT record (NXDOMAIN, or the name exists
  without TXT). A definite answer: "no DKIM key", "no DMARC policy here".
- :class:`TemporaryDnsError`: DNS answered but could not resolve this name now
  (SERVFAIL, a timeout after some server did answer). The check is undetermined.
- :class:`DnsUnavailable`: no DNS at all (no resolver configured, no server
  answered). The check is undetermined, and the result says so explicitly.

Implementations: :class:`DnsResolver` (dnspython's asyncio resolver, bounded
timeouts), :class:`StaticResolver` (records given as a dict: tests, and air-gapped
hosts that pin a few records), :class:`UnavailableResolver` (what a host without
DNS gets: every lookup is "DNS unavailable", never a silent pass).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

__all__ = [
    "DnsError",
    "DnsResolver",
    "DnsUnavailable",
    "NoSuchRecord",
    "Resolver",
    "StaticResolver",
    "TemporaryDnsError",
    "UnavailableResolver",
    "normalize_name",
]

# RFC 1035 limits: 63 octets a label, 253 characters a name in text form.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z")
_MAX_NAME = 253


class DnsError(Exception):
    """A TXT lookup gave no records; the subclass says why."""


class NoSuchRecord(DnsError):
    """The name has no TXT record: NXDOMAIN (``nxdomain``) or no TXT data at the name."""

    def __init__(self, message: str, *, nxdomain: bool = True) -> None:
        super().__init__(message)
        self.nxdomain = nxdomain


class TemporaryDnsError(DnsError):
    """DNS answered, but not with an answer for this name (SERVFAIL, timeout)."""


class DnsUnavailable(DnsError):
    """There is no usable DNS: nothing is configured, or no server answered at all."""


class Resolver(Protocol):
    """Looks up the TXT records at a name.

    Returns one string per TXT record (a record's character-strings joined, as DKIM
    and DMARC both require), decoded as UTF-8 with ``surrogateescape`` so the bytes
    round-trip. Raises one of the :class:`DnsError` subclasses otherwise; an
    implementation must bound its own time.
    """

    async def txt(self, name: str) -> list[str]: ...


def normalize_name(name: str) -> str:
    """``name`` lowercased, without a trailing dot, checked as an ASCII DNS name.

    Raises :class:`NoSuchRecord` for a name that cannot exist in DNS (empty or
    over-long labels, characters other than letters, digits, ``-`` and ``_``):
    such a name has no records, and it must never reach a resolver.
    """
    lowered = name.strip().lower()
    if lowered.endswith("."):
        lowered = lowered[:-1]
    if not lowered or len(lowered) > _MAX_NAME:
        raise NoSuchRecord(f"not a valid DNS name: {name[:80]!r}")
    if not all(_LABEL.match(label) for label in lowered.split(".")):
        raise NoSuchRecord(f"not a valid DNS name: {name[:80]!r}")
    return lowered


def _decode(strings: Sequence[bytes]) -> str:
    return b"".join(strings).decode("utf-8", "surrogateescape")


class DnsResolver:
    """TXT lookups through dnspython's asyncio resolver.

    ``nameservers``: IP addresses to ask (default: the system's resolv.conf).
    ``timeout``: seconds to wait for one server; ``lifetime``: seconds for the whole
    lookup, retries included (the bound the checks rely on). ``cache_size``: answers
    kept per instance, honouring their TTLs (0 disables the cache).
    """

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        *,
        port: int = 53,
        timeout: float = 2.0,
        lifetime: float = 5.0,
        cache_size: int = 1000,
    ) -> None:
        self._lifetime = lifetime
        self._unconfigured: str | None = None
        try:
            resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        except dns.resolver.NoResolverConfiguration as exc:
            # A host without resolv.conf: every lookup reports "DNS unavailable".
            resolver = dns.asyncresolver.Resolver(configure=False)
            self._unconfigured = f"no DNS resolver configured ({exc})"
        if nameservers:
            resolver.nameservers = list(nameservers)
        resolver.port = port
        resolver.timeout = timeout
        resolver.lifetime = lifetime
        if cache_size > 0:
            resolver.cache = dns.resolver.LRUCache(cache_size)
        self._resolver = resolver

    async def _answer(self, name: str, rdtype: dns.rdatatype.RdataType) -> tuple[str, Any]:
        """The answer to one question, or the DnsError that says why there is none."""
        qname = normalize_name(name)
        what = dns.rdatatype.to_text(rdtype)
        if self._unconfigured is not None:
            raise DnsUnavailable(self._unconfigured)
        if not self._resolver.nameservers:
            raise DnsUnavailable("no DNS nameserver configured")
        try:
            answer = await self._resolver.resolve(
                dns.name.from_text(qname), rdtype, search=False, lifetime=self._lifetime
            )
        except dns.resolver.NXDOMAIN as exc:
            raise NoSuchRecord(f"{qname}: no such domain", nxdomain=True) from exc
        except dns.resolver.NoAnswer as exc:
            raise NoSuchRecord(f"{qname}: no {what} record", nxdomain=False) from exc
        except dns.resolver.YXDOMAIN as exc:
            raise NoSuchRecord(f"{qname}: name too long after DNAME", nxdomain=True) from exc
        except dns.resolver.NoNameservers as exc:
            if _any_server_answered(exc):
                raise TemporaryDnsError(f"{qname}: DNS servers failed (SERVFAIL)") from exc
            raise DnsUnavailable(f"{qname}: no DNS server answered") from exc
        except dns.exception.Timeout as exc:
            if _any_server_answered(exc):
                raise TemporaryDnsError(f"{qname}: DNS timed out") from exc
            raise DnsUnavailable(
                f"{qname}: no DNS server answered within {self._lifetime:g} s"
            ) from exc
        except dns.exception.DNSException as exc:
            raise TemporaryDnsError(f"{qname}: DNS error: {type(exc).__name__}") from exc
        return qname, answer

    async def txt(self, name: str) -> list[str]:
        qname, answer = await self._answer(name, dns.rdatatype.TXT)
        records = []
        for rdata in answer:
            strings = getattr(rdata, "strings", None)
            if isinstance(strings, tuple):
                records.append(_decode(strings))
        if not records:
            raise NoSuchRecord(f"{qname}: no TXT record", nxdomain=False)
        return records

    async def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, host) of each MX record, host without its trailing dot."""
        _qname, answer = await self._answer(name, dns.rdatatype.MX)
        return sorted((int(r.preference), r.exchange.to_text().rstrip(".").lower()) for r in answer)

    async def addresses(self, name: str) -> list[str]:
        """The IPv4 and IPv6 addresses of ``name`` (A and AAAA); NoSuchRecord if neither."""
        found: list[str] = []
        missing: NoSuchRecord | None = None
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                _qname, answer = await self._answer(name, rdtype)
            except NoSuchRecord as exc:
                missing = exc
                continue
            found += [r.address for r in answer]
        if not found:
            assert missing is not None
            raise missing
        return found


def _any_server_answered(exc: dns.exception.DNSException) -> bool:
    """Whether any server sent a DNS reply (as opposed to silence or a network error).

    dnspython lists each attempt as (server, tcp, port, error, answer); a server that
    replied SERVFAIL or REFUSED shows up with an answer message or a non-network error.
    """
    kwargs = exc.kwargs if isinstance(exc.kwargs, dict) else {}
    for attempt in kwargs.get("errors") or ():
        if not isinstance(attempt, tuple) or len(attempt) < 5:
            continue
        error, reply = attempt[3], attempt[4]
        if reply is not None:
            return True
        if not isinstance(error, OSError | dns.exception.Timeout | EOFError):
            return True
    return False


class StaticResolver:
    """Records from a dict: ``{"sel._domainkey.example.com": "v=DKIM1; ...", ...}``.

    A value is one TXT record or a list of them. Names are matched case-insensitively,
    with or without a trailing dot. ``otherwise`` says what a name missing from the
    zone is: ``"unavailable"`` (the default, for air-gapped hosts that pin a few
    records: any other name is unknown, not absent) or ``"nxdomain"`` (the zone is the
    whole of DNS, as in tests). A name that is not a valid DNS name raises ValueError.
    """

    def __init__(
        self,
        zone: Mapping[str, str | Sequence[str]],
        *,
        otherwise: Literal["unavailable", "nxdomain"] = "unavailable",
    ) -> None:
        records: dict[str, tuple[str, ...]] = {}
        for name, value in zone.items():
            try:
                key = normalize_name(name)
            except NoSuchRecord as exc:
                raise ValueError(f"static zone: {exc}") from None  # a configuration mistake
            records[key] = (value,) if isinstance(value, str) else tuple(value)
        self._records = records
        self._otherwise = otherwise

    async def txt(self, name: str) -> list[str]:
        qname = normalize_name(name)
        found = self._records.get(qname)
        if found is None:
            if self._otherwise == "nxdomain":
                raise NoSuchRecord(f"{qname}: no such domain", nxdomain=True)
            raise DnsUnavailable(f"{qname}: not in the static zone and no DNS configured")
        if not found:
            raise NoSuchRecord(f"{qname}: no TXT record", nxdomain=False)
        return list(found)


class UnavailableResolver:
    """No DNS: every lookup raises :class:`DnsUnavailable` (air-gapped hosts)."""

    def __init__(self, reason: str = "no DNS resolver configured") -> None:
        self._reason = reason

    async def txt(self, name: str) -> list[str]:
        raise DnsUnavailable(self._reason)
