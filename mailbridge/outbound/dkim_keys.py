"""DKIM signing keys: reading, checking and publishing them (RFC 6376, RFC 8463, RFC 8301).

A key file is refused when other users can read or write it, when it is not a
regular file, when it is encrypted, and when an RSA key has under 2048 bits: each
with a :class:`DkimKeyError` that says why and never quotes the key. A
:class:`DkimKey` knows where its public half is published and signs a digest for
:mod:`mailbridge.outbound.dkim`. Private keys never appear in a repr, a log line or
an error message.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils

from mailbridge.errors import ConfigError
from mailbridge.senderauth.dns import NoSuchRecord, normalize_name

__all__ = [
    "MIN_RSA_BITS",
    "Algorithm",
    "DkimKey",
    "DkimKeyError",
    "key_from_bytes",
    "load_key",
]

Algorithm = Literal["rsa-sha256", "ed25519-sha256"]

# RFC 8301 §3.2 only requires 1024, but 1024-bit RSA is within reach of factoring
# and large receivers already treat it as weak: sign with 2048 or more.
MIN_RSA_BITS = 2048

# A PEM key is a few kB; anything much larger is not a key file.
_MAX_KEY_FILE = 64 * 1024


class DkimKeyError(ConfigError):
    """A DKIM key (file or configuration) cannot be used; the message says why."""


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
