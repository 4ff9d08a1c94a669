"""Verify every DKIM-Signature of a message (RFC 6376, RFC 8463 ed25519, RFC 8301).

dkimpy does the cryptography, but its DNS hook is synchronous, so the work is split
in three steps: parse the signatures (in a thread), fetch each signature's key
through the async :class:`~mailbridge.senderauth.dns.Resolver` (concurrently, each
lookup bounded), then verify (in a thread: hashing a large body and RSA are CPU work)
with dkimpy reading the key from what was fetched.

Each signature gets one :class:`DkimResult`: ``pass``, ``fail`` (the signature does
not match: the message was altered, or it was never genuine), ``policy`` (it verifies,
but we do not accept it: rsa-sha1, a body length limit that leaves text unsigned, a
key in testing mode), ``temperror`` (its key could not be fetched now) or
``permerror`` (the signature or its key record is broken or missing).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dkim
from dkim.canonicalization import CanonicalizationPolicy
from dkim.util import parse_tag_value

from mailbridge.senderauth.dns import (
    DnsError,
    DnsUnavailable,
    NoSuchRecord,
    Resolver,
    TemporaryDnsError,
    normalize_name,
)

__all__ = ["DkimOutcome", "DkimResult", "DnsState", "verify_dkim"]

log = logging.getLogger(__name__)

DkimOutcome = Literal["pass", "fail", "policy", "temperror", "permerror"]
DnsState = Literal["ok", "temperror", "unavailable"]

# RFC 6376 §6.1 lets a verifier limit how many signatures it checks; beyond this, a
# message is making us do DNS and CPU work for nothing legitimate.
MAX_SIGNATURES = 8
# RFC 8301 §3.2: keys under 1024 bits must not be considered valid.
MIN_RSA_BITS = 1024
_REASON_MAX = 160
_TAG = re.compile(rb"(?:^|;)\s*([ads])\s*=\s*([^;]*)", re.IGNORECASE)


@dataclass(frozen=True)
class DkimResult:
    """The verdict on one DKIM-Signature header, topmost first."""

    domain: str  # d=, lowercased ("" when unreadable)
    selector: str  # s=
    algorithm: str  # a=
    result: DkimOutcome
    reason: str
    dns: DnsState = "ok"  # how the key lookup went

    def to_log(self) -> dict[str, str]:
        return {
            "d": self.domain,
            "s": self.selector,
            "a": self.algorithm,
            "result": self.result,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class _Signature:
    index: int
    domain: str
    selector: str
    algorithm: str
    key_name: str  # selector._domainkey.domain, normalized
    tags: dict[bytes, bytes]


@dataclass(frozen=True)
class _Key:
    records: tuple[str, ...] = ()
    problem: Literal["nokey", "temperror", "unavailable"] | None = None
    reason: str = ""


def _short(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _REASON_MAX else flat[: _REASON_MAX - 1] + "…"


def _text(value: bytes) -> str:
    return " ".join(value.decode("ascii", "replace").split())[:100]


def _lenient_tags(header_value: bytes) -> dict[str, str]:
    """d=, s= and a= read leniently, to name a signature that failed to parse."""
    return {m.group(1).decode().lower(): _text(m.group(2)) for m in _TAG.finditer(header_value)}


def _parse(raw: bytes, max_signatures: int) -> tuple[Any, list[_Signature | DkimResult]]:
    """The dkimpy verifier for ``raw`` and each signature, or the result that ends it."""
    try:
        verifier = dkim.DKIM(raw, logger=log, minkey=MIN_RSA_BITS)
    except Exception as exc:  # hostile input reaching a third-party parser: never raise
        if b"dkim-signature" not in raw.lower():
            return None, []
        reason = _short(f"message header unreadable for DKIM: {exc}")
        return None, [DkimResult("", "", "", "permerror", reason)]
    headers = [v for k, v in verifier.headers if k.lower() == b"dkim-signature"]
    found: list[_Signature | DkimResult] = []
    for index, value in enumerate(headers):
        lenient = _lenient_tags(value)
        named = (lenient.get("d", "").lower(), lenient.get("s", ""), lenient.get("a", ""))
        if index >= max_signatures:
            found.append(DkimResult(*named, "policy", f"not checked: over {max_signatures}"))
            continue
        found.append(_signature(verifier, index, named))
    return verifier, found


def _signature(verifier: Any, index: int, named: tuple[str, str, str]) -> _Signature | DkimResult:
    try:
        prepared = verifier.verify_headerprep(index)
    except Exception as exc:  # dkimpy raises several types (and IndexError) on bad tags
        return DkimResult(*named, "permerror", _short(f"malformed signature: {exc}"))
    if not prepared:
        return DkimResult(*named, "permerror", "malformed signature")
    tags, include_headers, _ = prepared
    domain, selector = _text(tags[b"d"]).lower(), _text(tags[b"s"])
    algorithm = _text(tags[b"a"]).lower()
    named = (domain, selector, algorithm)
    if algorithm == "rsa-sha1":
        return DkimResult(*named, "policy", "rsa-sha1 is no longer acceptable (RFC 8301)")
    if b"from" not in include_headers:
        # RFC 6376 §6.1.1: a signature that does not cover From proves nothing about it.
        return DkimResult(*named, "permerror", "the From header field is not signed (h=)")
    try:
        key_name = normalize_name(f"{selector}._domainkey.{domain}")
    except NoSuchRecord:
        return DkimResult(*named, "permerror", "d= or s= is not a valid DNS name")
    return _Signature(index, domain, selector, algorithm, key_name, tags)


async def _fetch(resolver: Resolver, name: str, seconds: float) -> _Key:
    try:
        async with asyncio.timeout(seconds):
            records = await resolver.txt(name)
    except NoSuchRecord as exc:
        return _Key(problem="nokey", reason=_short(exc))
    except DnsUnavailable as exc:
        return _Key(problem="unavailable", reason=_short(f"DNS unavailable: {exc}"))
    except (TemporaryDnsError, DnsError) as exc:
        return _Key(problem="temperror", reason=_short(f"DNS temporary failure: {exc}"))
    except TimeoutError:
        return _Key(problem="temperror", reason=f"DNS lookup of {name} took over {seconds:g} s")
    return _Key(records=tuple(records))


def _body_length(verifier: Any, tags: dict[bytes, bytes]) -> int:
    policy = CanonicalizationPolicy.from_c_value(tags.get(b"c", b"simple/simple"))
    return len(policy.canonicalize_body(verifier.body))


def _check_key(record: bytes, algorithm: str) -> str | None:
    """Why the key record cannot verify this signature, or None when it may."""
    try:
        key_tags = parse_tag_value(record)
    except Exception as exc:  # dkimpy's tag parser, on text from someone's DNS
        return _short(f"key record malformed: {exc}")
    if not key_tags.get(b"p", b"").strip():
        return "key revoked (empty p=)"
    key_type = key_tags.get(b"k", b"rsa").strip().lower()
    if key_type not in (b"rsa", b"ed25519"):
        return f"unknown key type k={_text(key_type)}"
    if not algorithm.startswith(key_type.decode() + "-"):
        return f"key type k={key_type.decode()} does not match a={algorithm}"
    try:
        dkim.evaluate_pk(b"", record)
    except Exception as exc:
        return _short(f"key record invalid: {exc}")
    return None


def _verify_one(verifier: Any, sig: _Signature, key: _Key) -> DkimResult:
    named = (sig.domain, sig.selector, sig.algorithm)
    if key.problem == "nokey":
        return DkimResult(*named, "permerror", f"no key published at {sig.key_name}")
    if key.problem is not None:
        return DkimResult(*named, "temperror", key.reason, dns=key.problem)
    # RFC 6376 §6.1.2 lets the verifier pick among several key records: the first.
    record = key.records[0].encode("utf-8", "surrogateescape")
    problem = _check_key(record, sig.algorithm)
    if problem is not None:
        return DkimResult(*named, "permerror", problem)

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        return record

    try:
        valid = verifier.verify(idx=sig.index, dnsfunc=dnsfunc)
    except dkim.ValidationError as exc:
        if "body hash mismatch" in str(exc):
            return DkimResult(*named, "fail", "body hash mismatch: the body changed after signing")
        return DkimResult(*named, "permerror", _short(exc))
    except Exception as exc:  # DKIMException and whatever hostile input provokes
        return DkimResult(*named, "permerror", _short(f"{type(exc).__name__}: {exc}"))
    if not valid:
        return DkimResult(*named, "fail", "signature does not match the signed header fields")
    key_flags = parse_tag_value(record).get(b"t", b"")
    if b"y" in [flag.strip() for flag in key_flags.split(b":")]:
        # RFC 6376 §3.6.1: mail from a domain testing DKIM is treated as unsigned.
        return DkimResult(*named, "policy", "the key is in testing mode (t=y)")
    if b"l" in sig.tags:
        signed, total = int(sig.tags[b"l"]), _body_length(verifier, sig.tags)
        if signed < total:
            # Text past l= is unsigned, and here the body is the comment: not accepted.
            reason = f"signature covers only {signed} of {total} body bytes (l=)"
            return DkimResult(*named, "policy", reason)
    return DkimResult(*named, "pass", "signature verified")


def _verify_all(
    verifier: Any, found: Sequence[_Signature | DkimResult], keys: dict[str, _Key]
) -> tuple[DkimResult, ...]:
    results = []
    for item in found:
        if isinstance(item, DkimResult):
            results.append(item)
        else:
            results.append(_verify_one(verifier, item, keys[item.key_name]))
    return tuple(results)


def _header_section(raw: bytes) -> bytes:
    """``raw`` up to its first empty line (CRLF or LF), where dkimpy's parse stops too."""
    end = raw.find(b"\n\r\n")
    end = len(raw) if end < 0 else end
    bare = raw.find(b"\n\n", 0, end)  # only before it: not a scan of a whole CRLF message
    return raw[: end if bare < 0 else bare]


async def verify_dkim(
    raw: bytes,
    resolver: Resolver,
    *,
    lookup_timeout: float = 10.0,
    max_signatures: int = MAX_SIGNATURES,
) -> tuple[DkimResult, ...]:
    """One :class:`DkimResult` per DKIM-Signature header of ``raw``, topmost first.

    Never raises for anything in the message or in DNS; an empty tuple means unsigned.
    ``lookup_timeout`` bounds each key lookup, whatever the resolver does.
    """
    if b"dkim-signature" not in _header_section(raw).lower():
        # dkimpy splits the whole message into lines to find its headers: 0.13 s of
        # the daemon's GIL for a reply carrying an 8 MB photo, for no signature.
        return ()
    verifier, found = await asyncio.to_thread(_parse, raw, max_signatures)
    names = sorted({item.key_name for item in found if isinstance(item, _Signature)})
    if not names:
        return tuple(item for item in found if isinstance(item, DkimResult))
    fetched = await asyncio.gather(*(_fetch(resolver, name, lookup_timeout) for name in names))
    keys = dict(zip(names, fetched, strict=True))
    return await asyncio.to_thread(_verify_all, verifier, found, keys)
