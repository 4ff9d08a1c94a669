"""A daemon on an ECS task (or EC2 instance) sending through SES with the role's
temporary credentials, no outbound.api_key: the approved reply's notification reaches
the (fake) SES as our exact bytes, signed with the session token the role's endpoint
(a local server shaped as ECS's) handed out."""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from delivery.apifakes import REGION, serving
from delivery.test_api_ses_role import ecs_role, empty_aws_chain
from flows import approve, post_comment
from support import db_rows, started, until

READER = "reader002.4a549d@example.org"  # seed comment 2's author: notified of answers


@pytest.mark.asyncio
async def test_an_approved_reply_reaches_ses_signed_with_the_task_roles_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_aws_chain(monkeypatch, tmp_path)
    async with serving(tmp_path) as fake, ecs_role(fake, lifetime=3600) as role:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", role.url)
        outbound = {
            "transport": f"ses://{REGION}",
            "api_url": fake.url,
            "relay_ca_file": str(fake.ca.ca_file),
        }
        async with started(tmp_path, outbound=outbound) as daemon:
            await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
            for _ in range(300):  # bounded: 15 s
                if fake.accepted():
                    break
                await asyncio.sleep(0.05)
            moderation = message_from_bytes(fake.accepted()[0].message, policy=policy.default)
            await approve(daemon, moderation)  # type: ignore[arg-type]
            for _ in range(300):
                if any(r.to == READER for r in fake.accepted()):
                    break
                await asyncio.sleep(0.05)

            async def marked_sent() -> list[tuple[object, ...]]:
                # SES answered before the daemon marks the row sent with SES's id: the
                # row is read once that commit is in (a read between the two saw None).
                return await db_rows(
                    daemon,
                    "SELECT m.message, o.provider_id FROM outbox o JOIN outbox_messages m "
                    "ON m.outbox_id = o.id WHERE o.rcpt_to = ? AND o.status = 'sent'",
                    READER,
                )

            stored = await until("the notification marked sent", marked_sent, seconds=15)
    assert fake.problems == []
    note = next(r for r in fake.accepted() if r.to == READER)
    ((message, provider_id),) = stored
    assert note.message == bytes(message)  # Content.Raw: our bytes
    assert provider_id == f"ses:{note.answered}"
    # Every request signed with a token the role handed out (the fake refuses others).
    handed = {fake.sessions[key][1] for key in role.handed}
    assert fake.tokens and set(fake.tokens) <= handed


@pytest.mark.asyncio
async def test_check_config_names_the_roles_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from mailbridge.cli import cli

    empty_aws_chain(monkeypatch, tmp_path)
    async with serving(tmp_path) as fake, ecs_role(fake, lifetime=3600) as role:
        env = {
            "MAILBRIDGE_OUTBOUND_TRANSPORT": f"ses://{REGION}",
            "MAILBRIDGE_OUTBOUND_API_URL": fake.url,
            "MAILBRIDGE_OUTBOUND_RELAY_CA_FILE": str(fake.ca.ca_file),
        }
        argv = ["check-config", "--data-dir", str(tmp_path / "var"), "--api"]
        # No role yet: nothing in the chain.
        nothing = await asyncio.to_thread(CliRunner().invoke, cli, argv, env=env)
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = role.url
        found = await asyncio.to_thread(CliRunner().invoke, cli, argv, env=env)
    assert nothing.exit_code == 1 and "PROBLEM  ses://" in nothing.output
    assert "no AWS credentials: outbound.api_key is empty" in nothing.output
    assert found.exit_code == 0, found.output
    shown = f"ses://{REGION} (AWS credentials from the environment, shared files or role)"
    assert f"outgoing mail    {shown}" in found.output
    assert "AWS takes the key ASIA…, from container-role; SES sends from" in found.output
    assert all(secret not in found.output for secret, _t, _e in fake.sessions.values())
