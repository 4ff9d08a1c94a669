"""Relay settings: the URL forms and the checks on a RelayConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbridge.errors import ConfigError
from mailbridge.outbound.relay import RelayConfig, SmtpTransport
from mailbridge.outbound.transport import MaildirTransport, relay_from_url, transport_from_url


def test_plain_url_keeps_its_old_meaning() -> None:
    relay = relay_from_url("smtp://relay.example:2525")
    assert relay == RelayConfig("relay.example", 2525)
    assert relay_from_url("smtp://relay.example").port == 25


def test_user_password_and_tls_in_the_url() -> None:
    relay = relay_from_url("smtp://blog%40example.org:p%3Ass@relay.example:587?tls=required")
    assert (relay.username, relay.password, relay.tls, relay.port) == (
        "blog@example.org",
        "p:ss",
        "required",
        587,
    )
    assert "p:ss" not in repr(relay)
    assert relay.description == "smtp://blog@example.org@relay.example:587?tls=required"


def test_smtps_is_implicit_tls_on_465() -> None:
    relay = relay_from_url("smtps://relay.example")
    assert (relay.tls, relay.port) == ("implicit", 465)
    assert relay.description == "smtps://relay.example:465"


def test_the_url_wins_over_the_settings_it_names_and_keeps_the_others(tmp_path: Path) -> None:
    base = RelayConfig(
        "", tls="required", username="u", password="p", ca_file=tmp_path / "ca.pem", timeout=5
    )
    relay = relay_from_url("smtp://relay.example:2525", base)
    assert relay == RelayConfig(
        "relay.example", 2525, "required", "u", "p", tmp_path / "ca.pem", timeout=5
    )
    assert relay_from_url("smtp://other:pw@relay.example", base).username == "other"
    assert relay_from_url("smtp://relay.example", RelayConfig("", tls="implicit")).port == 465


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtp://relay.example?starttls=yes", "unknown query 'starttls'"),
        ("smtp://relay.example?tls=sometimes", "expected one of"),
        ("smtps://relay.example?tls=required", "implicit TLS"),
        ("smtp://relay.example:99999", "bad port"),
        ("smtp://:pw@/", "expected smtp://host:port"),
        ("smtp://u:pw@smtp.gmail.com:465", r"port 465 starts TLS on connect: use smtps://"),
        ("smtp://u:pw@relay.example:465?tls=required", "port 465 starts TLS on connect"),
        ("smtps://u:pw@relay.example:587", r"port 587 uses STARTTLS: use smtp://"),
    ],
)
def test_bad_urls_are_config_errors_without_the_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        relay_from_url(url)
    assert ":pw@" not in str(caught.value)


@pytest.mark.parametrize("password", ["Zq#9xK", "Zq/9xK", "Zq?9xK", "Z@q#9xK"])
def test_a_password_with_url_characters_is_refused_without_showing_it(password: str) -> None:
    url = f"smtp://blog:{password}@relay.example:587?tls=required"
    with pytest.raises(ConfigError, match="percent-encode") as caught:
        relay_from_url(url)
    assert "smtp://blog:***@relay.example:587" in str(caught.value)
    assert "9xK" not in str(caught.value) and "Zq" not in str(caught.value)


def test_relay_config_checks() -> None:
    with pytest.raises(ConfigError, match="TLS mode"):
        RelayConfig("h", tls="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="port"):
        RelayConfig("h", 0)
    with pytest.raises(ConfigError, match="without a username"):
        RelayConfig("h", password="p")
    with pytest.raises(ConfigError, match="timeout"):
        RelayConfig("h", timeout=0)


def test_transport_from_url() -> None:
    smtp = transport_from_url("smtps://u:p@relay.example", RelayConfig("", max_connections=2))
    assert isinstance(smtp, SmtpTransport)
    assert (smtp.host, smtp.port, smtp.relay.max_connections) == ("relay.example", 465, 2)
    assert isinstance(transport_from_url("maildir:/tmp/box"), MaildirTransport)
    with pytest.raises(ConfigError, match="unsupported transport 'lmtp://h'"):
        transport_from_url("lmtp://h")
