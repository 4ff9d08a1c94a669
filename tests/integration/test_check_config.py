"""`mailbridge check-config` (issue 15): every problem of the settings at once, each
with its key and where it was set (the file, the environment), not only the first;
the daemon refuses to start with all of them listed too; a good file is summarised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from delivery.tlskit import make_ca
from support import free_port

from mailbridge.cli import cli

BAD = """
[smtp]
reply_domian = "reply.example.org"

[http]
max_body_bytes = "big"

[site]
public_url = "ftp://blog.example.org"

[imap]
host = "imap.example.org"

[limits]
smtp_connections_per_ip = 0
"""


def test_every_problem_at_once(tmp_path: Path) -> None:
    config = tmp_path / "mailbridge.toml"
    config.write_text(BAD)
    env = {"MAILBRIDGE_HTTP_LISTN": "127.0.0.1:9"}
    result = CliRunner().invoke(
        cli, ["check-config", "--config", str(config), "--data-dir", str(tmp_path / "var")], env=env
    )
    assert result.exit_code == 1
    out = result.output
    assert "6 problem(s) in the settings:" in out
    assert f"{config} [smtp]: unknown key 'reply_domian' (did you mean 'reply_domain'?)" in out
    assert f"{config} [http]: max_body_bytes: expected an integer" in out
    assert "environment: unknown setting MAILBRIDGE_HTTP_LISTN" in out
    assert "site.public_url: expected an http(s) URL, got 'ftp://blog.example.org'" in out
    assert "imap: user and password are needed with host" in out
    assert "limits.smtp_connections_per_ip: must be greater than zero" in out
    # The daemon says the same, all of it, and starts nothing.
    serve = CliRunner().invoke(cli, ["serve", "--config", str(config)], env=env)
    assert serve.exit_code == 1
    assert "reply_domian" in serve.output and "smtp_connections_per_ip" in serve.output


def test_a_good_file_is_summarised(tmp_path: Path) -> None:
    config = tmp_path / "mailbridge.toml"
    config.write_text('[smtp]\nreply_domain = "reply.blog.example.org"\n')
    result = CliRunner().invoke(
        cli, ["check-config", "--config", str(config), "--data-dir", str(tmp_path / "var")]
    )
    assert result.exit_code == 0, result.output
    assert "Settings are valid." in result.output
    assert "replies to *@reply.blog.example.org" in result.output
    assert "WordPress bridge off" in result.output
    assert not (tmp_path / "var").exists()  # nothing written


def test_a_public_url_that_is_the_wordpress_sites_is_warned_of(tmp_path: Path) -> None:
    # docs/wordpress.md's setup said public_url = the blog's address: every Approve and
    # unsubscribe link in mailbridge's emails then went to WordPress, which answers 404.
    config = tmp_path / "mailbridge.toml"
    bridged = (
        '[wordpress]\nsite_url = "https://blog.example.org"\nuser = "editor"\n'
        'app_password = "abcd efgh ijkl mnop qrst uvwx"\n'
    )
    args = ["check-config", "--config", str(config), "--data-dir", str(tmp_path / "var")]
    config.write_text(bridged + '[site]\npublic_url = "https://blog.example.org/"\n')
    same = CliRunner().invoke(cli, args)
    assert same.exit_code == 0, same.output
    assert (
        "WARNING: site.public_url is the WordPress site's address (wordpress.site_url): it is "
        "mailbridge's own, where the links in its emails (Approve, unsubscribe) go"
    ) in same.output
    config.write_text(bridged + '[site]\npublic_url = "https://comments.blog.example.org"\n')
    apart = CliRunner().invoke(cli, args)
    assert apart.exit_code == 0 and "WARNING" not in apart.output, apart.output


def test_what_serve_reads_at_start_is_checked_too(tmp_path: Path) -> None:
    # Valid as settings, but serve would stop at once: a DKIM key that is not a key,
    # and a relay URL with an unknown option. check-config says so, as serve does.
    data = tmp_path / "var"
    data.mkdir()
    key = data / "mb1.example.org.private"
    key.write_text("not a key\n")
    key.chmod(0o600)
    config = tmp_path / "mailbridge.toml"
    config.write_text(
        '[dkim]\ndomain = "example.org"\nselector = "mb1"\n'
        f'private_key = "{key.name}"\n'
        '[outbound]\ntransport = "smtp://blog:s3cret@relay.example.net:587?ssl=1"\n'
    )
    args = ["--config", str(config), "--data-dir", str(data)]
    result = CliRunner().invoke(cli, ["check-config", *args])
    assert result.exit_code == 1, result.output
    assert "2 problem(s) in the settings:" in result.output
    assert f"DKIM key {key}: neither a PEM private key" in result.output
    assert "outbound.transport: unknown query 'ssl'" in result.output
    assert "s3cret" not in result.output
    assert "Settings are valid" not in result.output
    key.unlink()
    result = CliRunner().invoke(cli, ["check-config", *args])
    assert f"DKIM key {key}: cannot open: No such file or directory" in result.output


def _mailbridge(
    tmp: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}
    env["MAILBRIDGE_SMTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    env["MAILBRIDGE_HTTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    env.update(extra or {})
    return subprocess.run(
        [sys.executable, "-m", "mailbridge", *args],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_dkim_key_the_daemon_would_refuse_is_a_problem(tmp_path: Path) -> None:
    # check-config said "Settings are valid." (exit 0) for a key serve cannot use.
    data = tmp_path / "var"
    config = tmp_path / "mailbridge.toml"
    config.write_text(
        '[dkim]\ndomain = "example.org"\nselector = "mb1"\n'
        'private_key = "mb1.example.org.private"\n'
    )
    check = ["check-config", "--config", str(config), "--data-dir", str(data)]
    missing = _mailbridge(tmp_path, *check)
    assert missing.returncode == 1, missing.stdout
    assert "Settings are valid" not in missing.stdout
    assert f"DKIM key {data}/mb1.example.org.private: cannot open" in missing.stderr
    assert "Traceback" not in missing.stderr

    keygen = ["dkim", "keygen", "--domain", "example.org", "--selector", "mb1"]
    made = _mailbridge(tmp_path, *keygen, "--directory", str(data))
    assert made.returncode == 0, made.stderr
    key = data / "mb1.example.org.private"
    key.chmod(0o644)  # readable by every user: serve refuses it
    too_open = _mailbridge(tmp_path, *check)
    assert too_open.returncode == 1, too_open.stdout
    assert f"run: chmod 600 {key}" in too_open.stderr
    serve = _mailbridge(tmp_path, "serve", "--config", str(config), "--data-dir", str(data))
    assert serve.returncode == 1 and f"run: chmod 600 {key}" in serve.stderr

    key.chmod(0o600)
    fixed = _mailbridge(tmp_path, *check)
    assert fixed.returncode == 0, fixed.stderr
    assert "Settings are valid." in fixed.stdout


def test_a_bad_value_says_where_it_was_set(tmp_path: Path) -> None:
    # With a file and a secrets file of MAILBRIDGE_* variables (deploy/mailbridge.service),
    # "outbound.retry_base_seconds: must be greater than zero" sent the operator to the
    # file, where the key was not.
    config = tmp_path / "mailbridge.toml"
    config.write_text('[site]\npublic_url = "ftp://blog.example.org"\n')
    env = {
        "MAILBRIDGE_OUTBOUND_RETRY_BASE_SECONDS": "-1",
        "MAILBRIDGE_HTTP_METRICS_NETWORKS": "127.0.0.1/32,10.0.0.300/8",
    }
    data = ["--data-dir", str(tmp_path / "var")]
    for command in ("check-config", "serve"):
        done = _mailbridge(tmp_path, command, "--config", str(config), *data, extra=env)
        assert done.returncode == 1, done.stdout
        assert "Traceback" not in done.stderr
        lines = done.stderr.splitlines()
        for line in (
            f"site.public_url: expected an http(s) URL, got 'ftp://blog.example.org' "
            f"(set in {config})",
            "outbound.retry_base_seconds: must be greater than zero "
            "(set in the environment: MAILBRIDGE_OUTBOUND_RETRY_BASE_SECONDS)",
            "http.metrics_networks: not a network: '10.0.0.300/8' "
            "(set in the environment: MAILBRIDGE_HTTP_METRICS_NETWORKS)",
        ):
            assert any(x.strip() == line or x.endswith(line) for x in lines), (command, lines)


def test_a_tls_pair_the_smtp_service_cannot_load_is_a_problem(tmp_path: Path) -> None:
    # A key that is not the certificate's (a renewal half done) or a file that is not
    # PEM: check-config said "Settings are valid." and serve died with two tracebacks
    # (ssl.SSLError, then an UnboundLocalError in its clean-up). Other commands
    # (`mailbridge inbound`, to see what happened meanwhile) still run.
    data = tmp_path / "var"
    one, other = make_ca(tmp_path / "one"), make_ca(tmp_path / "other")
    config = tmp_path / "mailbridge.toml"
    check = ["check-config", "--config", str(config), "--data-dir", str(data)]
    serve = ["serve", "--config", str(config), "--data-dir", str(data)]
    for cert, key, why in (
        (one.cert_file, other.key_file, "KEY_VALUES_MISMATCH"),
        (config, one.key_file, "PEM lib"),
    ):
        config.write_text(f'[smtp]\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
        for args in (check, serve):
            done = _mailbridge(tmp_path, *args)
            assert done.returncode == 1, (args, done.stdout)
            assert "Traceback" not in done.stderr, done.stderr
            [line] = [x for x in done.stderr.splitlines() if "cannot serve STARTTLS" in x]
            assert f"smtp.tls_cert: '{cert}' with smtp.tls_key '{key}'" in line
            assert why in line
    inbound = _mailbridge(tmp_path, "inbound", "--config", str(config), "--data-dir", str(data))
    assert inbound.returncode == 0 and "No inbound messages match." in inbound.stdout
    config.write_text(f'[smtp]\ntls_cert = "{one.cert_file}"\ntls_key = "{one.key_file}"\n')
    fine = _mailbridge(tmp_path, *check)
    assert fine.returncode == 0 and "Settings are valid." in fine.stdout, fine.stderr
