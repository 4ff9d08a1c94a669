"""What extraction cut from an emailed reply is kept with the comment and shown to the
moderator, after the buttons, escaped and capped; never in the published body. The
moderation email is read from the Maildir's bytes, its parts decoded here."""

from __future__ import annotations

import asyncio
import quopri
import re
import time

import aiosmtplib
import aiosqlite
import pytest
from flows import follow, outbox_dir, reply_notification
from support import moderation_links, parse, reply_to_notification

from mailbridge.app import Running

READER = "reader002.4a549d@example.org"
SIGNATURE = "Reader Two\nCounsellor, Leeds"
ELIDED_SECTION = b"What was cut from the email (not published)"


async def moderation_raw(daemon: Running, author: str) -> bytes:
    """The raw bytes of the moderation email about ``author``'s comment (bounded wait)."""
    folder = outbox_dir(daemon) / "new"
    deadline = time.monotonic() + 10
    while True:
        for path in sorted(folder.iterdir()):
            raw = path.read_bytes()
            if f"by {author} on".encode() in raw.split(b"\r\n\r\n", 1)[0]:
                return raw
        assert time.monotonic() < deadline, f"no moderation email about {author}"
        await asyncio.sleep(0.05)


def decoded_parts(raw: bytes) -> dict[str, str]:
    """Each text part of a multipart message, by subtype, decoded from the raw bytes."""
    head, body = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", head)
    boundary = re.search(rb'boundary="?([^";\r\n]+)"?', unfolded)
    assert boundary, head
    parts: dict[str, str] = {}
    for chunk in body.split(b"--" + boundary.group(1))[1:-1]:
        part_head, part_body = re.split(rb"\r?\n\r?\n", chunk.strip(b"\r\n"), maxsplit=1)
        kind = re.search(rb"Content-Type: text/(\w+)", part_head, re.IGNORECASE)
        assert kind, part_head
        assert b"quoted-printable" in part_head.lower()
        text = quopri.decodestring(part_body).decode("utf-8")
        parts[kind.group(1).decode()] = text.replace("\r\n", "\n")
    return parts


async def reply_with_quote_and_signature(daemon: Running, body: str) -> None:
    note = await reply_notification(daemon)
    reply = reply_to_notification(note, f"{body}\n\n-- \n{SIGNATURE}")
    host, port = daemon.smtp_address
    await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)


async def stored(daemon: Running) -> tuple[str, str]:
    async def work(conn: aiosqlite.Connection) -> tuple[str, str]:
        async with conn.execute("SELECT body, elided FROM comments WHERE source = 'email'") as cur:
            row = await cur.fetchone()
        assert row is not None
        return str(row[0]), str(row[1])

    return await daemon.store.read(work)


@pytest.mark.asyncio
async def test_what_was_cut_is_kept_and_shown_to_the_moderator_only(daemon: Running) -> None:
    await reply_with_quote_and_signature(daemon, "Thank you, Ann: that is what I meant.")
    raw = await moderation_raw(daemon, "Reader 002")

    body, elided = await stored(daemon)
    assert body == "Thank you, Ann: that is what I meant."
    assert "Counsellor, Leeds" in elided
    assert "Example Blog <comments@example.org> wrote:" in elided
    assert "> Ann's answer to Reader 002." in elided

    parts = decoded_parts(raw)
    text = parts["plain"]
    published = text.split("-" * 70)[1]
    assert "Thank you, Ann" in published and "Counsellor" not in published
    links_at = text.index("Spam:\n")
    section = text.index("What was cut from the email (not published):")
    assert section > links_at  # after the links, apart from the comment
    assert "Counsellor, Leeds" in text[section:]
    assert "> Ann's answer to Reader 002." in text[section:]

    html = parts["html"]
    buttons = html.index(">Spam</a>")
    cut = html.index("What was cut from the email (not published)")
    assert cut > buttons
    assert "Counsellor, Leeds" in html[cut:] and "Counsellor" not in html[:cut]
    # Escaped: the quote header's <address> is text, not markup.
    assert "Example Blog &lt;comments@example.org&gt; wrote:" in html[cut:]
    assert "<comments@example.org>" not in html

    # The confirm page (only moderators hold its link) folds it away too.
    status, page = await follow(daemon, moderation_links(parse(raw))["approve"])
    assert status == 200
    assert "<summary>What was cut from the email (not published)</summary>" in page
    assert "Counsellor, Leeds" in page


@pytest.mark.asyncio
async def test_a_long_cut_is_shown_capped_with_a_note(daemon: Running) -> None:
    note = await reply_notification(daemon)
    quoted = "\n".join(f"> old line {n:04d} of a long quoted thread" for n in range(400))
    reply = reply_to_notification(note, "Short answer, long quote.")
    reply.set_content(
        "Short answer, long quote.\n\nOn Tue, 24 Nov 2026 at 10:00, Ann wrote:\n" + quoted + "\n"
    )
    host, port = daemon.smtp_address
    await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)
    raw = await moderation_raw(daemon, "Reader 002")

    _body, elided = await stored(daemon)
    assert "old line 0399" in elided  # kept whole (well under the storage cap)
    for part in decoded_parts(raw).values():
        assert "old line 0000" in part and "old line 0399" not in part
        assert re.search(r"and \d+ more characters, not shown here", part)
    assert len(raw) < 30_000
