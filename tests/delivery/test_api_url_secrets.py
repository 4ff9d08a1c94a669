"""outbound.api_url with a user:password@ in it is refused at start-up.

Before, it was taken: aiohttp sent it as HTTP Basic to whatever answered at that URL
(Postmark's token with it), refused the request outright beside Mailgun's own
Authorization (a ValueError out of the send), and every "cannot reach" error, logged,
kept in the outbox row and shown by `mailbridge status`, printed the password."""

from __future__ import annotations

from pathlib import Path

import pytest
from delivery.apifakes import TOKEN

from mailbridge.errors import ConfigError
from mailbridge.outbound.api import ApiConfig
from mailbridge.outbound.api.choose import api_transport


@pytest.mark.parametrize("scheme", ["postmark://", "mailgun://mg.example.org"])
def test_a_password_in_api_url_is_refused_naming_the_setting(scheme: str) -> None:
    for url in ("https://proxyuser:s3cret-proxy-pw@127.0.0.1:8443",
                "https://s3cret-proxy-pw@api.example.net/base"):  # fmt: skip
        with pytest.raises(ConfigError) as refused:
            api_transport(scheme, ApiConfig(key=TOKEN, base_url=url))
        assert "outbound.api_url" in str(refused.value)
        assert "s3cret-proxy-pw" not in str(refused.value)
    # An @ further on (a path, a query) is no user:password.
    api_transport(scheme, ApiConfig(key=TOKEN, base_url="https://api.example.net/v@1"))


def test_check_config_says_so_without_the_password(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mailbridge.cli import cli

    env = {
        "MAILBRIDGE_OUTBOUND_TRANSPORT": "postmark://",
        "MAILBRIDGE_OUTBOUND_API_KEY": TOKEN,
        "MAILBRIDGE_OUTBOUND_API_URL": "https://proxyuser:s3cret-proxy-pw@proxy.example.net",
    }
    done = CliRunner().invoke(cli, ["check-config", "--data-dir", str(tmp_path / "v")], env=env)
    assert done.exit_code == 1 and "outbound.api_url" in done.output, done.output
    assert "s3cret-proxy-pw" not in done.output, done.output
    assert done.exception is None or isinstance(done.exception, SystemExit), done.output
