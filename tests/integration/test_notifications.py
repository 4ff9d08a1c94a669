"""Who gets a reply notification, and what it looks like."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest
from flows import approve, moderation_email, outbox_dir, post_comment, reply_notification
from support import (
    html_body,
    import_seed,
    is_notification,
    make_settings,
    no_dmarc_zone,
    read_maildir,
    text_body,
    wait_for_mail,
)

from mailbridge.app import Running, running


async def notifications(daemon: Running) -> list[str]:
    return [
        m["To"].addresses[0].addr_spec
        for m in read_maildir(outbox_dir(daemon))
        if is_notification(m)
    ]


@pytest.mark.asyncio
async def test_notification_content_and_threading(daemon: Running) -> None:
    note = await reply_notification(daemon)
    assert note["To"].addresses[0].display_name == "Reader 002"
    assert str(note["Subject"]) == (
        "Re: Attachment Theory and the Healing Psychotherapy Relationship"
    )
    reply_to = note["Reply-To"].addresses[0]
    assert reply_to.display_name == "Ann via Example Blog"
    local, domain = reply_to.addr_spec.split("@")
    assert domain == "reply.example.org" and local.startswith("reply+") and len(local) == 38
    assert note["In-Reply-To"] == "<c2@reply.example.org>"
    assert note["References"].split() == ["<t1@reply.example.org>", "<c2@reply.example.org>"]
    assert note["Message-ID"].endswith("@reply.example.org>")
    text = text_body(note)
    assert "Ann's answer to Reader 002." in text
    assert "I can’t speak for other people" in text  # a short quote of what they wrote
    assert "/threads/attachment-theory-healing-relationship#comment-" in text
    assert "Ann&#39;s answer" in html_body(note) or "Ann's answer" in html_body(note)
    assert "ann@example.com" not in text  # the replier's address is never shown


@pytest.mark.asyncio
async def test_no_notification_about_ones_own_comment(daemon: Running) -> None:
    first = await post_comment(daemon, body="First", notify=True)
    await approve(daemon, await moderation_email(daemon, "Ann", 1))
    await post_comment(daemon, parent=first, author="Ann", body="Adding to myself")
    # Mails so far: Ann's confirmation, two moderation requests.
    second = [m for m in await wait_for_mail(outbox_dir(daemon), 3) if "Adding" in text_body(m)]
    assert len(second) == 1
    await approve(daemon, second[0])
    assert await notifications(daemon) == []


@pytest.mark.asyncio
async def test_no_notification_when_they_did_not_ask(daemon: Running) -> None:
    quiet = await post_comment(daemon, author="Quiet", email="quiet@example.com", notify=False)
    await approve(daemon, await moderation_email(daemon, "Quiet", 1))
    await post_comment(daemon, parent=quiet, author="Bob", email="bob@example.com")
    await approve(daemon, await moderation_email(daemon, "Bob", 2))
    assert await notifications(daemon) == []


@pytest.mark.asyncio
async def test_approving_twice_notifies_once(daemon: Running) -> None:
    await reply_notification(daemon)  # approves Ann's comment once already
    mod = await moderation_email(daemon, "Ann", 1)
    await approve(daemon, mod)
    await approve(daemon, mod)
    assert await notifications(daemon) == ["reader002.4a549d@example.org"]

    async def count(conn: aiosqlite.Connection) -> int:
        async with conn.execute("SELECT count(*) FROM outbox") as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    assert await daemon.store.read(count) == 2


@pytest.mark.asyncio
async def test_operator_templates_override_one_file(tmp_path: Path) -> None:
    override = tmp_path / "my-templates" / "email"
    override.mkdir(parents=True)
    (override / "reply_notification.subject.j2").write_text(
        "{{ comment.author }} answered you on {{ site_name }}\n"
    )
    settings = make_settings(tmp_path, templates={"directory": str(tmp_path / "my-templates")})
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        note = await reply_notification(daemon)
        assert str(note["Subject"]) == "Ann answered you on Example Blog"
        assert "Ann's answer to Reader 002." in text_body(note)  # body: packaged template
