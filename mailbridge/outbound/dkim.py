"""DKIM-sign outgoing messages (RFC 6376; RFC 8463 ed25519; RFC 8301 key sizes).

Every message gets one DKIM-Signature per configured key: RSA (2048 bits or more)
always, and ed25519 as a second signature where configured. Both are relaxed/relaxed
and computed over the message as composed, independently of each other, so either
one verifies on its own. The RSA signature is put on top: a verifier that only
looks at the first signature, or that does not know ed25519 (many still do not),
finds one it can check.

:meth:`DkimSigner.sign` is synchronous CPU work with no I/O and no shared state;
the caller runs it in a thread. Private keys never appear in a repr, a log line or
an error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from dkim.canonicalization import (
    CanonicalizationPolicy,
    correct_empty_body,
    strip_trailing_lines,
)

from mailbridge.errors import ConfigError, MailbridgeError
from mailbridge.outbound.dkim_canon import hash_signed_headers, relaxed_headers
from mailbridge.senderauth.dns import NoSuchRecord, normalize_name

__all__ = [
    "MIN_RSA_BITS",
    "SIGNED_HEADERS",
    "Algorithm",
    "DkimKey",
    "DkimKeyError",
    "DkimSigner",
    "DkimSigningError",
    "key_from_bytes",
    "load_key",
    "signer_from_config",
]

Algorithm = Literal["rsa-sha256", "ed25519-sha256"]

# RFC 8301 §3.2 only requires 1024, but 1024-bit RSA is within reach of factoring
# and large receivers already treat it as weak: sign with 2048 or more.
MIN_RSA_BITS = 2048

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
# A PEM key is a few kB; anything much larger is not a key file.
_MAX_KEY_FILE = 64 * 1024


class DkimKeyError(ConfigError):
    """A DKIM key (file or configuration) cannot be used; the message says why."""


class DkimSigningError(MailbridgeError):
    """A message cannot be signed (no From header, or not a parsable header)."""


@dataclass(frozen=True)
class DkimKey:
    """One signing key and where its public half is published.

    ``private_key`` is in the form dkimpy signs with: for rsa-sha256 an unencrypted
    PKCS#1 PEM ("BEGIN RSA PRIVATE KEY", LF line ends), for ed25519-sha256 the
    base64 text of the 32-byte seed. :func:`load_key` converts other encodings.
    """

    domain: str
    selector: str
    algorithm: Algorithm
    private_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        domain = _checked_domain(self.domain)
        object.__setattr__(self, "domain", domain)
        object.__setattr__(self, "selector", _checked_selector(self.selector, domain))
        # Checked and normalised now, when the key is configured, not on the first
        # message sent.
        object.__setattr__(self, "private_key", _signing_form(self.algorithm, self.private_key))

    @property
    def record_name(self) -> str:
        """Where the public key is published: ``selector._domainkey.domain``."""
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def key_type(self) -> Literal["rsa", "ed25519"]:
        """The record's ``k=`` value."""
        return "rsa" if self.algorithm == "rsa-sha256" else "ed25519"

    @property
    def bits(self) -> int:
        """RSA modulus size; 256 for ed25519."""
        public = self._public()
        return public.key_size if isinstance(public, rsa.RSAPublicKey) else 256

    def public_key_der(self) -> bytes:
        """The record's ``p=`` before base64: SubjectPublicKeyInfo DER for RSA
        (RFC 6376 §3.6.1), the raw 32-byte public key for ed25519 (RFC 8463 §4.2)."""
        public = self._public()
        if isinstance(public, rsa.RSAPublicKey):
            return public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def public_key_b64(self) -> str:
        """The record's ``p=`` value."""
        return base64.b64encode(self.public_key_der()).decode("ascii")

    def sign_digest(self, digest: bytes) -> bytes:
        """The b= value's bytes for a SHA-256 ``digest`` of the signed headers:
        RSASSA-PKCS1-v1_5 (RFC 6376 §3.3.1), or Ed25519 over the digest (RFC 8463 §3)."""
        private = self._private
        if isinstance(private, rsa.RSAPrivateKey):
            return private.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        return private.sign(digest)

    def __getstate__(self) -> dict[str, object]:
        # The key crosses to the worker processes that sign (mailbridge.workers): its
        # fields do, the parsed OpenSSL key (which cannot be pickled) is parsed again there.
        return {k: v for k, v in self.__dict__.items() if k != "_private"}

    @cached_property
    def _private(self) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
        # Parsed once per key, not once per message.
        if self.algorithm == "rsa-sha256":
            return _rsa_private(self.private_key)
        return ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(self.private_key))

    def _public(self) -> rsa.RSAPublicKey | ed25519.Ed25519PublicKey:
        if self.algorithm == "rsa-sha256":
            return _rsa_private(self.private_key).public_key()
        seed = base64.b64decode(self.private_key)
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()


