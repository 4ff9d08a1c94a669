"""The header bytes of mail the running daemon writes to its Maildir (issue 8, finding 1):
a public URL with a port on a long host, a thread title in several scripts, long
display names; read from the files as a receiver reads them, and DKIM-verified."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import idna
import pytest
from click.testing import CliRunner
from flows import approve, moderation_email, outbox_dir, post_comment, reply_notification
from support import THREAD, import_seed, make_settings, no_dmarc_zone, parse, started
from wire import encoded_words, field, fields, header_lines, mailbox, text, unfold

from mailbridge.app import running
from mailbridge.cli import cli
from mailbridge.outbound.dkim_keys import load_key
from mailbridge.outbound.dkimtool import dkim_record
from mailbridge.senderauth import StaticResolver
from mailbridge.senderauth.dkim import verify_dkim

HOST = "kommentare." + "b" * 45 + ".bücher-und-psychotherapie.example"
PORT = 18080
SITE = "Bücherblog Ünïcödé"
TITLE = (
    "Psychotherapeutenausbildungsfinanzierungsgesetz und Bindungstheorie: "
    "心理治疗与人际关系中的依恋理论 — روان‌درمانی و رابطهٔ درمانی 👨‍👩‍👧‍👦 🇩🇪"
)
PARENT = "Zoë Ångström-Øresund Müller-Lüdenscheidt von Hohenzollern-Sigmaringen"
AUTHOR = "Łukasz Żółć-Wężyk (Gast) “der Ältere” 😀"


def write_thread(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "post": {
                    "key": THREAD,
                    "title": TITLE,
                    "author": "Owner",
                    "email": "owner@example.org",
                },
                "comments": [
                    {
                        "id": 1,
                        "author": PARENT,
                        "email": "zoe@example.net",
                        "created": "2026-01-01T10:00:00+00:00",
                        "body": "The first comment.",
                    }
                ],
            },
            ensure_ascii=False,
        )
    )
    return path


def keygen(data: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["dkim", "keygen", "--domain", "example.org", "--selector", "mb", "--directory", str(data)],
    )
    assert result.exit_code == 0, result.output


async def files(folder: Path, count: int) -> list[bytes]:
    for _ in range(200):  # bounded: 10 s
        found = sorted((folder / "new").glob("*")) if (folder / "new").is_dir() else []
        if len(found) >= count:
            return [p.read_bytes() for p in found]
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} messages")


def check_every_line(raw: bytes) -> None:
    for line in header_lines(raw):
        assert len(line) <= 998, line
        if b"=?" in line:
            assert len(line) <= 76, line
    for name in ("Subject", "To", "Reply-To", "List-Id"):
        values = [v for n, v in fields(raw) if n == name]
        assert all(len(w) <= 75 for v in values for w in encoded_words(v)), name


@pytest.mark.asyncio
async def test_maildir_bytes_of_moderation_and_notification(tmp_path: Path) -> None:
    data = tmp_path / "var"
    await asyncio.to_thread(keygen, data)
    settings = make_settings(
        tmp_path,
        site={"public_url": f"https://{HOST}:{PORT}/", "name": SITE},
        dkim={"domain": "example.org", "selector": "mb", "private_key": "mb.example.org.private"},
    )
    await import_seed(settings, write_thread(tmp_path / "thread.json"))
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        await post_comment(daemon, parent=1, author=AUTHOR, body="An answer.")
        await approve(daemon, await moderation_email(daemon, AUTHOR, 1))
        raws = await files(outbox_dir(daemon), 2)
    moderation = next(r for r in raws if b"List-Unsubscribe" not in r)
    note = next(r for r in raws if b"List-Unsubscribe" in r)
    for raw in (moderation, note):
        raw = raw.split(b"\r\n", 2)[2]  # after the Maildir's Return-Path and Delivered-To
        check_every_line(raw)
        for header in ("Message-ID", "References", "Date"):
            assert "=?" not in field(raw, header)
    moderation, note = moderation.split(b"\r\n", 2)[2], note.split(b"\r\n", 2)[2]
    assert text(moderation, "Subject") == (
        f"[{SITE}] New comment by {AUTHOR} on “{TITLE}” awaits moderation"
    )
    assert mailbox(field(moderation, "To")) == ("", "owner@example.org")

    # The notification to the parent's author: one-click unsubscribe readable as is.
    idn = idna.encode("bücher-und-psychotherapie").decode()
    assert idn.startswith("xn--")
    ascii_host = "kommentare." + "b" * 45 + f".{idn}.example"
    for name in ("List-Unsubscribe", "List-Unsubscribe-Post", "In-Reply-To"):
        assert "=?" not in field(note, name), name
    # List-Id: only its description (the site's name, a phrase) may be encoded words.
    assert unfold(field(note, "List-Id")).endswith(" <b-cherblog-n-c-d.reply.example.org>")
    links = re.findall(r"<([^<>]+)>", unfold(field(note, "List-Unsubscribe")))
    assert links[0].startswith(f"https://{ascii_host}:{PORT}/unsubscribe/"), links
    assert links[1].startswith("mailto:unsubscribe+"), links
    physical = [line.decode() for line in header_lines(note)]
    assert all(any(f"<{link}>" in line for line in physical) for link in links)
    assert text(note, "Subject") == f"Re: {TITLE}"
    assert mailbox(field(note, "To")) == (PARENT, "zoe@example.net")
    name, reply = mailbox(field(note, "Reply-To"))
    assert name == f"{AUTHOR} via {SITE}" and reply.startswith("reply+")
    assert mailbox(unfold(field(note, "List-Id"))) == (SITE, "b-cherblog-n-c-d.reply.example.org")
    # The link in the body is the same ASCII one (the page it opens is the same).
    assert (
        f"https://{ascii_host}:{PORT}/threads/{THREAD}#comment-"
        in parse(note).get_body(("plain",)).get_content()
    )

    # Signed after every header was final, and still verifying as received.
    key = load_key(data / "mb.example.org.private", "example.org", "mb")
    record = dkim_record(key)
    resolver = StaticResolver({record.name: record.value}, otherwise="nxdomain")
    results = await verify_dkim(note, resolver)
    assert [(r.selector, r.result) for r in results] == [("mb", "pass")]


@pytest.mark.asyncio
async def test_maildir_list_unsubscribe_with_a_port_as_reported(tmp_path: Path) -> None:
    """The report: with public_url on port 18080, every notification's List-Unsubscribe
    was encoded words; the seed thread's title (70 characters) folded mid-subject."""
    async with started(
        tmp_path, site={"public_url": "https://comments.example-blog.org:18080"}
    ) as daemon:
        await reply_notification(daemon)
        raws = await files(outbox_dir(daemon), 2)
    note = next(r for r in raws if b"List-Unsubscribe" in r).split(b"\r\n", 2)[2]
    check_every_line(note)
    value = field(note, "List-Unsubscribe")
    assert "=?" not in value
    assert value.startswith(" <https://comments.example-blog.org:18080/unsubscribe/")
    assert text(note, "Subject") == (
        "Re: Attachment Theory and the Healing Psychotherapy Relationship"
    )
