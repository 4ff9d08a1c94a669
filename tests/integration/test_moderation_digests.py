"""Digests instead of floods (issue 10): by setting, one email per pending comment, a
digest every N minutes with one-tap links per comment, or the digest once more than N
are pending. Real daemon with its own digest clock, real Maildir."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiosqlite
import pytest
from flows import follow, moderation_email, outbox_dir, post_comment
from support import (
    db_value,
    html_body,
    make_settings,
    no_dmarc_zone,
    parse,
    read_maildir,
    started,
    text_body,
    until,
)

from mailbridge.app import Running, running
from mailbridge.store import comments, moderation_queue


def per_comment(daemon: Running) -> list[str]:
    return [
        str(m["Subject"])
        for m in read_maildir(outbox_dir(daemon))
        if "awaits moderation" in str(m["Subject"])
        and "new comment" in str(m["Subject"])
        and "Approve (publish it):" in text_body(m)
    ]


async def digests(daemon: Running, seconds: float = 10.0) -> list[str]:
    for _ in range(int(seconds / 0.1)):  # bounded wait for the digest clock
        found = [
            text_body(m)
            for m in read_maildir(outbox_dir(daemon))
            if "await" in str(m["Subject"]) and "Approve: http" in text_body(m)
        ]
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


@pytest.mark.asyncio
async def test_digest_mode_sends_one_email_with_links_per_comment(tmp_path: Path) -> None:
    moderation = {"mode": "digest", "digest_minutes": 0.02}  # every 1.2 s, for the test
    async with started(tmp_path, moderation=moderation) as daemon:
        ids = [
            await post_comment(daemon, parent=2, body=f"Comment {n} for the digest.")
            for n in range(3)
        ]
        [digest] = await digests(daemon)
        assert per_comment(daemon) == []
        assert "3 new comments await moderation." in digest
        assert all(f"Comment {n} for the digest." in digest for n in range(3))
        # A digest has no reply address of its own (its Reply-To would be one comment's):
        # a moderator used to answering "approve" is told, in both parts, as sent.
        [raw] = [
            p.read_bytes()
            for p in (outbox_dir(daemon) / "new").iterdir()
            if b"moderation-digest" in p.read_bytes()
        ]
        assert (
            re.sub(rb"\r?\n", b" ", re.sub(rb"=\r?\n", b"", raw)).count(
                b"Replying to this email changes nothing"
            )
            == 2
        )
        first_approve = digest.split("Approve: ")[1].split()[0]
        status, _ = await follow(daemon, first_approve, "POST")
        assert status == 200
        await asyncio.sleep(1.5)  # another digest tick: nothing new, no second digest
        assert len(await digests(daemon)) == 1
        assert len(ids) == 3


@pytest.mark.asyncio
async def test_auto_mode_switches_to_digests_past_the_limit(tmp_path: Path) -> None:
    moderation = {"mode": "auto", "digest_minutes": 0.02, "digest_when_pending_over": 2}
    async with started(tmp_path, moderation=moderation) as daemon:
        for n in range(4):
            await post_comment(daemon, parent=2, body=f"Auto mode comment {n}.")
        await asyncio.sleep(0.3)
        # The first two arrived while few were pending: one email each.
        [digest] = await digests(daemon)
        assert "2 new comments await moderation." in digest
        assert "Auto mode comment 2." in digest and "Auto mode comment 3." in digest
        assert "Auto mode comment 0." not in digest
        found = singles(daemon)
        assert len(found) == 2 and "Auto mode comment 0." in found[0] + found[1]


@pytest.mark.sqlite_only("counts statements with SQLite's trace callback")
@pytest.mark.asyncio
async def test_a_comment_left_for_the_digest_does_not_wake_the_moderation_mailer(
    tmp_path: Path,
) -> None:
    # In a flood (auto mode past its limit) every comment woke the mailer, which then
    # read an empty queue: three statements and a trip to a database thread each.
    moderation = {"mode": "auto", "digest_minutes": 60, "digest_when_pending_over": 1}
    seen: list[str] = []
    async with started(tmp_path, moderation=moderation) as daemon:
        await post_comment(daemon, parent=2, body="The one emailed alone.")
        await until("its moderation email", lambda: _async(len(singles(daemon)) == 1))
        await daemon.store.trace(seen.append)
        try:
            for n in range(3):
                await post_comment(daemon, parent=2, body=f"Left for the digest, {n}.")
                await asyncio.sleep(0.2)  # time for a woken mailer to read
        finally:
            await daemon.store.trace(None)
        assert len(singles(daemon)) == 1
    assert any("INSERT INTO comments" in s for s in seen), "the trace saw the comments"
    assert [s for s in seen if "FROM moderation_mail_queue" in s] == []


async def _async(value: bool) -> bool:
    return value


def singles(daemon: Running) -> list[str]:
    """The moderation emails about one comment each (not digests)."""
    bodies = [text_body(m) for m in read_maildir(outbox_dir(daemon))]
    return [b for b in bodies if "Approve (publish it):" in b]


@pytest.mark.asyncio
async def test_each_mode_sends_no_digest(tmp_path: Path) -> None:
    # Not the default since "auto" became it: asked for by name.
    moderation = {"mode": "each", "digest_minutes": 0.02, "digest_when_pending_over": 1}
    async with started(tmp_path, moderation=moderation) as daemon:
        for n in range(3):
            await post_comment(daemon, parent=2, body=f"One email for me, {n}.")
        # Past two digest ticks (1.2 s each): "auto" with this limit sends one by now.
        assert await digests(daemon, seconds=3.0) == []
        assert len(singles(daemon)) == 3


@pytest.mark.asyncio
async def test_a_comment_whose_email_is_being_built_is_left_out_of_the_digest(
    tmp_path: Path,
) -> None:
    # In "auto" mode the first comments get emails of their own, built after their
    # commit; a digest that ran meanwhile listed them too (the moderator heard twice).
    async with started(tmp_path) as daemon:

        async def digest_lists(conn: aiosqlite.Connection) -> tuple[list[int], list[int]]:
            await conn.execute(
                "UPDATE comments SET status = 'pending', moderation_mailed_at = NULL WHERE id = 5"
            )
            await moderation_queue.add(conn, 5, None, "2026-12-05T10:00:00+00:00")
            building = [c.id for c in await comments.not_yet_mailed(conn)]
            await conn.execute("DELETE FROM moderation_mail_queue WHERE comment_id = 5")
            return building, [c.id for c in await comments.not_yet_mailed(conn)]

        # One unit of work: the daemon's mailer cannot take the row in between.
        building, left = await daemon.store.write(digest_lists)
    assert 5 not in building
    assert 5 in left  # its row gone without an email (decided, say): the digest has it


def _raw_digests(daemon: Running) -> list[bytes]:
    """The digests in the Maildir, as written, oldest first (Maildir names sort by time)."""
    folder = outbox_dir(daemon) / "new"
    found = [p.read_bytes() for p in sorted(folder.iterdir())] if folder.is_dir() else []
    return [raw for raw in found if b"moderation-digest" in raw]


def _html_part(raw: bytes) -> bytes:
    """The HTML part as it is on the wire (quoted-printable), as Gmail measures it."""
    start = raw.index(b"Content-Type: text/html")
    end = raw.index(b"\r\n--", start)
    return raw[start:end]


async def _pending_flood(daemon: Running, count: int, body: str) -> None:
    """``count`` pending comments nobody was emailed about, as a flood leaves them."""

    async def flood(conn: aiosqlite.Connection) -> None:
        await conn.executemany(
            "INSERT INTO comments (thread_id, parent_id, author, body, status, source, "
            "created_at) SELECT thread_id, id, 'Flood ' || ?, ?, 'pending', 'web', "
            "'2026-12-05T10:00:00+00:00' FROM comments WHERE id = 2",
            [(n, f"{body} {n}") for n in range(count)],
        )

    await daemon.store.write(flood)


@pytest.mark.asyncio
@pytest.mark.parametrize("body", ["A short comment.", "Ein längerer Kommentar. " * 800])
async def test_a_flood_digest_stays_under_gmails_clip_and_counts_the_rest(
    tmp_path: Path, body: str
) -> None:
    # 2,000 pending: a digest of 200 full comments was several hundred KB; Gmail shows
    # the first 102 KB and hides the rest (the queue link, the count) behind a link.
    moderation = {"mode": "digest", "digest_minutes": 0.02}
    async with started(tmp_path, moderation=moderation) as daemon:
        await _pending_flood(daemon, 2000, body)

        async def two() -> list[bytes]:
            found = _raw_digests(daemon)
            return found[:2] if len(found) >= 2 else []

        first, second = await until("two digests", two)
        listed = []
        for raw in (first, second):
            assert len(_html_part(raw)) < 102_000
            digest = parse(raw)
            text = text_body(digest)
            listed.append(re.findall(r"^Flood (\d+) on", text, re.MULTILINE))
            assert 1 <= len(listed[-1]) == text.count("Approve: http")
        count = len(listed[0])
        more = f"{2000 - count:,} more"
        digest = parse(first)
        assert more in str(digest["Subject"])
        assert more in text_body(digest) and more in html_body(digest)
        assert "/moderate" in html_body(digest).split(more)[1][:400]
        # The rest are not lost: the next digest lists the next ones.
        assert listed[1][0] == str(count) and not set(listed[0]) & set(listed[1])


@pytest.mark.asyncio
async def test_comments_left_for_a_digest_are_still_told_after_switching_to_each(
    tmp_path: Path,
) -> None:
    # The author tried digests, went back to one email each and restarted: the comment
    # that was waiting for the next digest was never emailed to anyone (mode "each"
    # ran no digest), and only the queue page showed it.
    async with started(tmp_path, moderation={"mode": "digest"}) as daemon:
        waiting = await post_comment(daemon, parent=2, body="Left for the digest.")
    each = make_settings(tmp_path, moderation={"mode": "each", "digest_minutes": 0.02})
    async with running(each, resolver=no_dmarc_zone()) as daemon:

        async def hour_passed(conn: aiosqlite.Connection) -> None:
            await conn.execute("UPDATE periodic_jobs SET due_at = 0")

        await daemon.store.write(hour_passed)
        new = await post_comment(daemon, parent=2, body="Written after the switch.")
        await moderation_email(daemon, "Ann")  # the new one: an email of its own
        [digest] = await digests(daemon)
        assert "Left for the digest." in digest
        assert "Written after the switch." not in digest
        assert (
            await db_value(
                daemon,
                "SELECT count(*) FROM comments WHERE id IN (?, ?) AND moderation_mailed_at IS NULL",
                waiting,
                new,
            )
            == 0
        )


@pytest.mark.asyncio
async def test_a_comment_nobody_moderated_waits_for_the_first_moderator(
    tmp_path: Path,
) -> None:
    # A thread with no author and no moderation.moderators: the digest marked its
    # comments as told, emailing nobody, so the moderator the operator then added
    # (warned by the log) never heard of them. Waiting, they must not crowd out the
    # comments of threads that have a moderator (the digest reads 200 at a time).
    moderation = {"mode": "digest", "digest_minutes": 0.02}
    async with started(tmp_path, moderation=moderation) as daemon:

        async def second_post(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO threads (key, title, url, author, author_address_id, created_at) "
                "SELECT 'second-post', 'Second post', url, author, author_address_id, "
                "created_at FROM threads WHERE id = 1"
            )
            await conn.execute("UPDATE threads SET author_address_id = NULL WHERE id = 1")

        await daemon.store.write(second_post)
        await _pending_flood(daemon, 250, "Nobody moderates me yet.")
        await post_comment(daemon, "second-post", body="The author moderates me.")
        [digest] = await digests(daemon)
        assert "The author moderates me." in digest and "Nobody moderates" not in digest
    added = make_settings(tmp_path, moderation={**moderation, "moderators": ["sam@example.org"]})
    async with running(added, resolver=no_dmarc_zone()) as daemon:

        async def sams() -> list[str]:
            return [
                text_body(m)
                for m in read_maildir(outbox_dir(daemon))
                if m["To"].addresses[0].addr_spec == "sam@example.org"
            ]

        [digest] = await until("Sam's digest", sams)
        assert "Nobody moderates me yet. 0\n" in digest
