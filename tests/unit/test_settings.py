from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from support import ROOT

from mailbridge.errors import ConfigError
from mailbridge.outbound.headers import ascii_url
from mailbridge.settings import Settings, iter_keys, load_settings

EXAMPLE = ROOT / "config" / "mailbridge.example.toml"


def test_defaults_are_the_operator_contract() -> None:
    s = load_settings()
    assert s.data_dir == "var"
    assert s.site.public_url == "http://127.0.0.1:8080"
    assert s.smtp.listen == "127.0.0.1:2525"
    assert s.http.listen == "127.0.0.1:8080"
    assert s.smtp.reply_domain == "reply.example.org"
    assert s.outbound.from_address == "Example Blog <comments@example.org>"
    assert s.transport_url == f"maildir:{Path('var').resolve() / 'outbox'}"


def test_example_config_parses_to_the_defaults() -> None:
    assert load_settings(EXAMPLE) == Settings()


def test_example_config_names_every_key() -> None:
    text = EXAMPLE.read_text()
    data = tomllib.loads(text)
    for dotted, _type, _default, _help in iter_keys():
        if "[]" in dotted:  # a list of tables: shown commented out, the default is none
            table, _, key = dotted.partition("[].")
            assert f"# [[{table}]]" in text and f"# {key} = " in text, dotted
            continue
        node = data
        for part in dotted.split("."):
            assert part in node, f"{dotted} missing from {EXAMPLE.name}"
            node = node[part]


def test_toml_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "mb.toml"
    config.write_text(
        'data_dir = "/srv/mb"\n[smtp]\nlisten = "0.0.0.0:25"\n'
        '[moderation]\nmoderators = ["a@example.org"]\n'
        '[outbound]\nfrom = "Blog <blog@example.org>"\n'
    )
    env = {
        "MAILBRIDGE_SMTP_LISTEN": "127.0.0.1:2626",
        "MAILBRIDGE_MODERATION_MODERATORS": "b@example.org, c@example.org",
        "MAILBRIDGE_HTTP_MAX_BODY_BYTES": "1000",
        "PATH": "/usr/bin",
    }
    s = load_settings(config, environ=env, overrides={"data_dir": str(tmp_path)})
    assert s.smtp.listen == "127.0.0.1:2626"
    assert s.moderation.moderators == ("b@example.org", "c@example.org")
    assert s.http.max_body_bytes == 1000
    assert s.outbound.from_address == "Blog <blog@example.org>"
    assert s.data_dir == str(tmp_path)


def test_unknown_key_in_file_is_refused_with_a_hint(tmp_path: Path) -> None:
    config = tmp_path / "mb.toml"
    config.write_text('[smtp]\nlisten_on = "127.0.0.1:25"\n')
    with pytest.raises(ConfigError, match="unknown key 'listen_on'.*did you mean 'listen'"):
        load_settings(config)


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "mb.toml"
    config.write_text('[stmp]\nlisten = "127.0.0.1:25"\n')
    with pytest.raises(ConfigError, match="unknown key 'stmp'.*did you mean 'smtp'"):
        load_settings(config)


def test_unknown_environment_variable_is_refused() -> None:
    with pytest.raises(ConfigError, match="MAILBRIDGE_SMTP_LISTN.*MAILBRIDGE_SMTP_LISTEN"):
        load_settings(environ={"MAILBRIDGE_SMTP_LISTN": "x"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAILBRIDGE_SMTP_LISTEN": "nowhere"}, "smtp.listen: expected host:port"),
        ({"MAILBRIDGE_SMTP_LISTEN": "127.0.0.1:\u00b2"}, "smtp.listen: expected host:port"),
        ({"MAILBRIDGE_SITE_PUBLIC_URL": "ftp://x"}, "site.public_url"),
        # Every link and List-Unsubscribe is built from it: refused at start, not as a
        # traceback at the first email (hyphens 3 and 4 of a U-label: IDNA refuses).
        ({"MAILBRIDGE_SITE_PUBLIC_URL": "https://ab--ü.example"}, "site.public_url: its host"),
        # Written into every lang attribute: a name or a locale's underscore is no tag.
        ({"MAILBRIDGE_SITE_LANGUAGE": "French"}, "site.language: expected a BCP 47"),
        ({"MAILBRIDGE_SITE_LANGUAGE": "pt_BR"}, "site.language: expected a BCP 47"),
        ({"MAILBRIDGE_SITE_LANGUAGE": 'fr"><b>'}, "site.language: expected a BCP 47"),
        ({"MAILBRIDGE_OUTBOUND_FROM": "not an address"}, "outbound.from"),
        ({"MAILBRIDGE_OUTBOUND_TRANSPORT": "carrier-pigeon:x"}, "outbound.transport"),
        ({"MAILBRIDGE_SMTP_MAX_MESSAGE_SIZE": "big"}, "expected an integer"),
        ({"MAILBRIDGE_MODERATION_LINK_DAYS": "0"}, "greater than zero"),
        ({"MAILBRIDGE_MODERATION_MODERATORS": "boss"}, "moderation.moderators"),
        ({"MAILBRIDGE_OUTBOUND_LEASE_SECONDS": "2"}, "outbound.lease_seconds: must be at least 5"),
    ],
)
def test_bad_values_are_explained(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_wrong_type_in_file(tmp_path: Path) -> None:
    config = tmp_path / "mb.toml"
    config.write_text('[smtp]\nreply_token_days = "ninety"\n')
    with pytest.raises(ConfigError, match="reply_token_days: expected an integer"):
        load_settings(config)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "mb.toml"
    config.write_text("[smtp\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(config)


def test_every_setting_has_help() -> None:
    for dotted, _type, _default, help_text in iter_keys():
        assert len(help_text) > 10, dotted


def test_data_url_selects_the_engine_or_is_refused() -> None:
    assert load_settings(environ={}).data_url == ""  # SQLite in data_dir
    url = "postgresql://mb:pw@127.0.0.1:5432/mb"
    assert load_settings(environ={"MAILBRIDGE_DATA_URL": url}).data_url == url
    with pytest.raises(ConfigError, match="data_url: expected empty .* got a 'mysql:' URL"):
        load_settings(environ={"MAILBRIDGE_DATA_URL": "mysql://mb@127.0.0.1/mb"})


def test_a_public_url_mixing_a_dns_label_and_an_idn_is_taken() -> None:
    # "00--0" is a DNS label as it stands (as "r3---sn-x" is): IDNA encodes only the
    # U-label beside it (hypothesis found a whole host encoded at once refused).
    settings = load_settings(environ={"MAILBRIDGE_SITE_PUBLIC_URL": "https://00--0.bücher.example"})
    assert ascii_url(settings.site.public_url) == "https://00--0.xn--bcher-kva.example"
