"""The daemon signs what it sends: keys made by `mailbridge dkim keygen` in the data
directory, configured in [dkim], verified on the delivered file by the inbound DKIM
verifier mailbridge uses itself and by dkimpy, against a local zone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner
from flows import approve, moderation_email, outbox_dir, post_comment
from support import read_maildir, started

from mailbridge.cli import cli
from mailbridge.outbound.dkim_keys import load_key
from mailbridge.outbound.dkimtool import dkim_record
from mailbridge.senderauth import StaticResolver
from mailbridge.senderauth.dkim import verify_dkim


@pytest.mark.asyncio
async def test_notifications_leave_signed_with_rsa_and_ed25519(tmp_path: Path) -> None:
    data = tmp_path / "var"
    for selector, algorithm in (("mb", "rsa"), ("mbed", "ed25519")):
        result = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            [
                "dkim",
                "keygen",
                "--domain",
                "example.org",
                "--selector",
                selector,
                "--algorithm",
                algorithm,
                "--directory",
                str(data),
            ],
        )
        assert result.exit_code == 0, result.output
        assert f"{selector}._domainkey.example.org" in result.output
    rsa = load_key(data / "mb.example.org.private", "example.org", "mb")
    ed = load_key(data / "mbed.example.org.private", "example.org", "mbed")
    dkim_settings = {
        "domain": "example.org",
        "selector": "mb",
        "private_key": "mb.example.org.private",  # relative to the data directory
        "ed25519_selector": "mbed",
        "ed25519_private_key": "mbed.example.org.private",
    }
    async with started(tmp_path, dkim=dkim_settings) as daemon:
        await post_comment(daemon, parent=2, body="Signed, I hope.")
        await approve(daemon, await moderation_email(daemon, "Ann"))
        for _ in range(200):  # bounded: 10 s for the signer in the worker process
            files = sorted((outbox_dir(daemon) / "new").iterdir())
            if len(files) >= 2:
                break
            await asyncio.sleep(0.05)
        mails = read_maildir(outbox_dir(daemon))
        note = next(m for m in mails if m["List-Unsubscribe"])
        raw = next(p.read_bytes() for p in files if b"List-Unsubscribe:" in p.read_bytes())
    # The Maildir adds Return-Path and Delivered-To in front, as a local delivery does.
    wire = raw.split(b"\r\n", 2)[2]
    assert len(note.get_all("DKIM-Signature")) == 2
    records = {r.name: r.value for r in (dkim_record(rsa), dkim_record(ed))}
    results = await verify_dkim(wire, StaticResolver(records, otherwise="nxdomain"))
    assert sorted((r.selector, r.result) for r in results) == [("mb", "pass"), ("mbed", "pass")]

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return records[name.decode().rstrip(".")].encode()

    for index in range(2):
        assert dkim.DKIM(wire).verify(idx=index, dnsfunc=dnsfunc)
    signed = note.get_all("DKIM-Signature")[0]
    for header in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "reply-to",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ):
        assert header in str(signed).lower(), header
    assert "c=relaxed/relaxed" in " ".join(str(signed).split())


def test_preview_renders_every_template(tmp_path: Path) -> None:
    from mailbridge.preview import EMAILS, PAGES

    for name in (*EMAILS, *PAGES):
        result = CliRunner().invoke(cli, ["preview", name, "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, (name, result.output)
        assert len(result.output) > 200, name
    html = CliRunner().invoke(cli, ["preview", "digest", "--html"]).output
    assert '<html lang="en">' in html and "#0b5cad" in html
    themed = (
        CliRunner()
        .invoke(
            cli,
            ["preview", "reply_notification", "--html"],
            env={"MAILBRIDGE_SITE_ACCENT_COLOR": "#aa3300"},
        )
        .output
    )
    assert "#aa3300" in themed
    out = tmp_path / "page.html"
    assert CliRunner().invoke(cli, ["preview", "thread", "--output", str(out)]).exit_code == 0
    assert "<article" in out.read_text()
    bad = CliRunner().invoke(cli, ["preview", "nope"])
    assert bad.exit_code == 1 and "one of:" in bad.output
