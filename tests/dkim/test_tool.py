"""keygen, the DNS records it prints, check, and the ``dkim`` command group."""

from __future__ import annotations

import base64
import os
import re
import stat

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from mailbridge.outbound.dkim_cli import dkim_command, parse_nameserver
from mailbridge.outbound.dkim_keys import DkimKeyError, load_key
from mailbridge.outbound.dkimtool import check, dkim_record, dns_records, key_path, keygen
from mailbridge.senderauth import StaticResolver, UnavailableResolver

DOMAIN = "example.org"


def mode_of(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_keygen_writes_a_0600_key_that_loads(tmp_path, algorithm):
    old = os.umask(0)  # even with a permissive umask
    try:
        made = keygen(tmp_path / "keys", DOMAIN, "mb1", algorithm)
    finally:
        os.umask(old)

    assert made.path == key_path(tmp_path / "keys", DOMAIN, "mb1")
    assert made.path.name == "mb1.example.org.private"
    assert made.path.is_absolute()
    assert mode_of(made.path) == 0o600
    assert mode_of(made.path.parent) == 0o700
    assert made.path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = load_key(made.path, DOMAIN, "mb1")
    assert loaded == made.key
    assert loaded.algorithm == ("rsa-sha256" if algorithm == "rsa" else "ed25519-sha256")
    if algorithm == "rsa":
        assert loaded.bits == 2048
    assert made.record == dkim_record(loaded)
    assert os.listdir(made.path.parent) == [made.path.name]


def test_keygen_never_overwrites_unless_asked(tmp_path):
    first = keygen(tmp_path, DOMAIN, "mb1")
    before = first.path.read_bytes()

    with pytest.raises(DkimKeyError, match="exists; not replacing"):
        keygen(tmp_path, DOMAIN, "mb1")
    with pytest.raises(DkimKeyError, match="exists"):
        keygen(tmp_path, DOMAIN, "mb1", "ed25519")
    assert first.path.read_bytes() == before

    second = keygen(tmp_path, DOMAIN, "mb1", overwrite=True)

    assert second.path == first.path
    assert second.path.read_bytes() != before
    assert load_key(second.path, DOMAIN, "mb1") == second.key
    assert mode_of(second.path) == 0o600
    assert os.listdir(tmp_path) == [second.path.name]  # no temporary file left


@pytest.mark.parametrize("selector", ["../../etc/x", "a/b", ""])
def test_keygen_refuses_a_selector_that_is_not_a_dns_label(tmp_path, selector):
    with pytest.raises(DkimKeyError):
        keygen(tmp_path / "keys", DOMAIN, selector)

    assert not (tmp_path / "keys").exists()
    assert os.listdir(tmp_path) == []


def test_rsa_record_is_split_into_strings_of_at_most_255_bytes(rsa_key):
    record = dkim_record(rsa_key)

    assert record.name == "mb-rsa._domainkey.example.org"
    assert record.value == f"v=DKIM1; k=rsa; h=sha256; p={rsa_key.public_key_b64()}"
    assert record.exact
    strings = record.strings()
    assert len(strings) == 2
    assert all(len(s.encode()) <= 255 for s in strings)
    assert "".join(strings) == record.value
    line = record.zone_line()
    assert line.startswith("mb-rsa._domainkey.example.org. 3600 IN TXT (")
    assert re.findall(r'"([^"]*)"', line) == list(strings)


def test_ed25519_record_is_one_string(ed_key):
    record = dkim_record(ed_key)

    assert record.value == f"v=DKIM1; k=ed25519; p={ed_key.public_key_b64()}"
    assert len(ed_key.public_key_b64()) == 44
    assert record.strings() == (record.value,)
    assert record.zone_line() == f'mb-ed._domainkey.example.org. 3600 IN TXT "{record.value}"'


def test_spf_and_dmarc_are_suggestions_with_placeholders(rsa_key):
    dkim, *spf, dmarc = dns_records(rsa_key, envelope_domains=["reply.example.org", "Example.org."])

    assert dkim.exact
    assert [(r.name, r.value, r.exact) for r in spf] == [
        ("reply.example.org", "v=spf1 ip4:<RELAY-IP> -all", False),
        ("example.org", "v=spf1 ip4:<RELAY-IP> -all", False),
    ]
    assert "Replace <RELAY-IP>" in spf[0].note
    assert "exactly one" in spf[0].note
    assert dmarc.name == "_dmarc.example.org"
    assert dmarc.value == "v=DMARC1; p=none; rua=mailto:<dmarc-reports@example.org>"
    assert not dmarc.exact
    assert "mailbox you read" in dmarc.note

    default = dns_records(rsa_key, dmarc_report_address="dmarc@example.org")
    assert [r.name for r in default] == [dkim.name, "example.org", "_dmarc.example.org"]
    assert default[-1].value == "v=DMARC1; p=none; rua=mailto:dmarc@example.org"


# -- check ---------------------------------------------------------------------------


async def run_check(key, zone, selector=None):
    resolver = StaticResolver(zone, otherwise="nxdomain")
    return await check(DOMAIN, selector or key.selector, key, resolver)


@pytest.mark.asyncio
@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
async def test_check_matches_the_record_keygen_prints(tmp_path, algorithm):
    made = keygen(tmp_path, DOMAIN, "mb1", algorithm)
    zone = {made.record.name: "".join(made.record.strings())}

    result = await run_check(made.key, zone)

    assert result.status == "matches"
    assert result.ok
    assert "matches" in result.detail
    assert result.name == "mb1._domainkey.example.org"
    assert result.published == (made.record.value,)


@pytest.mark.asyncio
async def test_check_says_a_different_key_does_not_match(rsa_key, other_rsa_key, ed_key):
    result = await run_check(rsa_key, {rsa_key.record_name: dkim_record(other_rsa_key).value})

    assert result.status == "mismatch"
    assert "does not match" in result.detail
    assert not result.ok
    assert result.expected.value == dkim_record(rsa_key).value

    ed_for_rsa = dkim_record(ed_key).value
    result = await run_check(rsa_key, {rsa_key.record_name: ed_for_rsa})
    assert result.status == "mismatch"
    assert "k=ed25519" in result.detail


@pytest.mark.asyncio
async def test_check_says_missing(rsa_key):
    result = await run_check(rsa_key, {})

    assert result.status == "missing"
    assert "missing" in result.detail
    assert "does not exist" in result.detail

    result = await run_check(rsa_key, {rsa_key.record_name: []})
    assert result.status == "missing"
    assert "no TXT record" in result.detail


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("record", "status", "words"),
    [
        ("v=DKIM1; k=rsa; p=", "revoked", "revoked"),
        ("just some text", "malformed", "not a tag=value list"),
        ("v=spf1 -all", "malformed", "not a DKIM key record (v=spf1 -all)"),
        ("k=rsa; v=DKIM1; p=AAAA", "malformed", "v=DKIM1 must be the first tag"),
        ("v=DKIM2; p=AAAA", "malformed", "not a DKIM key record"),
        ("v=DKIM1; k=rsa", "malformed", "no p="),
        ("v=DKIM1; p=%%%%", "malformed", "not base64"),
        ("v=DKIM1; p=QUJD", "malformed", "not an RSA public key"),
        ("v=DKIM1; p=a; p=b", "malformed", "tag=value"),
    ],
)
async def test_check_says_what_is_wrong_with_a_record(rsa_key, record, status, words):
    result = await run_check(rsa_key, {rsa_key.record_name: record})

    assert result.status == status
    assert words in result.detail


@pytest.mark.asyncio
async def test_check_reads_the_record_leniently_where_dkim_allows(rsa_key):
    # No v=, no k= (rsa is the default), p= folded with spaces, a trailing ";", and
    # the bare RSAPublicKey some tools publish instead of SubjectPublicKeyInfo.
    bare = serialization.load_der_public_key(rsa_key.public_key_der()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    p = base64.b64encode(bare).decode()
    record = f"h=sha256 ; p={p[:100]} {p[100:]};"

    result = await run_check(rsa_key, {rsa_key.record_name: record})

    assert result.status == "matches", result.detail


@pytest.mark.asyncio
async def test_check_ed25519_wrong_length_is_malformed(ed_key):
    result = await run_check(ed_key, {ed_key.record_name: "v=DKIM1; k=ed25519; p=QUJD"})

    assert result.status == "malformed"
    assert "32-byte" in result.detail


@pytest.mark.asyncio
async def test_check_this_key_but_unusable_or_testing(rsa_key):
    p = rsa_key.public_key_b64()
    result = await run_check(rsa_key, {rsa_key.record_name: f"v=DKIM1; h=sha1; p={p}"})
    assert result.status == "unusable"
    assert "sha256" in result.detail

    result = await run_check(rsa_key, {rsa_key.record_name: f"v=DKIM1; s=tlsrpt; p={p}"})
    assert result.status == "unusable"

    result = await run_check(rsa_key, {rsa_key.record_name: f"v=DKIM1; t=y; p={p}"})
    assert result.status == "matches"
    assert any("testing" in w for w in result.warnings)


@pytest.mark.asyncio
async def test_check_two_records_at_one_selector_is_malformed(rsa_key):
    value = dkim_record(rsa_key).value

    result = await run_check(rsa_key, {rsa_key.record_name: [value, "v=DKIM1; p="]})

    assert result.status == "malformed"
    assert "2 TXT records" in result.detail


@pytest.mark.asyncio
async def test_check_without_dns_says_so(rsa_key):
    result = await check(DOMAIN, "mb-rsa", rsa_key, UnavailableResolver("no DNS here"))

    assert result.status == "dns-error"
    assert "no DNS here" in result.detail


# -- the command group ----------------------------------------------------------------


def printed_dkim_record(output: str) -> tuple[str, str, str]:
    """(name, value, zone-file strings joined) of the first record keygen printed."""
    name = re.search(r"^  name:  (\S+)$", output, re.MULTILINE)
    value = re.search(r"^  value: (.+)$", output, re.MULTILINE)
    assert name and value, output
    zone_part = output.split("In a zone file", 1)[1].split("Suggestions", 1)[0]
    joined = "".join(re.findall(r'"([^"]*)"', zone_part))
    return name.group(1), value.group(1), joined


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_cli_keygen_then_check_against_a_dns_server(tmp_path, algorithm, local_dns):
    runner = CliRunner()
    args = ["keygen", "--domain", DOMAIN, "--selector", "mb1", "--algorithm", algorithm]
    made = runner.invoke(dkim_command, [*args, "--directory", str(tmp_path)])

    assert made.exit_code == 0, made.output
    key_file = tmp_path / "mb1.example.org.private"
    assert mode_of(key_file) == 0o600
    assert "BEGIN" not in made.output  # the private key is never printed
    assert "Publish this DNS record exactly" in made.output
    assert "v=spf1" in made.output and "v=DMARC1; p=none" in made.output
    name, value, joined = printed_dkim_record(made.output)
    assert joined == value

    check_args = ["check", "--domain", DOMAIN, "--selector", "mb1", "--key", str(key_file)]
    port = local_dns({name: value})
    ok = runner.invoke(dkim_command, [*check_args, "--nameserver", f"127.0.0.1:{port}"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK: mb1._domainkey.example.org: matches")

    other = CliRunner().invoke(
        dkim_command,
        [*args, "--selector", "other", "--directory", str(tmp_path / "other")],
    )
    assert other.exit_code == 0, other.output
    _, other_value, _ = printed_dkim_record(other.output)
    port = local_dns({name: other_value})
    bad = runner.invoke(dkim_command, [*check_args, "--nameserver", f"127.0.0.1:{port}"])
    assert bad.exit_code == 1, bad.output
    assert "PROBLEM: mb1._domainkey.example.org: does not match" in bad.output
    assert value in bad.output  # what to publish instead

    port = local_dns({})
    missing = runner.invoke(dkim_command, [*check_args, "--nameserver", f"127.0.0.1:{port}"])
    assert missing.exit_code == 1, missing.output
    assert "missing" in missing.output


def test_cli_keygen_refuses_to_overwrite(tmp_path):
    args = ["keygen", "--domain", DOMAIN, "--selector", "mb1", "--directory", str(tmp_path)]
    assert CliRunner().invoke(dkim_command, args).exit_code == 0
    before = (tmp_path / "mb1.example.org.private").read_bytes()

    again = CliRunner().invoke(dkim_command, args)

    assert again.exit_code == 1
    assert "exists; not replacing a key" in again.output
    assert (tmp_path / "mb1.example.org.private").read_bytes() == before
    assert CliRunner().invoke(dkim_command, [*args, "--force"]).exit_code == 0
    assert (tmp_path / "mb1.example.org.private").read_bytes() != before


def spf_names(output: str) -> list[str]:
    """The names of the SPF records keygen suggested."""
    return re.findall(r"^SPF for (\S+), the envelope sender's domain:$", output, re.MULTILINE)


def test_cli_keygen_defaults_come_from_the_configuration_file(tmp_path):
    config = tmp_path / "mailbridge.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "var"}"\n[smtp]\nreply_domain = "reply.blog.example"\n'
    )
    args = ["keygen", "--domain", DOMAIN, "--selector", "s1", "--config", str(config)]

    done = CliRunner().invoke(dkim_command, args)

    assert done.exit_code == 0, done.output
    assert (tmp_path / "var" / "s1.example.org.private").exists()
    # SPF is checked against the envelope sender, bounce+...@reply_domain: the record
    # belongs there, not on the From domain.
    assert spf_names(done.output) == ["reply.blog.example"]
    assert 'reply.blog.example. 3600 IN TXT "v=spf1 ip4:<RELAY-IP> -all"' in done.output
    assert "bounce+...@reply.blog.example" in done.output
    assert "example value" not in done.output


def test_cli_keygen_reads_the_configuration_from_the_environment_too(tmp_path):
    config = tmp_path / "mailbridge.toml"
    config.write_text('[smtp]\nreply_domain = "r.example.net"\n')
    args = ["keygen", "--domain", DOMAIN, "--selector", "s1", "--directory", str(tmp_path)]

    done = CliRunner().invoke(dkim_command, args, env={"MAILBRIDGE_CONFIG": str(config)})

    assert done.exit_code == 0, done.output
    assert spf_names(done.output) == ["r.example.net"]


def test_cli_keygen_envelope_domains_can_be_given_and_the_example_default_is_flagged(tmp_path):
    args = ["keygen", "--domain", DOMAIN, "--directory", str(tmp_path)]
    clean = {"MAILBRIDGE_CONFIG": None, "MAILBRIDGE_SMTP_REPLY_DOMAIN": None}
    unconfigured = CliRunner().invoke(dkim_command, [*args, "--selector", "s1"], env=clean)
    given = CliRunner().invoke(
        dkim_command,
        [*args, "--selector", "s2", "--envelope-domain", "a.example", "--envelope-domain", DOMAIN],
    )

    assert spf_names(unconfigured.output) == ["reply.example.org"]
    assert "smtp.reply_domain is still the example value reply.example.org" in (
        unconfigured.output.replace("\n", " ")
    )
    assert given.exit_code == 0, given.output
    assert spf_names(given.output) == ["a.example", DOMAIN]


def test_cli_check_refuses_a_world_readable_key(tmp_path):
    made = keygen(tmp_path, DOMAIN, "mb1")
    made.path.chmod(0o644)

    done = CliRunner().invoke(
        dkim_command,
        ["check", "--domain", DOMAIN, "--selector", "mb1", "--key", str(made.path)],
    )

    assert done.exit_code == 1
    assert "Error:" in done.output and "chmod 600" in done.output


def test_cli_check_rejects_a_nameserver_that_is_not_an_address(tmp_path):
    made = keygen(tmp_path, DOMAIN, "mb1")
    args = ["check", "--domain", DOMAIN, "--selector", "mb1", "--key", str(made.path)]

    done = CliRunner().invoke(dkim_command, [*args, "--nameserver", "ns1.example.org"])

    assert done.exit_code == 2
    assert "--nameserver" in done.output


def test_parse_nameserver():
    assert parse_nameserver("192.0.2.1") == ("192.0.2.1", 53)
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("::1") == ("::1", 53)
    assert parse_nameserver("[::1]:5353") == ("::1", 5353)
    for bad in ("ns.example.org", "1.2.3.4:x", "[::1]x", "1.2.3.4:0", "1.2.3.4:70000"):
        with pytest.raises(ValueError):
            parse_nameserver(bad)
