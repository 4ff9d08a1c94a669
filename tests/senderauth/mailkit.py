"""Keys, messages and zones for the sender authentication tests (no network, ever).

Imported as ``senderauth.mailkit`` (``tests`` is on pytest's pythonpath).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import dkim
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailbridge.senderauth import StaticResolver

SIGNED = (b"from", b"to", b"subject", b"date", b"message-id")


@dataclass(frozen=True)
class Key:
    """A DKIM key pair, published (by :func:`zone`) at selector._domainkey.domain."""

    private: bytes  # what dkim.sign wants: PEM for RSA, the base64 seed for ed25519
    public: str  # the p= value
    algorithm: bytes  # a= for signing
    selector: str = "sel"
    domain: str = "example.com"

    @property
    def kind(self) -> str:
        return "ed25519" if self.algorithm == b"ed25519-sha256" else "rsa"

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def record(self) -> str:
        return f"v=DKIM1; k={self.kind}; p={self.public}"

    def at(self, domain: str, selector: str | None = None) -> Key:
        """The same key pair published for another domain (and selector)."""
        return replace(self, domain=domain, selector=selector or self.selector)


def new_rsa_key(bits: int = 2048) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = private.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption()
    )
    der = private.public_key().public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    return Key(pem, base64.b64encode(der).decode(), b"rsa-sha256", selector="rsa")


def new_ed25519_key() -> Key:
    private = ed25519.Ed25519PrivateKey.generate()
    seed = private.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
    public = private.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    return Key(
        base64.b64encode(seed), base64.b64encode(public).decode(), b"ed25519-sha256", selector="ed"
    )


def message(
    sender: str = "Ann <ann@example.com>",
    body: str = "Thanks, that helped a lot.\r\n",
    *,
    top: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> bytes:
    """A reply email; ``top`` header lines go above From, ``extra`` ones below Subject."""
    lines = [
        *top,
        f"From: {sender}",
        "To: reply+tok@reply.example.org",
        "Subject: Re: your comment",
        "Date: Tue, 03 Mar 2026 10:00:00 +0000",
        "Message-ID: <reply-1@example.com>",
        *extra,
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + body.encode()


def sign(
    raw: bytes,
    key: Key,
    *,
    headers: Iterable[bytes] = SIGNED,
    length: bool = False,
    algorithm: bytes | None = None,
) -> bytes:
    """``raw`` with a DKIM-Signature by ``key`` prepended."""
    signature = dkim.sign(
        raw,
        key.selector.encode(),
        key.domain.encode(),
        key.private,
        signature_algorithm=algorithm or key.algorithm,
        include_headers=list(headers),
        length=length,
    )
    return bytes(signature) + raw


def zone(
    *keys: Key,
    records: Mapping[str, str | Sequence[str]] | None = None,
) -> StaticResolver:
    """A complete fake DNS (absent names are NXDOMAIN) with ``keys`` published."""
    published: dict[str, str | Sequence[str]] = {key.record_name: key.record for key in keys}
    published.update(records or {})
    return StaticResolver(published, otherwise="nxdomain")


def prepend(raw: bytes, *lines: str) -> bytes:
    """Header lines added on top, as a relay does."""
    return "".join(f"{line}\r\n" for line in lines).encode() + raw
