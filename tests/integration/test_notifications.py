"""Who gets a reply notification, and what it looks like."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest
from flows import (
    approve,
    moderation_email,
    notification_for,
    outbox_dir,
    post_comment,
    reply_notification,
)
from support import (
    html_body,
    import_seed,
    is_notification,
    make_settings,
    no_dmarc_zone,
    parse,
    read_maildir,
    text_body,
    wait_for_mail,
)
from wire import field, unfold

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


HOSTILE_BODY = (
    "From what I read, the study says otherwise; here is why I think so.\n"
    ".\n"
    "..\n"
    + "abcdefghij" * 120  # one line of 1,200 characters without a space
    + "\n"
    + "<script>alert(1)</script> <b onclick=x>bold</b> **strong** and the rest of my answer, "
    "which goes on for a few more words so that it reads like a comment.\n"
)  # fmt: skip


@pytest.mark.asyncio
async def test_a_hostile_body_arrives_in_short_lines_that_no_hop_rewrites(daemon: Running) -> None:
    """What a receiver reads in the Maildir, byte for byte: no body line an SMTP hop
    (".") or an mbox delivery ("From ") would rewrite, every line short, CRLF only; the
    text as written once decoded, and no markup from the comment in the HTML part."""
    # The Reply-To as on the wire: no "@" but the one in the reply address.
    await post_comment(daemon, parent=2, author="Bank CEO", body=HOSTILE_BODY)
    moderation = await moderation_email(daemon, "Bank CEO", 1)
    # The web refuses a name that is an address; an imported or bridged one can be.
    await daemon.store.write(
        lambda c: c.execute("UPDATE comments SET author = 'ceo@bank.com' WHERE author = 'Bank CEO'")
    )
    await approve(daemon, moderation)
    note = await notification_for(daemon, "reader002.4a549d@example.org", 2)
    # A name that is an address does not pass for one where the reply goes.
    assert note["Reply-To"].addresses[0].display_name == "ceo at bank.com via Example Blog"
    folder = outbox_dir(daemon) / "new"
    raws = [path.read_bytes() for path in sorted(folder.iterdir())]
    assert len(raws) == 2  # the moderation email and the notification
    for raw in raws:
        body = raw.partition(b"\r\n\r\n")[2]
        lines = body.split(b"\r\n")
        assert b"\n" not in body.replace(b"\r\n", b"") and b"\r" not in body.replace(b"\r\n", b"")
        assert all(len(line) <= 76 for line in lines)
        assert not any(line.startswith(b"From ") or line == b"." for line in lines)
        msg = parse(raw)
        assert HOSTILE_BODY in text_body(msg).replace("\r\n", "\n")
        html = html_body(msg)
        assert "<script" not in html and "<b onclick" not in html  # shown, not run
        assert "<strong>strong</strong>" in html
    [wire] = [raw for raw in raws if b"\r\nList-Unsubscribe:" in raw]
    reply_to = unfold(field(wire, "Reply-To"))
    assert reply_to.startswith(' "ceo at bank.com via Example Blog" <reply+'), reply_to


@pytest.mark.asyncio
async def test_a_comment_posted_with_someones_address_does_not_rename_them(
    daemon: Running,
) -> None:
    """Anyone may post with anyone's address: that comment's name, unpublished, neither
    heads the address's notifications (To) nor signs its emailed replies."""
    await post_comment(
        daemon,
        email="reader002.4a549d@example.org",
        author="Your bank: call 555 0100",
        body="A comment in the reader's name.",
    )
    await post_comment(daemon, parent=2, body="Ann's answer to Reader 002.")
    await approve(daemon, await moderation_email(daemon, "Ann"))
    for _ in range(200):  # bounded: 10 s
        notes = [p.read_bytes() for p in (outbox_dir(daemon) / "new").iterdir()]
        notes = [raw for raw in notes if b"\r\nList-Unsubscribe:" in raw]
        if notes:
            break
        await asyncio.sleep(0.05)
    [wire] = notes
    assert unfold(field(wire, "To")) == " Reader 002 <reader002.4a549d@example.org>"
