"""DKIM-sign outgoing messages (RFC 6376; RFC 8463 ed25519; RFC 8301 key sizes).

Every message gets one DKIM-Signature per configured key: RSA (2048 bits or more)
always, and ed25519 as a second signature where configured. Both are relaxed/relaxed
and computed over the message as composed, independently of each other, so either
one verifies on its own. The RSA signature is put on top: a verifier that only
looks at the first signature, or that does not know ed25519 (many still do not),
finds one it can check.

:meth:`DkimSigner.sign` is synchronous CPU work with no I/O and no shared state;
the caller runs it in a thread. The keys, and how they are read and checked, are
:mod:`mailbridge.outbound.dkim_keys`.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import dkim
from dkim.canonicalization import (
    CanonicalizationPolicy,
    correct_empty_body,
    strip_trailing_lines,
)

from mailbridge.errors import MailbridgeError
from mailbridge.outbound.dkim_canon import hash_signed_headers, relaxed_headers
from mailbridge.outbound.dkim_keys import Algorithm, DkimKey, DkimKeyError, load_key

__all__ = [
    "SIGNED_HEADERS",
    "DkimSigner",
    "DkimSigningError",
    "signer_from_config",
]

# Signed when present, each occurrence, and each listed once more than it occurs
# (see _header_list). Trace and transport headers (Received, Return-Path, ...) are
# left out on purpose: relays add or rewrite them, and RFC 6376 §5.4 says not to.
# None of these is added by a relay to a message that has it (ours always has From,
# To, Subject, Date, Message-ID, MIME-Version and Content-Type).
SIGNED_HEADERS: tuple[str, ...] = (
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "in-reply-to",
    "references",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "auto-submitted",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
)
_SIGNED = frozenset(SIGNED_HEADERS)
_SIGNED_NAMES = frozenset(name.encode("ascii") for name in SIGNED_HEADERS)
_OVERSIGNED = tuple(name.encode("ascii") for name in SIGNED_HEADERS)
_POLICY = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_HEADER = b"DKIM-Signature"


class DkimSigningError(MailbridgeError):
    """A message cannot be signed (no From header, or not a parsable header)."""


def _header_list(message: bytes) -> list[bytes]:
    """The h= list: every signed header present, in message order, then each signed
    name once more.

    Oversigning: a verifier hashes a name listed more often than the header occurs as
    an empty header. So a header added in transit above ours (a second From to show a
    forged sender, a second Reply-To to take the replies, a second List-Unsubscribe,
    a Subject), which most readers show instead of the signed one, breaks the
    signature, instead of leaving it valid over the original alone (RFC 6376 §8.15).
    """
    head, blank, _ = message.partition(b"\r\n\r\n")
    if not blank:
        raise DkimSigningError("message is not in CRLF wire form (no blank line after the header)")
    listed = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue  # a folded continuation of the previous field
        name = line.partition(b":")[0].strip().lower()
        if name.decode("ascii", "replace") in _SIGNED:
            listed.append(name)
    if b"from" not in listed:
        raise DkimSigningError("message has no From header; DKIM requires signing it")
    return [*listed, *_OVERSIGNED]


def _listed(canonical: list[tuple[bytes, bytes]]) -> list[bytes]:
    """:func:`_header_list` for a header :func:`relaxed_headers` read (the names are
    lower case and printable ASCII without spaces already)."""
    listed = [name for name, _value in canonical if name in _SIGNED_NAMES]
    if b"from" not in listed:
        raise DkimSigningError("message has no From header; DKIM requires signing it")
    return [*listed, *_OVERSIGNED]


class DkimSigner:
    """Adds one DKIM-Signature per key: RSA keys first, then ed25519."""

    def __init__(self, keys: Sequence[DkimKey], *, require_rsa: bool = True) -> None:
        """``require_rsa=False`` only for measuring ed25519 alone (bench/): configured
        signing always has an RSA key."""
        if not keys:
            raise DkimKeyError("a DKIM signer needs at least one key")
        # sorted() is stable: keys of one algorithm keep their configured order.
        self._keys = tuple(sorted(keys, key=lambda k: k.algorithm != "rsa-sha256"))
        if require_rsa and self._keys[0].algorithm != "rsa-sha256":
            raise DkimKeyError(
                "an ed25519 DKIM key needs an RSA key beside it: most receivers do not "
                "verify ed25519 yet and would see the message as unsigned"
            )
        names = [k.record_name for k in self._keys]
        if len(set(names)) != len(names):
            raise DkimKeyError("two DKIM keys use the same selector and domain")

    @property
    def keys(self) -> tuple[DkimKey, ...]:
        return self._keys

    def sign(self, message: bytes) -> bytes:
        """``message`` (CRLF wire bytes) with the DKIM-Signature headers prepended."""
        return self.signatures(message) + message

    def signatures(self, message: bytes) -> bytes:
        """The DKIM-Signature headers for ``message`` (CRLF wire bytes), to put on top.

        Only these cross back from a worker process, not the whole message again."""
        # Parsed, canonicalized and the body hashed once for every key (all relaxed/relaxed);
        # by string methods for a message in clean CRLF form, else by dkimpy itself.
        parsed = relaxed_headers(message)
        # The h= list from the names just read (lower case, as _header_list makes them).
        include = _header_list(message) if parsed is None else _listed(parsed[0])
        if parsed is None:
            try:
                headers, body = dkim.rfc822_parse(message)
            except dkim.DKIMException as exc:
                raise DkimSigningError(f"DKIM signing failed: {type(exc).__name__}") from None
            canonical = _POLICY.canonicalize_headers(headers)
        else:
            canonical, body = parsed
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        timestamp = str(int(time.time())).encode("ascii")
        fast = parsed is not None
        return b"".join(
            _signature(key, canonical, include, body_hash, timestamp, fast) for key in self._keys
        )


def relaxed_body(body: bytes) -> bytes:
    """dkimpy's relaxed body canonicalization (RFC 6376 3.4.4), without its two
    whitespace rewrites when they cannot change anything: with no tab, no two spaces
    in a row and no space before a line end, every run of whitespace is already one
    space and none ends a line. Those two regular expressions were a third of the
    cost of signing a notification; the rest is dkimpy's own code."""
    if b"\t" in body or b"  " in body or b" \r\n" in body:
        return bytes(_POLICY.canonicalize_body(body))
    return bytes(correct_empty_body(strip_trailing_lines(body)))