def _signing_form(algorithm: str, private_key: bytes) -> bytes:
    """``private_key`` as dkimpy signs with it, after checking it suits ``algorithm``."""
    if algorithm == "rsa-sha256":
        # dkimpy's own ASN.1 reader wants PEM with LF line ends; PKCS#1 is the form
        # every version of it reads.
        return _rsa_private(private_key).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    if algorithm == "ed25519-sha256":
        seed = _b64_seed(private_key)
        if seed is None:
            raise DkimKeyError("an ed25519-sha256 key must be the base64 text of a 32-byte seed")
        return base64.b64encode(seed)
    raise DkimKeyError(f"unknown DKIM algorithm {algorithm!r}")


def _rsa_private(pem: bytes) -> rsa.RSAPrivateKey:
    private = _load_pem(pem)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise DkimKeyError("algorithm rsa-sha256 needs an RSA private key")
    if private.key_size < MIN_RSA_BITS:
        raise DkimKeyError(
            f"RSA key of {private.key_size} bits refused: DKIM keys must have at "
            f"least {MIN_RSA_BITS} bits (generate one: mailbridge dkim keygen)"
        )
    return private


def _checked_domain(value: str) -> str:
    try:
        return normalize_name(value)
    except NoSuchRecord:
        raise DkimKeyError(f"DKIM domain is not a valid domain name: {value[:80]!r}") from None


def _checked_selector(value: str, domain: str) -> str:
    selector = value.strip().lower()
    try:
        # RFC 6376 §3.1: a selector is one or more DNS labels; the whole record
        # name must still fit in DNS.
        normalize_name(f"{selector}._domainkey.{domain}")
    except NoSuchRecord:
        raise DkimKeyError(f"DKIM selector is not valid: {value[:80]!r}") from None
    if not selector or selector.endswith("."):
        raise DkimKeyError(f"DKIM selector is not valid: {value[:80]!r}")
    return selector


def _load_pem(data: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise DkimKeyError("the key is encrypted; DKIM keys must be stored unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        # The library's message may quote key bytes; say only what is wrong.
        raise DkimKeyError("not a readable PEM private key") from None
    if not isinstance(private, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise DkimKeyError("neither an RSA nor an ed25519 key: DKIM signs with only those")
    return private


def _b64_seed(data: bytes) -> bytes | None:
    try:
        seed = base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return seed if len(seed) == 32 else None


def key_from_bytes(data: bytes, domain: str, selector: str, *, source: str = "key") -> DkimKey:
    """A :class:`DkimKey` from a key file's contents.

    Accepts PEM (PKCS#8 "PRIVATE KEY" holding RSA or ed25519, or PKCS#1 "RSA PRIVATE
    KEY") and the bare base64 32-byte ed25519 seed that dkimpy's dknewkey and
    OpenDKIM use. ``source`` names the key in errors.
    """
    try:
        if b"-----BEGIN" not in data:
            if _b64_seed(data) is None:
                raise DkimKeyError("neither a PEM private key nor a base64 ed25519 seed")
            return DkimKey(domain, selector, "ed25519-sha256", data)
        private = _load_pem(data)
        if isinstance(private, rsa.RSAPrivateKey):
            return DkimKey(domain, selector, "rsa-sha256", data)
        seed = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return DkimKey(domain, selector, "ed25519-sha256", base64.b64encode(seed))
    except DkimKeyError as exc:
        raise DkimKeyError(f"{source}: {exc}") from None


def load_key(path: Path | str, domain: str, selector: str) -> DkimKey:
    """Read a private key file for signing as ``domain`` with ``selector``.

    Refuses a file that other users can read or write (anyone who reads the key can
    sign mail as the domain; anyone who writes it can swap it), a file that is not a
    regular file, an RSA key under 2048 bits, and an encrypted key. Group access is
    allowed so that a service group can share the key.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DkimKeyError(f"DKIM key {path}: cannot open: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DkimKeyError(f"DKIM key {path}: not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & (stat.S_IROTH | stat.S_IWOTH):
            raise DkimKeyError(
                f"DKIM key {path}: refused, mode {mode:04o} lets every user on this host "
                f"{'read' if mode & stat.S_IROTH else 'write'} it; "
                f"run: chmod 600 {path}"
            )
        if info.st_size > _MAX_KEY_FILE:
            raise DkimKeyError(f"DKIM key {path}: {info.st_size} bytes is too large for a key")
        data = os.read(fd, _MAX_KEY_FILE + 1)
    finally:
        os.close(fd)
    return key_from_bytes(data, domain, selector, source=f"DKIM key {path}")


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
