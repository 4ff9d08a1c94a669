"""The WordPress bridge against a real WordPress (issue 12): Debian's 6.1 with a
private MariaDB on loopback, the sample thread created in it through the REST API.

One story, as a site owner lives it: the bridge mirrors the existing thread without
emailing anyone; a comment approved in WordPress notifies, by email, the person it
answers; that person's emailed reply appears in wp-admin as held, under the right
parent, with their name and address; a restart in the middle repeats nothing;
approving from mailbridge's moderation email approves it in WordPress, and approving
in wp-admin is seen by mailbridge, each notifying once; an edit in WordPress is
followed; a comment deleted in WordPress leaves the page and is never created again.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flows import approve, moderation_email, outbox_dir, post_comment
from support import (
    AUTHOR_EMAIL,
    SEED_JSON,
    db_rows,
    make_settings,
    no_dmarc_zone,
    read_maildir,
    reply_address,
    reply_to_notification,
    smtp_send,
    until,
)
from wordpress_site import Admin, Site

from mailbridge.app import Running, running
from mailbridge.clock import iso
from mailbridge.settings import Settings

APPROVED = "SELECT count(*) FROM comments WHERE status = 'approved'"
SEEDED = 25  # comments of the sample thread created in WordPress (a few levels deep)


def raw_mails(daemon: Running) -> list[bytes]:
    return [p.read_bytes() for p in sorted((outbox_dir(daemon) / "new").iterdir())]


def notifications_to(daemon: Running, address: str) -> list[Any]:
    return [
        m
        for m in read_maildir(outbox_dir(daemon))
        if m["To"].addresses[0].addr_spec == address and str(m["Reply-To"] or "").count("reply+")
    ]


async def seed_site(admin: Admin, slug: str) -> tuple[int, dict[int, int]]:
    """The sample post and its first comments, created as WordPress would hold them."""
    post = await admin.post(slug, "Attachment Theory and the Healing Psychotherapy Relationship")
    seed = json.loads(SEED_JSON.read_text())["comments"][:SEEDED]
    ids: dict[int, int] = {}
    for item in seed:
        made = await admin.comment(
            post=post["id"], parent=ids.get(item["parent"] or 0, 0),
            author_name=item["author"], author_email=item["email"],
            content=item["body"], date_gmt=item["created"][:19], status="approved",
        )  # fmt: skip
        ids[item["id"]] = made["id"]
    return int(post["id"]), ids


def bridge_settings(tmp_path: Path, site: Site, slug: str) -> Settings:
    return make_settings(
        tmp_path,
        wordpress={
            "site_url": site.url, "user": site.user, "app_password": site.app_password,
            "posts": [slug], "poll_seconds": 0.3, "full_sync_minutes": 0.05,
            "requests_per_second": 50.0,
        },
        moderation={"moderators": [AUTHOR_EMAIL]},
    )  # fmt: skip


@pytest.mark.asyncio
async def test_a_wordpress_site_bridged_both_ways(tmp_path: Path, wordpress_site: Site) -> None:
    admin = Admin(wordpress_site)
    slug = "attachment-" + secrets.token_hex(4)
    post_id, wp_ids = await seed_site(admin, slug)
    settings = bridge_settings(tmp_path, wordpress_site, slug)
    parent_seed = 4  # Reader 004's comment, three levels deep
    reader4 = "reader004.172b02@example.org"

    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        # 1. The first sync mirrors the thread, parents kept, and emails nobody.
        await until(
            "the first sync",
            lambda: _count(daemon, APPROVED, SEEDED),
        )
        pairs = await db_rows(
            daemon,
            "SELECT w.wp_id, pw.wp_id FROM comments c JOIN wp_comments w ON w.comment_id = c.id "
            "LEFT JOIN wp_comments pw ON pw.comment_id = c.parent_id",
        )
        assert sorted(pairs) == sorted(
            (wp_ids[s["id"]], wp_ids[s["parent"]] if s["parent"] else None)
            for s in json.loads(SEED_JSON.read_text())["comments"][:SEEDED]
        )
        assert not (outbox_dir(daemon) / "new").exists() or raw_mails(daemon) == []

        # 2. Bo answers Reader 004 on the WordPress site; it is approved there.
        bo = await admin.comment(
            post=post_id, parent=wp_ids[parent_seed], author_name="Bo",
            author_email="bo@example.net", content="Reader 004, <em>exactly</em> my thought.",
            status="approved",
        )  # fmt: skip
        notes = await until("Reader 004's notification", _later(notifications_to, daemon, reader4))
        assert len(notes) == 1
        raw = next(r for r in raw_mails(daemon) if reader4.encode() in r.split(b"\r\n\r\n")[0])
        assert b"exactly" in raw and b"my thought" in raw

        # 3. Reader 004 answers by email: held in WordPress, under Bo's comment.
        answer = reply_to_notification(
            notes[0], "Thank you, Bo. I never knew anyone read it.",
            message_id="<r4-1@client.example>",
        )  # fmt: skip
        code = await smtp_send(daemon, reader4, reply_address(notes[0]), answer.as_bytes())
        assert code.startswith("250"), code
        held = await until("the reply held in wp-admin", lambda: _held(admin, post_id))
        assert len(held) == 1
        assert held[0]["parent"] == bo["id"]
        assert held[0]["author_name"] == "Reader 004"
        assert held[0]["author_email"] == reader4
        assert "I never knew anyone read it." in held[0]["content"]["raw"]
        assert "wrote:" not in held[0]["content"]["raw"]  # the quote was cut first
        moderation = await moderation_email(daemon, "Reader 004")

    # 4. A restart in the middle: nothing is created twice, on either side.
    before = await admin.comments(post_id)
    restarted = iso(datetime.now(UTC))
    await asyncio.sleep(1.1)  # last_ok_at is to the second
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        await until(
            "a poll after the restart",
            lambda: _count(daemon, "SELECT count(*) FROM wp_state WHERE key = 'last_ok_at' "
                           "AND value > ?", 1, restarted),
        )  # fmt: skip
        await asyncio.sleep(1.0)
        assert len(await admin.comments(post_id)) == len(before) == SEEDED + 2
        assert await _count(daemon, "SELECT count(*) FROM comments", SEEDED + 2)

        # 5. Approving from the moderation email approves it in WordPress; Bo is
        # told once, and stays told once.
        await approve(daemon, moderation)
        await until("approved in WordPress", lambda: _status(admin, held[0]["id"], "approved"))
        await until("Bo's notification", _later(notifications_to, daemon, "bo@example.net"))
        await asyncio.sleep(1.5)  # several polls, a full sync among them
        assert len(notifications_to(daemon, "bo@example.net")) == 1

        # 6. Bo answers by email in turn; this time the owner approves in wp-admin.
        to_bo = notifications_to(daemon, "bo@example.net")[0]
        answer = reply_to_notification(
            to_bo, "Glad it helped. Take care.", message_id="<bo-1@client.example>"
        )
        code = await smtp_send(daemon, "bo@example.net", reply_address(to_bo), answer.as_bytes())
        assert code.startswith("250"), code
        second = (await until("Bo's reply held", lambda: _held(admin, post_id)))[0]
        assert second["parent"] == held[0]["id"]
        await admin.call("POST", f"/comments/{second['id']}", {"status": "approved"})
        await until(
            "the wp-admin approval seen",
            lambda: _count(daemon, "SELECT count(*) FROM comments c JOIN wp_comments w ON "
                           "w.comment_id = c.id WHERE w.wp_id = ? AND c.status = 'approved'", 1,
                           second["id"]),
        )  # fmt: skip
        await until("Reader 004's second notification", _notified(daemon, reader4, 2))
        await asyncio.sleep(1.5)
        assert len(notifications_to(daemon, reader4)) == 2
        decided = await db_rows(
            daemon,
            "SELECT d.channel FROM moderation_decisions d JOIN wp_comments w "
            "ON w.comment_id = d.comment_id WHERE w.wp_id = ?",
            second["id"],
        )
        assert decided == [("wordpress",)]

        # 7. An edit in WordPress is followed here.
        await admin.call("POST", f"/comments/{bo['id']}", {"content": "Reader 004: so true."})
        await until(
            "the edit followed",
            lambda: _count(daemon, "SELECT count(*) FROM comments c JOIN wp_comments w ON "
                           "w.comment_id = c.id WHERE w.wp_id = ? AND c.body = ?",
                           1, bo["id"], "Reader 004: so true."),
        )  # fmt: skip

        # 8. Deleted for good in WordPress: off the page here, and never created again,
        # even when a moderator publishes it here once more.
        await admin.call("DELETE", f"/comments/{second['id']}", force="true")
        (local_id,) = (
            await db_rows(
                daemon, "SELECT comment_id FROM wp_comments WHERE wp_id = ?", second["id"]
            )
        )[0]
        await until(
            "the deletion followed",
            lambda: _count(daemon, "SELECT count(*) FROM comments WHERE id = ? AND "
                           "status = 'rejected'", 1, local_id),
        )  # fmt: skip
        from mailbridge.models import Channel, Decider
        from mailbridge.tokens import Action

        await daemon.service.moderate(local_id, Action.APPROVE, Decider(Channel.CLI, None))
        await asyncio.sleep(1.5)
        assert len(await admin.comments(post_id)) == SEEDED + 2  # 25 + Bo + Reader 004's

        # 9. A comment deleted in mailbridge is trashed in WordPress (recoverable there).
        di = await post_comment(
            daemon, slug, author="Di", email="di@example.com", body="A passing thought."
        )

        async def di_there() -> dict[str, Any] | None:
            found = [c for c in await admin.comments(post_id) if c["author_name"] == "Di"]
            return found[0] if len(found) == 1 and found[0]["status"] == "hold" else None

        di_wp = await until("Di's comment held there", di_there)
        assert await daemon.service.delete(di)
        await until("trashed in WordPress", lambda: _status(admin, di_wp["id"], "trash"))


async def _count(daemon: Running, sql: str, wanted: int, *args: Any) -> bool:
    found = await db_rows(daemon, sql, *args)
    return bool(found) and found[0][0] == wanted


async def _held(admin: Admin, post_id: int) -> list[dict[str, Any]]:
    return [c for c in await admin.comments(post_id) if c["status"] == "hold"]


async def _status(admin: Admin, wp_id: int, status: str) -> bool:
    return bool((await admin.call("GET", f"/comments/{wp_id}", context="edit"))["status"] == status)


def _later(find: Callable[..., list[Any]], *args: Any) -> Callable[[], Awaitable[list[Any]]]:
    async def check() -> list[Any]:
        return find(*args)

    return check


def _notified(daemon: Running, address: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(notifications_to(daemon, address)) >= count

    return check