def _signature(
    key: DkimKey,
    canonical: list[tuple[bytes, bytes]],
    include: list[bytes],
    body_hash: bytes,
    timestamp: bytes,
    fast: bool = False,
) -> bytes:
    """One DKIM-Signature header, exactly as dkimpy's ``dkim.sign`` writes it (the same
    tags, order and folding), its b= computed by the ``cryptography`` package (OpenSSL)
    instead of dkimpy's pure-Python RSA (see docs/performance.md).

    The header hash is dkimpy's (``dkim.hash_headers``: header selection, oversigning,
    the signature header with an empty b=), so what is signed is what dkimpy and every
    verifier hash; with ``fast`` (headers canonicalized by ``relaxed_headers``) the same
    bytes are hashed by ``hash_signed_headers``, without its regular expressions.
    """
    domain = key.domain.encode("ascii")
    fields = [
        (b"v", b"1"),
        (b"a", key.algorithm.encode("ascii")),
        (b"c", b"relaxed/relaxed"),
        (b"d", domain),
        (b"i", b"@" + domain),
        (b"q", b"dns/txt"),
        (b"s", key.selector.encode("ascii")),
        (b"t", timestamp),
        (b"h", b" : ".join(include)),
        (b"bh", body_hash),
        # A placeholder as long as dkimpy's, so b= folds onto a line of its own and
        # filling it in does not refold the tags before it.
        (b"b", b"0" * 60),
    ]
    unsigned = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(_HEADER))
    hasher = hashlib.sha256()
    # Both hashers empty b= themselves (dkimpy's RE_BTAG), so it is not done here first.
    signature_header = (_HEADER, b" " + unsigned)
    if not (fast and hash_signed_headers(hasher, canonical, include, signature_header[1])):
        dkim.hash_headers(hasher, _POLICY, canonical, include, signature_header, dict(fields))
    fields[-1] = (b"b", base64.b64encode(key.sign_digest(hasher.digest())))
    value = b"; ".join(b"=".join(f) for f in fields) + b"\r\n"
    folded: bytes = dkim.fold(value, namelen=len(_HEADER), linesep=b"\r\n")
    return _HEADER + b": " + folded


def signer_from_config(
    domain: str,
    selector: str,
    private_key: Path | str | None,
    ed25519_selector: str = "",
    ed25519_private_key: Path | str | None = None,
    *,
    base: Path | None = None,
) -> DkimSigner | None:
    """A signer from plain configuration values, or None when DKIM is not configured.

    Not configured means all five values are empty. Anything in between is an error
    naming what is missing, so a typo never silently turns signing off. ``base``: the
    directory relative key paths are in (the data directory, where keygen writes).
    """
    rsa_path = str(private_key or "").strip()
    ed_path = str(ed25519_private_key or "").strip()
    if base is not None:
        rsa_path, ed_path = (
            str(base / Path(p).expanduser()) if p else "" for p in (rsa_path, ed_path)
        )
    domain, selector, ed25519_selector = (
        domain.strip(),
        selector.strip(),
        ed25519_selector.strip(),
    )
    if not (domain or selector or rsa_path or ed25519_selector or ed_path):
        return None
    missing = [
        name
        for name, value in (
            ("domain", domain),
            ("selector", selector),
            ("private_key", rsa_path),
        )
        if not value
    ]
    if missing:
        raise DkimKeyError(
            f"DKIM is partly configured: set {', '.join(missing)} too "
            "(or leave every DKIM setting empty to send unsigned)"
        )
    if bool(ed25519_selector) != bool(ed_path):
        raise DkimKeyError(
            "DKIM ed25519 needs both ed25519_selector and ed25519_private_key (or neither)"
        )
    keys = [_expect(load_key(rsa_path, domain, selector), "rsa-sha256", "private_key")]
    if ed_path:
        key = load_key(ed_path, domain, ed25519_selector)
        keys.append(_expect(key, "ed25519-sha256", "ed25519_private_key"))
    return DkimSigner(keys)


def _expect(key: DkimKey, algorithm: Algorithm, setting: str) -> DkimKey:
    if key.algorithm != algorithm:
        raise DkimKeyError(f"DKIM {setting}: expected an {algorithm} key, found {key.algorithm}")
    return key
