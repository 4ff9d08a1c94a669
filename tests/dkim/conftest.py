"""Fixtures for the DKIM tests: keys, a realistic message, and three verifiers that
are not dkimpy, each with the public keys served locally.

Helpers are fixtures (not an importable module): ``tests/dkim`` cannot be imported
as ``dkim``, which is dkimpy's name.

External tools come from Debian packages. A missing one skips the test with the
package to install (a failure under REQUIRE_EXTERNAL_TOOLS=1, as in CI): see
tests/programs.py.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from functools import cache
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.util import parse_tag_value
from programs import requires_program, unavailable

from mailbridge.outbound.compose import compose
from mailbridge.outbound.dkim_keys import DkimKey
from mailbridge.outbound.dkimtool import dkim_record

HERE = Path(__file__).resolve().parent
LOCALDNS = HERE / "localdns.py"
PERL_VERIFIER = HERE / "mail_dkim_verify.pl"
DOMAIN = "example.org"
_TIMEOUT = 60


def new_rsa_pem(bits: int = 2048) -> bytes:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def new_ed25519_seed() -> bytes:
    seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(seed)


@pytest.fixture(scope="session")
def rsa_key() -> DkimKey:
    return DkimKey(DOMAIN, "mb-rsa", "rsa-sha256", new_rsa_pem())


@pytest.fixture(scope="session")
def other_rsa_key() -> DkimKey:
    return DkimKey(DOMAIN, "mb-rsa", "rsa-sha256", new_rsa_pem())


@pytest.fixture(scope="session")
def ed_key() -> DkimKey:
    return DkimKey(DOMAIN, "mb-ed", "ed25519-sha256", new_ed25519_seed())


def make_message(**overrides: object) -> bytes:
    """A reply notification as mailbridge sends it, with the List-* headers a
    subscription adds (compose does not add them yet, so they are put on top)."""
    fields: dict[str, object] = {
        "sender": Address("Example Blog", "comments", DOMAIN),
        "to": Address("Zoë Ångström", "zoe", "example.net"),
        "subject": "Re: Attachment theory — “healing” a relationship",
        "text": "Ann answered your comment:\n\n> This helped, thank you.\n\n"
        + "Reply to this email to answer. Ünïcode and a long line: "
        + "x" * 120
        + "\n",
        "html": "<p>Ann answered your comment:</p><blockquote>This helped, thank you.</blockquote>",
        "message_id": "<reply.4f2a9c@example.org>",
        "date": datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC),
        "reply_to": Address(addr_spec="reply+AbCdEf0123456789@reply.example.org"),
        "in_reply_to": "<comment.41@example.org>",
        "references": ["<thread.7@example.org>", "<comment.41@example.org>"],
        "auto_submitted": "auto-replied",
    }
    fields.update(overrides)
    wire = compose(**fields)  # type: ignore[arg-type]
    lists = (
        b"List-Id: Comments on attachment-theory <attachment-theory.comments.example.org>\r\n"
        b"List-Unsubscribe: <https://blog.example.org/unsubscribe/Zm9vYmFy>,\r\n"
        b" <mailto:unsubscribe+Zm9vYmFy@reply.example.org>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    )
    return lists + wire


@pytest.fixture
def message() -> bytes:
    return make_message()


def zone_for(*keys: DkimKey) -> dict[str, str]:
    return {key.record_name: dkim_record(key).value for key in keys}


def write_zone(path: Path, zone: Mapping[str, str | list[str]]) -> Path:
    """A zone file for tests/dkim/localdns.py: a value is a TXT record, or a list of
    records each a TXT value or ``@TYPE DATA``."""
    lines = [
        f"{name} {value}\n"
        for name, values in zone.items()
        for value in ([values] if isinstance(values, str) else values)
    ]
    path.write_text("".join(lines), "ascii")
    return path


# -- tampering: each of these must break every signature ---------------------------


def alter_body(signed: bytes) -> bytes:
    head, body = signed.split(b"\r\n\r\n", 1)
    assert b"thank you" in body
    return head + b"\r\n\r\n" + body.replace(b"thank you", b"thank yoU", 1)


def alter_subject(signed: bytes) -> bytes:
    altered = re.sub(rb"(?m)^Subject: Re: ", b"Subject: Fwd: ", signed, count=1)
    assert altered != signed
    return altered


def add_second_from(signed: bytes) -> bytes:
    # Above everything, where a forwarder or attacker would add it.
    return b"From: Bank <security@bank.example>\r\n" + signed


def add_second_reply_to(signed: bytes) -> bytes:
    # Where most mail clients look first: the reader's answer would go to the attacker.
    return b"Reply-To: Support <help@attacker.example>\r\n" + signed


def add_second_list_unsubscribe(signed: bytes) -> bytes:
    return b"List-Unsubscribe: <https://attacker.example/u>\r\n" + signed


def only_signature(signed: bytes, selector: str) -> bytes:
    """``signed`` with only the DKIM-Signature of ``selector``."""
    head, body = signed.split(b"\r\n\r\n", 1)
    fields = re.split(rb"\r\n(?![ \t])", head)

    def selector_of(field: bytes) -> bytes | None:
        if not field.lower().startswith(b"dkim-signature:"):
            return None
        return bytes(parse_tag_value(b"".join(field.split(b":", 1)[1].split()))[b"s"])

    kept = [f for f in fields if selector_of(f) in (None, selector.encode())]
    assert sum(1 for f in kept if selector_of(f) is not None) == 1, selector
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


TAMPERINGS: dict[str, Callable[[bytes], bytes]] = {
    "body altered": alter_body,
    "subject altered": alter_subject,
    "second From added": add_second_from,
    "second Reply-To added": add_second_reply_to,
    "second List-Unsubscribe added": add_second_list_unsubscribe,
}


# -- external tools -----------------------------------------------------------------


@cache
def _namespace_problem(unshare: str) -> str | None:
    """Why opendkim-testmsg cannot be given a private DNS here, or None."""
    probe = subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "--net", "true"],
        capture_output=True,
        timeout=_TIMEOUT,
        check=False,
    )
    if probe.returncode == 0:
        return None
    return (
        "cannot create the private user, mount and network namespace that serves "
        "opendkim-testmsg its keys (this host or container forbids user namespaces): "
        + probe.stderr.decode("utf-8", "replace").strip()
    )


@dataclass(frozen=True)
class Verdict:
    """What a verifier said: passed or not, and its words (for assertion messages)."""

    passed: bool
    output: str


@pytest.fixture
def opendkim_testmsg(tmp_path: Path) -> Callable[[bytes, Mapping[str, str]], Verdict]:
    """Verify with opendkim-testmsg (Debian: opendkim-tools).

    It has no option to read keys from a file (its -C means "keep CRLF"), only the
    system resolver. So it runs in a private user, mount and network namespace where
    tests/dkim/localdns.py serves ``zone`` on the namespace's own 127.0.0.1:53 and a
    resolv.conf naming it is bind-mounted over /etc/resolv.conf. It passes when at
    least one signature verifies; serve one key to test one signature.
    """
    binary = requires_program("opendkim-testmsg", package="opendkim-tools")
    unshare = requires_program("unshare", package="util-linux")
    problem = _namespace_problem(unshare)
    if problem is not None:
        unavailable(problem)

    def verify(signed: bytes, zone: Mapping[str, str]) -> Verdict:
        zone_file = write_zone(tmp_path / "testmsg.zone", zone)
        command = [unshare, "--user", "--map-root-user", "--mount", "--net"]
        command += [sys.executable, str(LOCALDNS), "run", "--zone", str(zone_file), "--", binary]
        done = subprocess.run(
            command, input=signed, capture_output=True, timeout=_TIMEOUT, check=False
        )
        output = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
        return Verdict(done.returncode == 0, f"exit {done.returncode}: {output}")

    return verify


@pytest.fixture
def opendkim_test_mode(tmp_path: Path) -> Callable[[bytes, Mapping[str, str]], dict[str, str]]:
    """Verify with the opendkim filter's test mode (Debian: opendkim), reading public
    keys from a local key file (``TestPublicKeys``): the same libopendkim, and a
    verdict per signature, keyed by selector, from its Authentication-Results."""
    binary = requires_program(
        "opendkim", package="opendkim", what="opendkim (the filter, for its -t test mode)"
    )

    def verify(signed: bytes, zone: Mapping[str, str]) -> dict[str, str]:
        keys = write_zone(tmp_path / "opendkim.keys", zone)
        conf = tmp_path / "opendkim.conf"
        conf.write_text(f"TestPublicKeys {keys}\nSyslog no\n", "ascii")
        message_file = tmp_path / "message.eml"
        message_file.write_bytes(signed)
        done = subprocess.run(
            [binary, "-x", str(conf), "-t", str(message_file), "-vvv"],
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
        output = (done.stdout + done.stderr).decode("utf-8", "replace")
        assert done.returncode == 0, output
        verdicts = {
            m.group("selector"): m.group("result")
            for m in re.finditer(
                r"dkim=(?P<result>\w+)[^;]*?header\.s=(?P<selector>[\w.-]+)", output
            )
        }
        assert verdicts, f"no DKIM verdict in opendkim's output:\n{output}"
        return verdicts

    return verify


@pytest.fixture
def mail_dkim(tmp_path: Path) -> Callable[[bytes, Mapping[str, str]], dict[str, tuple[str, str]]]:
    """Verify with Perl's Mail::DKIM (Debian: libmail-dkim-perl): {selector: (result,
    detail)}, keys served by overriding Mail::DKIM::DNS::query in the script."""
    perl = requires_program(
        "perl",
        package="libmail-dkim-perl",
        check=["-MMail::DKIM::Verifier", "-MNet::DNS", "-e", "1"],
        what="Perl's Mail::DKIM",
    )

    def verify(signed: bytes, zone: Mapping[str, str]) -> dict[str, tuple[str, str]]:
        zone_file = write_zone(tmp_path / "mail-dkim.zone", zone)
        done = subprocess.run(
            [perl, str(PERL_VERIFIER), str(zone_file)],
            input=signed,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
        output = (done.stdout + done.stderr).decode("utf-8", "replace")
        assert done.returncode == 0, output
        results = {}
        for line in output.splitlines():
            fields = line.split("\t")
            if len(fields) == 4:
                results[fields[1]] = (fields[2], fields[3])
        return results

    return verify


def dkimpy_verify(signed: bytes, zone: Mapping[str, str]) -> dict[str, bool]:
    """dkimpy's verdict on each signature, keyed by selector."""
    records = {f"{name}.".encode(): value.encode() for name, value in zone.items()}

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        return records.get(name.lower())

    verifier = dkim.DKIM(signed)
    selectors = [
        parse_tag_value(b"".join(value.split()))[b"s"].decode()
        for name, value in verifier.headers
        if name.lower() == b"dkim-signature"
    ]
    verdicts = {}
    for index, selector in enumerate(selectors):
        try:
            passed = bool(verifier.verify(idx=index, dnsfunc=dnsfunc))
        except dkim.DKIMException:  # dkimpy raises for some failures (body hash)
            passed = False
        verdicts[selector] = passed
    return verdicts


@pytest.fixture
def local_dns(tmp_path: Path) -> Iterator[Callable[[Mapping[str, str | list[str]]], int]]:
    """Start tests/dkim/localdns.py on a free port of 127.0.0.1 serving a zone; the port."""
    started: list[subprocess.Popen[str]] = []

    def start(zone: Mapping[str, str | list[str]]) -> int:
        zone_file = write_zone(tmp_path / f"dns{len(started)}.zone", zone)
        process = subprocess.Popen(
            [sys.executable, str(LOCALDNS), "serve", "--zone", str(zone_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        return int(process.stdout.readline())

    yield start
    for process in started:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        process.stdout.close()
        process.wait(timeout=_TIMEOUT)


class Kit:
    """The plain helpers above, for tests (which cannot import this conftest)."""

    domain = DOMAIN
    make_message = staticmethod(make_message)
    zone_for = staticmethod(zone_for)
    only_signature = staticmethod(only_signature)
    dkimpy_verify = staticmethod(dkimpy_verify)
    new_rsa_pem = staticmethod(new_rsa_pem)
    new_ed25519_seed = staticmethod(new_ed25519_seed)
    tamperings = TAMPERINGS


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit
