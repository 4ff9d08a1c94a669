"""Loading signing keys: formats, file permissions, sizes, and the configuration helper."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailbridge.errors import ConfigError
from mailbridge.outbound.dkim import signer_from_config
from mailbridge.outbound.dkim_keys import DkimKey, DkimKeyError, load_key

DOMAIN = "example.org"


def write_key(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def rsa_private(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def pem(private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, fmt: str = "pkcs8") -> bytes:
    form = (
        serialization.PrivateFormat.PKCS8
        if fmt == "pkcs8"
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    return private.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())


@pytest.mark.parametrize("fmt", ["pkcs8", "pkcs1"])
def test_rsa_pem_loads_in_either_format(tmp_path, fmt):
    private = rsa_private()
    path = write_key(tmp_path / "k.private", pem(private, fmt))

    key = load_key(path, "Example.ORG.", "Sel1")

    assert (key.domain, key.selector, key.algorithm) == (DOMAIN, "sel1", "rsa-sha256")
    assert key.bits == 2048
    # Normalised to what dkimpy reads: PKCS#1 PEM with LF line ends.
    assert key.private_key.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    expected = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key.public_key_der() == expected


def test_rsa_pem_with_crlf_line_ends_loads(tmp_path):
    path = write_key(tmp_path / "k.private", pem(rsa_private()).replace(b"\n", b"\r\n"))

    assert load_key(path, DOMAIN, "s").algorithm == "rsa-sha256"


def test_ed25519_pem_and_bare_seed_load_to_the_same_key(tmp_path):
    private = ed25519.Ed25519PrivateKey.generate()
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    from_pem = load_key(write_key(tmp_path / "a", pem(private)), DOMAIN, "ed")
    # The form dkimpy's dknewkey and OpenDKIM write: base64 of the seed, a newline.
    from_seed = load_key(write_key(tmp_path / "b", base64.b64encode(seed) + b"\n"), DOMAIN, "ed")

    assert from_pem == from_seed
    assert from_pem.algorithm == "ed25519-sha256"
    raw_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert from_pem.public_key_der() == raw_public
    assert from_pem.public_key_b64() == base64.b64encode(raw_public).decode()


@pytest.mark.parametrize(("mode", "word"), [(0o644, "read"), (0o604, "read"), (0o602, "write")])
def test_a_key_file_other_users_can_access_is_refused(tmp_path, mode, word):
    path = write_key(tmp_path / "k.private", pem(rsa_private()), mode)

    with pytest.raises(DkimKeyError) as caught:
        load_key(path, DOMAIN, "s")

    text = str(caught.value)
    assert f"mode {mode:04o}" in text
    assert f"every user on this host {word} it" in text
    assert f"chmod 600 {path}" in text


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o640])
def test_owner_or_group_only_is_accepted(tmp_path, mode):
    path = write_key(tmp_path / "k.private", pem(rsa_private()), mode)

    assert load_key(path, DOMAIN, "s").algorithm == "rsa-sha256"


def test_rsa_under_2048_bits_is_refused(tmp_path):
    path = write_key(tmp_path / "k.private", pem(rsa_private(1024)))

    with pytest.raises(DkimKeyError, match="1024 bits refused.*at least 2048"):
        load_key(path, DOMAIN, "s")


def test_an_encrypted_key_is_refused_without_quoting_it(tmp_path):
    data = rsa_private().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    path = write_key(tmp_path / "k.private", data)

    with pytest.raises(DkimKeyError, match="encrypted") as caught:
        load_key(path, DOMAIN, "s")
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a key\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        base64.b64encode(b"x" * 31),
    ],
)
def test_garbage_is_refused_without_echoing_it(tmp_path, data):
    path = write_key(tmp_path / "k.private", data)

    with pytest.raises(DkimKeyError) as caught:
        load_key(path, DOMAIN, "s")
    assert str(path) in str(caught.value)
    if data.strip():
        assert data.strip().decode() not in str(caught.value)


def test_missing_file_and_directory_are_refused(tmp_path):
    with pytest.raises(DkimKeyError, match="cannot open"):
        load_key(tmp_path / "absent", DOMAIN, "s")
    with pytest.raises(DkimKeyError, match="not a regular file|cannot open"):
        load_key(tmp_path, DOMAIN, "s")


def test_a_key_error_is_a_config_error():
    # So the CLI and the daemon's startup report it like any configuration problem.
    assert issubclass(DkimKeyError, ConfigError)


@pytest.mark.parametrize(
    ("domain", "selector"),
    [("example.org", "../etc"), ("example.org", ""), ("exa mple.org", "s"), ("", "s")],
)
def test_invalid_domain_or_selector_is_refused(domain, selector, kit):
    with pytest.raises(DkimKeyError, match="not (a )?valid"):
        DkimKey(domain, selector, "rsa-sha256", kit.new_rsa_pem())


def test_the_private_key_is_never_in_repr(rsa_key, ed_key):
    for key in (rsa_key, ed_key):
        assert key.private_key.decode() not in repr(key)
        assert "private_key" not in repr(key)


def test_algorithm_must_fit_the_key(kit):
    with pytest.raises(DkimKeyError):
        DkimKey(DOMAIN, "s", "ed25519-sha256", kit.new_rsa_pem())
    with pytest.raises(DkimKeyError):
        DkimKey(DOMAIN, "s", "rsa-sha256", kit.new_ed25519_seed())
    with pytest.raises(DkimKeyError, match="unknown"):
        DkimKey(DOMAIN, "s", "rsa-sha1", kit.new_rsa_pem())  # type: ignore[arg-type]


# -- signer_from_config ---------------------------------------------------------------


@pytest.fixture
def key_files(tmp_path, kit):
    rsa_path = write_key(tmp_path / "rsa.private", kit.new_rsa_pem())
    ed_path = write_key(tmp_path / "ed.private", kit.new_ed25519_seed())
    return rsa_path, ed_path


def test_unconfigured_is_none():
    assert signer_from_config("", "", None) is None
    assert signer_from_config("", "", "", "", "") is None


def test_rsa_only(key_files):
    rsa_path, _ = key_files

    signer = signer_from_config(DOMAIN, "mb1", rsa_path)

    assert signer is not None
    assert [(k.selector, k.algorithm) for k in signer.keys] == [("mb1", "rsa-sha256")]


def test_rsa_and_ed25519(key_files):
    rsa_path, ed_path = key_files

    signer = signer_from_config(DOMAIN, "mb1", str(rsa_path), "mb1e", str(ed_path))

    assert signer is not None
    assert [(k.selector, k.algorithm) for k in signer.keys] == [
        ("mb1", "rsa-sha256"),
        ("mb1e", "ed25519-sha256"),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (("example.org", "", "RSA"), "set selector"),
        (("", "mb1", "RSA"), "set domain"),
        (("example.org", "mb1", ""), "set private_key"),
        (("", "", "", "mb1e", "ED"), "set domain, selector, private_key"),
        (("example.org", "mb1", "RSA", "mb1e", ""), "both ed25519_selector"),
        (("example.org", "mb1", "RSA", "", "ED"), "both ed25519_selector"),
        (("example.org", "mb1", "ED"), "expected an rsa-sha256 key"),
        (("example.org", "mb1", "RSA", "mb1e", "RSA"), "expected an ed25519-sha256 key"),
        (("example.org", "mb1", "RSA", "mb1", "ED"), "same selector"),
    ],
)
def test_partial_or_wrong_configuration_is_an_error(key_files, values, message):
    rsa_path, ed_path = key_files
    paths = {"RSA": str(rsa_path), "ED": str(ed_path)}
    args = [paths.get(v, v) for v in values]

    with pytest.raises(DkimKeyError, match=message):
        signer_from_config(*args)


def test_config_refuses_a_world_readable_key(key_files):
    rsa_path, _ = key_files
    os.chmod(rsa_path, 0o644)

    with pytest.raises(DkimKeyError, match="chmod 600"):
        signer_from_config(DOMAIN, "mb1", rsa_path)
