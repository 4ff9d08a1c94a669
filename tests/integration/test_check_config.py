"""`mailbridge check-config` (issue 15): every problem of the settings at once, each
with its key and where it was set (the file, the environment), not only the first;
the daemon refuses to start with all of them listed too; a good file is summarised."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

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
