"""DKIM key management: generate a key, say what to publish, check what is published.

- :func:`keygen` writes a new private key (mode 0600, never over an existing file
  unless asked) and returns it with the DKIM record to publish.
- :func:`dns_records` is every record an operator needs: the DKIM key (exact), and
  SPF and DMARC as starting suggestions to edit.
- :func:`check` looks up ``selector._domainkey.domain`` and says whether the
  published key is the configured one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailbridge.outbound.dkim_keys import DkimKey, DkimKeyError, key_from_bytes
from mailbridge.senderauth.dns import (
    DnsUnavailable,
    NoSuchRecord,
    Resolver,
    TemporaryDnsError,
)

__all__ = [
    "CheckResult",
    "CheckStatus",
    "KeyAlgorithm",
    "KeygenResult",
    "TxtRecord",
    "check",
    "dkim_record",
    "dmarc_suggestion",
    "dns_records",
    "key_path",
    "keygen",
    "spf_suggestion",
]

KeyAlgorithm = Literal["rsa", "ed25519"]
CheckStatus = Literal[
    "matches",  # the published key is this key, usable for our signatures
    "mismatch",  # a valid key record, but for another key (or another key type)
    "missing",  # no TXT record at the name
    "revoked",  # a record with an empty p=: the key was withdrawn
    "malformed",  # a record that is not a readable DKIM key record
    "unusable",  # this key, but the record forbids what we sign with (h=, s=)
    "dns-error",  # DNS could not answer now: nothing is known
]

RSA_BITS = 2048
# RFC 1035 §3.3: one character-string in a TXT record holds at most 255 bytes.
_TXT_STRING_MAX = 255
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
SPF_PLACEHOLDER = "ip4:<RELAY-IP>"
DMARC_PLACEHOLDER = "mailto:<dmarc-reports@{domain}>"


@dataclass(frozen=True)
class TxtRecord:
    """One TXT record: ``name`` (no trailing dot) and its ``value``.

    ``exact`` records are to be published as they are; the others are suggestions
    the operator edits first (``note`` says what).
    """

    name: str
    value: str
    purpose: str
    exact: bool = True
    note: str = ""

    def strings(self) -> tuple[str, ...]:
        """The value cut into character-strings of at most 255 bytes, as a zone file
        needs; receivers join them back without separators (RFC 6376 §3.6.2.2)."""
        data = self.value.encode("ascii")
        return tuple(
            data[i : i + _TXT_STRING_MAX].decode("ascii")
            for i in range(0, max(len(data), 1), _TXT_STRING_MAX)
        )

    def zone_line(self, ttl: int = 3600) -> str:
        """The record in zone-file syntax (BIND and compatible)."""
        quoted = [f'"{s}"' for s in self.strings()]
        if len(quoted) == 1:
            return f"{self.name}. {ttl} IN TXT {quoted[0]}"
        pad = " " * 8
        return f"{self.name}. {ttl} IN TXT (\n" + "\n".join(pad + q for q in quoted) + " )"


@dataclass(frozen=True)
class KeygenResult:
    path: Path
    key: DkimKey
    record: TxtRecord  # the DKIM record to publish


def key_path(directory: Path | str, domain: str, selector: str) -> Path:
    """Where :func:`keygen` puts the key for ``selector`` at ``domain`` (absolute, as
    the path goes into the configuration)."""
    name = f"{selector.lower()}.{domain.lower().rstrip('.')}.private"
    return Path(directory).absolute() / name


def keygen(
    directory: Path | str,
    domain: str,
    selector: str,
    algorithm: KeyAlgorithm = "rsa",
    *,
    overwrite: bool = False,
) -> KeygenResult:
    """Generate a key (RSA 2048 or ed25519) and write it to ``key_path(...)``.

    The file is PKCS#8 PEM, mode 0600, created with O_EXCL: an existing key is never
    replaced unless ``overwrite`` (then the new file replaces it in one rename, so a
    reader sees either key whole). ``directory`` is created (mode 0700) if missing.
    """
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    elif algorithm == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise DkimKeyError(f"unknown key algorithm {algorithm!r}: rsa or ed25519")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Validates domain and selector before anything touches the file system, so a
    # name like "../x" never becomes a path.
    key = key_from_bytes(pem, domain, selector, source="generated key")
    path = key_path(directory, key.domain, key.selector)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_private(path, pem, overwrite=overwrite)
    return KeygenResult(path=path, key=key, record=dkim_record(key))


def _write_private(path: Path, data: bytes, *, overwrite: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    target = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp") if overwrite else path
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        raise DkimKeyError(
            f"{path} exists; not replacing a key (choose another selector, or --force)"
        ) from None
    except OSError as exc:
        raise DkimKeyError(f"cannot create {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken bits away; make it exactly 0600
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.replace(target, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise


def dkim_record(key: DkimKey) -> TxtRecord:
    """The DKIM public key record for ``key``, exactly as to publish."""
    if key.key_type == "rsa":
        # h=sha256: verifiers must not accept this key for rsa-sha1 (RFC 8301).
        value = f"v=DKIM1; k=rsa; h=sha256; p={key.public_key_b64()}"
    else:
        value = f"v=DKIM1; k=ed25519; p={key.public_key_b64()}"
    return TxtRecord(
        name=key.record_name,
        value=value,
        purpose=f"DKIM public key ({key.algorithm}, selector {key.selector})",
    )


def spf_suggestion(domain: str) -> TxtRecord:
    """An SPF record for a domain that only sends through one relay: to edit."""
    return TxtRecord(
        name=domain,
        value=f"v=spf1 {SPF_PLACEHOLDER} -all",
        purpose=f"SPF for {domain}, the envelope sender's domain",
        exact=False,
        note=(
            "Replace <RELAY-IP> with the address your relay (outbound.transport) sends "
            "from, or use include:<your provider's SPF domain> for a hosted relay. If "
            f"{domain} already has an SPF record, add the relay to it instead: a domain "
            "must have exactly one."
        ),
    )


def dmarc_suggestion(domain: str, report_address: str = "") -> TxtRecord:
    """A first DMARC policy: p=none, reports to ``report_address``."""
    rua = f"mailto:{report_address}" if report_address else DMARC_PLACEHOLDER.format(domain=domain)
    return TxtRecord(
        name=f"_dmarc.{domain}",
        value=f"v=DMARC1; p=none; rua={rua}",
        purpose="DMARC policy for the From domain",
        exact=False,
        note=(
            "p=none only asks for reports. Once they show your mail passing DKIM, raise "
            "it to p=quarantine, then p=reject."
            + ("" if report_address else " Replace <dmarc-reports@...> with a mailbox you read.")
            + " If the organisation's domain already publishes DMARC, keep that record."
        ),
    )


def dns_records(
    key: DkimKey,
    *,
    envelope_domains: Sequence[str] = (),
    dmarc_report_address: str = "",
) -> list[TxtRecord]:
    """The DKIM record (exact), then SPF for each envelope domain (mailbridge's is
    ``smtp.reply_domain``: the CLI passes it; without any, the key's domain) and DMARC
    for the key's domain (suggestions)."""
    spf_domains = list(dict.fromkeys(d.lower().rstrip(".") for d in envelope_domains))
    records = [dkim_record(key)]
    records += [spf_suggestion(d) for d in spf_domains or [key.domain]]
    records.append(dmarc_suggestion(key.domain, dmarc_report_address))
    return records


@dataclass(frozen=True)
class CheckResult:
    status: CheckStatus
    name: str  # the name looked up
    detail: str  # one sentence saying what was found
    expected: TxtRecord  # what should be published there
    published: tuple[str, ...] = ()  # the TXT records found
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "matches"


async def check(domain: str, selector: str, key: DkimKey, resolver: Resolver) -> CheckResult:
    """Whether the key published at ``selector._domainkey.domain`` is ``key``."""
    name = f"{selector.strip().lower()}._domainkey.{domain.strip().lower().rstrip('.')}"
    expected = TxtRecord(name, dkim_record(key).value, f"DKIM public key ({key.algorithm})")

    records: list[str] = []

    def result(status: CheckStatus, detail: str, *warnings: str) -> CheckResult:
        return CheckResult(status, name, detail, expected, tuple(records), warnings)

    try:
        records = await resolver.txt(name)
    except NoSuchRecord as exc:
        what = "the name does not exist" if exc.nxdomain else "the name has no TXT record"
        return result("missing", f"{name}: missing ({what}); publish the record below")
    except (TemporaryDnsError, DnsUnavailable) as exc:
        return result("dns-error", f"{name}: DNS could not answer: {exc}")
    if len(records) > 1:
        return result(
            "malformed",
            f"{name}: {len(records)} TXT records found; a selector must have exactly one "
            "(RFC 6376 §3.6.2.2), or verifiers pick at random",
        )
    status, detail, warnings = _compare(records[0], key)
    return result(status, f"{name}: {detail}", *warnings)


def _compare(record: str, key: DkimKey) -> tuple[CheckStatus, str, tuple[str, ...]]:
    tags = _parse_tags(record)
    if tags is None:
        return "malformed", "malformed: not a tag=value list (RFC 6376 §3.2)", ()
    if "v" in tags and tags["v"] != "DKIM1":
        return "malformed", f"malformed: not a DKIM key record (v={tags['v'][:40]})", ()
    if "v" in tags and next(iter(tags)) != "v":
        return "malformed", "malformed: v=DKIM1 must be the first tag", ()
    if "p" not in tags:
        return "malformed", "malformed: no p= tag (the public key)", ()
    encoded = "".join(tags["p"].split())
    if not encoded:
        return "revoked", "revoked: p= is empty, which withdraws the key", ()
    try:
        published = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "malformed", "malformed: p= is not base64", ()
    published_type = tags.get("k", "rsa").lower()
    if published_type != key.key_type:
        return (
            "mismatch",
            f"does not match: the record is for a k={published_type} key, "
            f"this key is {key.key_type}",
            (),
        )
    if key.key_type == "rsa":
        same = _same_rsa(published, key)
        if same is None:
            return "malformed", "malformed: p= is not an RSA public key", ()
    else:
        if len(published) != 32:
            return "malformed", "malformed: p= is not a 32-byte ed25519 public key", ()
        same = secrets.compare_digest(published, key.public_key_der())
    if not same:
        return "mismatch", "does not match: the published key is a different key", ()
    hashes = [h.strip().lower() for h in tags.get("h", "sha256").split(":")]
    if "sha256" not in hashes:
        return "unusable", "this key, but h= does not allow sha256, which we sign with", ()
    services = [s.strip().lower() for s in tags.get("s", "*").split(":")]
    if "*" not in services and "email" not in services:
        return "unusable", "this key, but s= does not allow email", ()
    flags = [f.strip().lower() for f in tags.get("t", "").split(":")]
    warnings = (
        ("t=y marks the key as testing: receivers may ignore failures and passes alike",)
        if "y" in flags
        else ()
    )
    size = f", {key.bits} bits" if key.key_type == "rsa" else ""
    return "matches", f"matches the key ({key.algorithm}{size})", warnings


def _parse_tags(record: str) -> dict[str, str] | None:
    """RFC 6376 §3.2 tag-list, in order; None if it is not one (or repeats a tag)."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        if not part.strip():
            continue  # a trailing ";" is allowed
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not _TAG_NAME.match(name) or name in tags:
            return None
        tags[name] = value.strip()
    return tags or None


def _same_rsa(der: bytes, key: DkimKey) -> bool | None:
    """Whether ``der`` (SubjectPublicKeyInfo, or the bare RSAPublicKey some publish)
    is ``key``'s public key; None if it is not an RSA public key at all."""
    try:
        public = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        return None
    if not isinstance(public, rsa.RSAPublicKey):
        return None
    ours = serialization.load_der_public_key(key.public_key_der())
    return isinstance(ours, rsa.RSAPublicKey) and public.public_numbers() == ours.public_numbers()
