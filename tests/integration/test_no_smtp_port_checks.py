"""What an operator with no SMTP port sees before and while running (docs/delivery.md,
"No SMTP port?"): `check-config --api` asks the mail service's API (the local fakes of
tests/delivery/apifakes.py) whether it takes the key, with each service's cheapest
request that sends nothing, and names the setting when it does not; `check-config`,
`status` and the start-up lines say how mail leaves, which webhook routes are on,
and that bounces go unseen when the service's event route is off."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from delivery.apifakes import AWS_KEY_ID, DOMAIN, KEY, REGION, SES_KEY, TOKEN, Fake, serving
from support import free_port

from mailbridge.cli import cli

SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def _env(fake: Fake, transport: str, key: str, **more: str) -> dict[str, str]:
    return {
        "MAILBRIDGE_OUTBOUND_TRANSPORT": transport,
        "MAILBRIDGE_OUTBOUND_API_KEY": key,
        "MAILBRIDGE_OUTBOUND_API_URL": fake.url,
        "MAILBRIDGE_OUTBOUND_RELAY_CA_FILE": str(fake.ca.ca_file),
        "MAILBRIDGE_SITE_PUBLIC_URL": "https://blog.example.org",
        **more,
    }


async def _check(tmp_path: Path, env: dict[str, str], *args: str) -> Result:
    runner = CliRunner()
    argv = ["check-config", "--data-dir", str(tmp_path / "var"), *args]
    # check-config runs its own event loop: in a thread, as from a shell.
    return await asyncio.to_thread(runner.invoke, cli, argv, env=env)


def _sends(fake: Fake) -> list[str]:
    """What the fake accepted as a message to send (nothing, for a check)."""
    return [r.to for r in fake.accepted()]


@pytest.mark.asyncio
async def test_mailgun_key_and_domain_are_checked_without_sending(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        # Without --api: valid settings, and it says the key was not asked about.
        result = await _check(tmp_path, _env(fake, f"mailgun://{DOMAIN}", KEY))
        assert result.exit_code == 0, result.output
        assert "outbound.api_key is not checked: --api asks mailgun" in result.output

        result = await _check(tmp_path, _env(fake, f"mailgun://{DOMAIN}", KEY), "--api")
        assert result.exit_code == 0, result.output
        assert f"OK       mailgun://{DOMAIN}: Mailgun takes the key ***eol0 for {DOMAIN}" in (
            result.output
        )

        wrong = "key-00000000000000000000000000000bad"
        result = await _check(tmp_path, _env(fake, f"mailgun://{DOMAIN}", wrong), "--api")
        assert result.exit_code == 1
        assert "PROBLEM  " in result.output and "Mailgun refused the API key ***0bad" in (
            result.output
        )
        assert "check outbound.api_key" in result.output and wrong not in result.output

        result = await _check(tmp_path, _env(fake, "mailgun://mg.other.org", KEY), "--api")
        assert result.exit_code == 1
        assert "does not know the domain mg.other.org" in result.output
        assert "outbound.transport" in result.output
        assert _sends(fake) == [] and fake.problems == []


@pytest.mark.asyncio
async def test_postmark_token_and_stream_are_checked(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        result = await _check(tmp_path, _env(fake, "postmark://", TOKEN), "--api")
        assert result.exit_code == 0, result.output
        assert "Postmark takes the server token ***6666; message stream 'outbound'" in (
            result.output
        )
        wrong = "00000000-1111-2222-3333-44445555beef"
        result = await _check(tmp_path, _env(fake, "postmark://", wrong), "--api")
        assert result.exit_code == 1
        assert "Postmark refused the server token ***beef" in result.output
        assert "check outbound.api_key" in result.output

        result = await _check(tmp_path, _env(fake, "postmark://?stream=inbound", TOKEN), "--api")
        assert result.exit_code == 1
        assert "the message stream 'inbound' is Inbound, not one that sends" in result.output
        result = await _check(tmp_path, _env(fake, "postmark://?stream=notify", TOKEN), "--api")
        assert result.exit_code == 1
        assert "no message stream 'notify'" in result.output and "?stream=" in result.output
        assert _sends(fake) == []


@pytest.mark.asyncio
async def test_ses_key_is_checked_by_get_account(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        transport = f"ses://{REGION}"
        result = await _check(tmp_path, _env(fake, transport, SES_KEY), "--api")
        assert result.exit_code == 0, result.output
        assert f"AWS takes the key AKIA…; SES sends from {REGION}; nothing was sent" in (
            result.output
        )
        fake.sandbox = True
        result = await _check(tmp_path, _env(fake, transport, SES_KEY), "--api")
        assert result.exit_code == 0 and "in the sandbox: only to verified addresses" in (
            result.output
        )
        # A user allowed only ses:SendEmail: the key is proven, the permission is not.
        fake.account_denied = True
        result = await _check(tmp_path, _env(fake, transport, SES_KEY), "--api")
        assert result.exit_code == 0, result.output
        assert "may not ses:GetAccount" in result.output
        wrong = f"{AWS_KEY_ID}:not-the-secret-at-all"
        result = await _check(tmp_path, _env(fake, transport, wrong), "--api")
        assert result.exit_code == 1
        assert "SES refused the key AKIA…" in result.output and "not-the-secret" not in (
            result.output
        )
        assert _sends(fake) == []


@pytest.mark.asyncio
async def test_a_service_that_cannot_be_reached_is_not_checked(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        env = _env(fake, f"mailgun://{DOMAIN}", KEY)
    # The fake is gone: nothing listens there any more.
    result = await _check(tmp_path, env, "--api")
    assert result.exit_code == 1
    assert "UNKNOWN  mailgun://" in result.output and "cannot reach 127.0.0.1" in result.output


@pytest.mark.asyncio
async def test_bounces_unseen_are_said_by_check_config_and_status(tmp_path: Path) -> None:
    async with serving(tmp_path) as fake:
        env = _env(fake, f"mailgun://{DOMAIN}", KEY)
        result = await _check(tmp_path, env)
        assert result.exit_code == 0
        assert "inbound webhooks off" in result.output and "mail events      off" in result.output
        assert (
            "WARNING: mail goes out through Mailgun's API, but its event webhook is off"
            in result.output
        )
        assert "Set inbound_webhooks.mailgun_signing_key" in result.output
        assert "https://blog.example.org/inbound/mailgun/events" in result.output
        # Nor can any reply come in: no inbound route, no IMAP, SMTP on loopback.
        assert "WARNING: mail goes out through Mailgun's API, but no reply can come in" in (
            result.output
        )
        assert "smtp.listen (127.0.0.1:2525) takes mail from this host only" in result.output
        # Port 25 open to the world (only outgoing ports are blocked): replies can come.
        public = await _check(tmp_path, {**env, "MAILBRIDGE_SMTP_LISTEN": "0.0.0.0:2525"})
        assert "no reply can come in" not in public.output
        assert "its event webhook is off" in public.output

        shown = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", str(tmp_path / "var")], env=env
        )
        assert shown.exit_code == 0, shown.output
        lines = shown.output.splitlines()
        assert f"Outgoing mail: mailgun://{DOMAIN} (key ***eol0) via {fake.url}" in lines
        assert "Webhooks: replies from none; bounces and complaints from none" in lines
        assert any(line.startswith("  WARNING: mail goes out through Mailgun") for line in lines)

        # The signing key turns on both of Mailgun's routes: no warning.
        env["MAILBRIDGE_INBOUND_WEBHOOKS_MAILGUN_SIGNING_KEY"] = SIGNING_KEY
        result = await _check(tmp_path, env)
        assert "WARNING" not in result.output
        assert "mail events      mailgun" in result.output
        shown = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", str(tmp_path / "var")], env=env
        )
        assert "Webhooks: replies from mailgun; bounces and complaints from mailgun" in (
            shown.output.splitlines()
        )
        assert "WARNING" not in shown.output and SIGNING_KEY not in shown.output

        # SES's replies topic does not bring its events: those have a topic of their own.
        topic = "arn:aws:sns:eu-west-1:123456789012:replies"
        ses = f"ses://{REGION}"
        env = _env(fake, ses, SES_KEY, MAILBRIDGE_INBOUND_WEBHOOKS_SES_TOPIC_ARN=topic)
        result = await _check(tmp_path, env)
        assert "Set inbound_webhooks.ses_events_topic_arn" in result.output


def test_the_start_up_lines_name_the_routes_and_what_is_missing(tmp_path: Path) -> None:
    """`serve` itself, as a service manager starts it: the URLs to give the service,
    and the warning, in the lines it prints at start."""
    env = {
        **os.environ,
        "MAILBRIDGE_DATA_DIR": str(tmp_path / "var"),
        "MAILBRIDGE_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
        "MAILBRIDGE_HTTP_LISTEN": f"127.0.0.1:{free_port()}",
        "MAILBRIDGE_SITE_PUBLIC_URL": "https://blog.example.org",
        "MAILBRIDGE_OUTBOUND_TRANSPORT": "postmark://",
        "MAILBRIDGE_OUTBOUND_API_KEY": TOKEN,
        "MAILBRIDGE_OUTBOUND_API_URL": "https://127.0.0.1:9",  # never reached: no mail
        "MAILBRIDGE_INBOUND_WEBHOOKS_SENDGRID_PASSWORD": "sendgrid-parse-secret-42",
        "MAILBRIDGE_INBOUND_WEBHOOKS_MAILGUN_SIGNING_KEY": SIGNING_KEY,
        "MAILBRIDGE_INBOUND_CPU_PROCESSES": "0",
    }
    daemon = subprocess.Popen(
        [sys.executable, "-m", "mailbridge", "serve"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert daemon.stdout is not None
        for line in daemon.stdout:  # bounded: the daemon prints these and waits
            lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C") or len(lines) > 60:
                break
    finally:
        daemon.terminate()
        daemon.communicate(timeout=30)  # waits, and closes the pipe
    shown = "\n".join(lines)
    assert "outgoing mail      postmark:// (key ***6666) via https://127.0.0.1:9" in shown
    assert "webhook (replies)  https://sendgrid:PASSWORD@blog.example.org/inbound/sendgrid" in shown
    # Mailgun posts the raw MIME only to a URL ending in "mime".
    assert "webhook (replies)  https://blog.example.org/inbound/mailgun/mime\n" in shown
    assert "webhook (events)   https://blog.example.org/inbound/mailgun/events" in shown
    assert "WARNING: mail goes out through Postmark's API, but its event webhook is off" in shown
    assert "Set inbound_webhooks.postmark_password" in shown
    assert "https://postmark:PASSWORD@blog.example.org/inbound/postmark/events" in shown
    assert "sendgrid-parse-secret-42" not in shown and TOKEN not in shown
    assert SIGNING_KEY not in shown


@pytest.mark.asyncio
async def test_dns_check_does_not_ask_for_a_dkim_key_the_service_replaces(
    tmp_path: Path,
) -> None:
    """--dns with an API transport: the service signs for the domain, so the DKIM line
    says to publish the service's records, not to make a key of mailbridge's."""
    from support import make_settings

    from mailbridge.dnscheck import dns_findings
    from mailbridge.senderauth.dns import NoSuchRecord

    class Empty:
        """A zone with no records (the internet's DNS cannot be asked from tests)."""

        async def txt(self, name: str) -> list[str]:
            raise NoSuchRecord(f"{name}: no TXT record", nxdomain=True)

        async def mx(self, name: str) -> list[tuple[int, str]]:
            raise NoSuchRecord(f"{name}: no MX record", nxdomain=True)

        async def addresses(self, name: str) -> list[str]:
            raise NoSuchRecord(f"{name}: no address", nxdomain=True)

    for transport, service in ((f"mailgun://{DOMAIN}", "mailgun"), ("postmark://", "postmark")):
        settings = make_settings(tmp_path, outbound={"transport": transport, "api_key": KEY})
        [dkim] = [f for f in await dns_findings(settings, Empty()) if f.what == "DKIM"]
        assert dkim.status == "note"
        assert dkim.detail.startswith(f"not signed by mailbridge: mail leaves through {service}")
        assert "set up there for example.org" in dkim.detail and "keygen" not in dkim.detail
    settings = make_settings(tmp_path)  # the Maildir: mailbridge's own key is the way
    [dkim] = [f for f in await dns_findings(settings, Empty()) if f.what == "DKIM"]
    assert "mailbridge dkim keygen" in dkim.detail


@pytest.mark.asyncio
async def test_mailgun_route_url_must_end_in_mime(tmp_path: Path) -> None:
    """Mailgun posts the raw MIME only to a forward() URL ending in "mime"; to any other,
    its parsed fields (no body-mime). The URL mailbridge prints and the docs give ends
    in /mime; the parsed fields are refused saying which URL to use."""
    import hashlib
    import hmac
    import time

    import aiohttp
    from support import started

    async with started(tmp_path, inbound_webhooks={"mailgun_signing_key": SIGNING_KEY}) as daemon:
        host, port = daemon.http_address
        timestamp, token = str(int(time.time())), "a" * 50
        signature = hmac.new(
            SIGNING_KEY.encode(), (timestamp + token).encode(), hashlib.sha256
        ).hexdigest()
        parsed = {  # Mailgun's fully parsed POST (its documented base fields)
            "timestamp": timestamp, "token": token, "signature": signature,
            "recipient": "reply+x@reply.example.org", "sender": "reader@example.org",
            "from": "Reader <reader@example.org>", "subject": "Re: hello",
            "body-plain": "Thank you.", "stripped-text": "Thank you.",
            "message-headers": "[]",
        }  # fmt: skip
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://{host}:{port}/inbound/mailgun", data=parsed) as resp,
        ):
            assert resp.status == 400
            said = (await resp.json())["message"]
        assert "only to a URL that ends in 'mime'" in said and "/inbound/mailgun/mime" in said
        # The /mime route exists (an unsigned post is refused as such, not 404).
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://{host}:{port}/inbound/mailgun/mime", data={"x": "1"}) as resp,
        ):
            assert resp.status == 401


