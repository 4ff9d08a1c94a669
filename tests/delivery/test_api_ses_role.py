"""ses:// with no outbound.api_key: botocore's own credential chain, as on EC2, ECS or
Lambda. The role's endpoint is a local HTTP server answering as ECS's task metadata
endpoint does (AWS_CONTAINER_CREDENTIALS_FULL_URI on 127.0.0.1, which botocore
honours); the SES fake takes temporary credentials only with their session token,
signed, and before their expiry (tests/delivery/apifakes.py)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from delivery.apifakes import REGION, Fake, serving
from delivery.test_api_transports import MESSAGE

from mailbridge.errors import TemporaryDeliveryError
from mailbridge.outbound.api import ApiConfig
from mailbridge.outbound.api.choose import api_transport
from mailbridge.outbound.api.ses import SesTransport
from mailbridge.outbound.transport import transport_shown

_CHAIN_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
)  # fmt: skip


def empty_aws_chain(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """An environment where the chain finds nothing of this machine's: no variables, no
    shared files, no instance metadata (it would be asked over the network)."""
    for name in _CHAIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    empty_aws_chain(monkeypatch, tmp_path)
    return monkeypatch


def _session(fake: Fake, lifetime: float) -> tuple[str, str, str, float]:
    """Temporary credentials as STS makes them: an ASIA key id, a secret, a token."""
    key_id = "ASIA" + secrets.token_hex(8).upper()
    secret, token = secrets.token_urlsafe(30), "IQoJb3JpZ2luX2Vj" + secrets.token_urlsafe(60)
    expiry = time.time() + lifetime
    fake.sessions[key_id] = (secret, token, expiry)
    return key_id, secret, token, expiry


@dataclass
class Role:
    """ECS's credentials endpoint: each GET hands out new temporary credentials."""

    url: str = ""
    handed: list[str] = field(default_factory=list)  # the key ids, in order


@contextlib.asynccontextmanager
async def ecs_role(fake: Fake, lifetime: float) -> AsyncIterator[Role]:
    role = Role()

    async def credentials(request: web.Request) -> web.Response:
        key_id, secret, token, expiry = _session(fake, lifetime)
        role.handed.append(key_id)
        stamp = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.json_response(
            {"RoleArn": "arn:aws:iam::123456789012:role/mailbridge-task",
             "AccessKeyId": key_id, "SecretAccessKey": secret, "Token": token,
             "Expiration": stamp}
        )  # fmt: skip

    app = web.Application()
    app.router.add_get("/v2/credentials/task", credentials)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    role.url = f"http://127.0.0.1:{runner.addresses[0][1]}/v2/credentials/task"
    try:
        yield role
    finally:
        await runner.cleanup()


def _ses(fake: Fake) -> SesTransport:
    transport = api_transport(
        f"ses://{REGION}", ApiConfig(base_url=fake.url, ca_file=fake.ca.ca_file)
    )
    assert isinstance(transport, SesTransport)
    return transport


@pytest.mark.asyncio
async def test_the_environments_session_token_signs_each_request(
    tmp_path: Path, no_aws: pytest.MonkeyPatch
) -> None:
    async with serving(tmp_path) as fake:
        key_id, secret, token, _expiry = _session(fake, 3600)
        no_aws.setenv("AWS_ACCESS_KEY_ID", key_id)
        no_aws.setenv("AWS_SECRET_ACCESS_KEY", secret)
        no_aws.setenv("AWS_SESSION_TOKEN", token)
        transport = _ses(fake)
        try:
            await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
        no_aws.delenv("AWS_SESSION_TOKEN")  # the key id and secret alone: refused
        alone = _ses(fake)
        try:
            with pytest.raises(TemporaryDeliveryError) as refused:
                await alone.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await alone.aclose()
    assert fake.problems == []
    assert [r.status for r in fake.received] == [200, 403]
    assert fake.accepted()[0].message == MESSAGE
    assert fake.tokens == [token, ""]
    detail = refused.value.detail
    assert f"SES refused the key {key_id[:4]}…, from env" in detail
    assert "UnrecognizedClientException" in detail and secret not in detail
    assert transport.description == (
        f"ses://{REGION} (AWS credentials from the environment, shared files or role)"
    )
    assert transport_shown(f"ses://{REGION}") == transport.description


@pytest.mark.asyncio
async def test_the_task_roles_credentials_are_fetched_again_before_they_expire(
    tmp_path: Path, no_aws: pytest.MonkeyPatch
) -> None:
    async with serving(tmp_path) as fake, ecs_role(fake, lifetime=2.0) as role:
        no_aws.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", role.url)
        transport = _ses(fake)
        try:
            await transport.send("b@example.org", "ann@example.net", MESSAGE)
            first = role.handed[-1]
            # The first credentials expire (the SES fake refuses them from then on);
            # botocore fetches new ones before signing: within its refresh window.
            await asyncio.sleep(max(0.0, fake.sessions[first][2] + 0.2 - time.time()))
            await transport.send("b@example.org", "bob@example.com", MESSAGE)
            probe = await transport.check()
        finally:
            await transport.aclose()
    assert fake.problems == []
    assert [r.status for r in fake.received] == [200, 200]
    assert len(role.handed) >= 2 and role.handed[-1] != first
    # Each request signed with the session token of credentials then valid: the
    # second with ones fetched after the first's.
    handed = [fake.sessions[k][1] for k in role.handed]
    assert fake.tokens[0] != fake.tokens[1]
    assert handed.index(fake.tokens[1]) > handed.index(fake.tokens[0])
    assert probe.status == "ok" and "AWS takes the key ASIA…, from container-role" in probe.said


@pytest.mark.asyncio
async def test_no_credentials_anywhere_holds_the_mail_and_check_config_says_so(
    tmp_path: Path, no_aws: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(tmp_path) as fake:
        transport = _ses(fake)
        try:
            probe = await transport.check()
            with pytest.raises(TemporaryDeliveryError) as none:
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
            with pytest.raises(TemporaryDeliveryError, match="not tried"):
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
    assert fake.received == []
    assert probe.status == "problem" and "no AWS credentials" in probe.said
    assert "outbound.api_key is empty" in none.value.detail
    assert "AWS_SESSION_TOKEN" in none.value.detail and "role" in none.value.detail
    assert [r.message for r in caplog.records].count(none.value.detail) == 1  # logged once


@pytest.mark.asyncio
async def test_a_role_endpoint_that_does_not_answer_is_temporary(
    tmp_path: Path, no_aws: pytest.MonkeyPatch
) -> None:
    async with serving(tmp_path) as fake:
        async with ecs_role(fake, lifetime=3600) as role:
            url = role.url
        no_aws.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)  # nothing listens now
        transport = _ses(fake)
        try:
            with pytest.raises(TemporaryDeliveryError, match="cannot get AWS credentials"):
                await transport.send("b@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
    assert fake.received == []