@pytest.mark.asyncio
async def test_a_wrong_webhook_secret_names_the_setting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator who pasted Mailgun's API key instead of its webhook signing key (or
    a Postmark URL without the password) sees every post refused: the log line says
    which setting the service's request does not match."""
    import base64
    import hashlib
    import hmac
    import logging
    import time

    import aiohttp
    from support import started

    caplog.set_level(logging.WARNING, logger="mailbridge")
    hooks = {"mailgun_signing_key": SIGNING_KEY, "postmark_password": "postmark-secret-0001"}
    async with started(tmp_path, inbound_webhooks=hooks) as daemon:
        host, port = daemon.http_address
        timestamp, token = str(int(time.time())), "b" * 50
        signed_with_api_key = hmac.new(
            KEY.replace("key-3", "key-9").encode(), (timestamp + token).encode(), hashlib.sha256
        ).hexdigest()
        form = {"timestamp": timestamp, "token": token, "signature": signed_with_api_key,
                "recipient": "reply+x@reply.example.org", "body-mime": "x"}  # fmt: skip
        wrong = "Basic " + base64.b64encode(b"postmark:not-the-password").decode()
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"http://{host}:{port}/inbound/mailgun/mime", data=form
            ) as resp:
                assert resp.status == 401
            async with session.post(
                f"http://{host}:{port}/inbound/postmark", json={}, headers={"Authorization": wrong}
            ) as resp:
                assert resp.status == 401
    said = [r.getMessage() for r in caplog.records]
    assert any(
        "refused, not authentic" in line and "inbound_webhooks.mailgun_signing_key" in line
        for line in said
    ), said
    assert any("inbound_webhooks.postmark_user and postmark_password" in line for line in said), (
        said
    )
    assert "postmark-secret-0001" not in caplog.text and "not-the-password" not in caplog.text
