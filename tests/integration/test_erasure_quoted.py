"""An erasure reaches the emails sent to OTHER people that showed the erased person's
name and words: a notification carrying their comment (alone or in a digest), a
moderation digest listing it. Their bytes, kept for smtp.reply_token_days, are
deleted; a reply to such a notification is still filed, under the right comment, with
the quote cut. Checked on the raw database and on `mailbridge outbox ID --body`."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner
from deferring_relay import relay_running
from flows import (
    approve,
    batched_daemon,
    delivered,
    follow,
    moderation_email,
    notification_for,
    outbox_dir,
    post_comment,
    reply_notification,
    window_closes,
)
from support import (
    AUTHOR_EMAIL,
    FakeClock,
    db_rows,
    local_http,
    moderation_links,
    parse,
    reply_address,
    reply_to_notification,
    smtp_send,
    started,
    text_body,
    until,
)

from mailbridge.app import Running
from mailbridge.cli import cli
from mailbridge.housekeeping import Housekeeping
from mailbridge.workers.tasks import build_email

READER = "reader002.4a549d@example.org"
ANN = "ann@example.com"
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


async def mb(daemon: Running, *args: str, env: dict[str, str] | None = None) -> Any:
    data = ["--data-dir", str(daemon.settings.data_path)]
    return await asyncio.to_thread(CliRunner().invoke, cli, [*args, *data], None, env)


async def stored_with(daemon: Running, words: str) -> list[int]:
    """The outbox rows whose stored bytes hold ``words``, read raw."""
    rows = await db_rows(daemon, "SELECT outbox_id, message FROM outbox_messages")
    return sorted(int(i) for i, raw in rows if words.encode() in bytes(raw))


async def erase(daemon: Running, email: str, mode: str = "anonymise") -> None:
    env = {"MAILBRIDGE_PRIVACY_ERASED_COMMENTS": mode}
    done = await mb(daemon, "person", "erase", email, "--yes", env=env)
    assert done.exit_code == 0, done.output


@pytest.mark.asyncio
async def test_a_notification_to_another_loses_the_erased_words_and_a_reply_is_still_filed(
    daemon: Running,
) -> None:
    note = await reply_notification(daemon)  # Ann answered Reader 002, who was told
    await delivered(daemon)
    [(note_id,)] = await db_rows(
        daemon, "SELECT id FROM outbox WHERE kind = 'reply_notification' AND rcpt_to = ?", READER
    )
    [(ann_comment,)] = await db_rows(
        daemon, "SELECT id FROM comments WHERE body = ?", "Ann's answer to Reader 002."
    )
    # The scan finds it (and the moderation email about it, deleted as it always was).
    assert note_id in await stored_with(daemon, "Ann's answer")
    assert "Ann's answer" in (await mb(daemon, "outbox", str(note_id), "--body")).output

    await erase(daemon, ANN)

    assert await stored_with(daemon, "Ann's answer") == []
    shown = (await mb(daemon, "outbox", str(note_id), "--body")).output
    assert "Ann's answer" not in shown and "Ann via" not in shown
    [(status, rcpt)] = await db_rows(
        daemon, "SELECT status, rcpt_to FROM outbox WHERE id = ?", note_id
    )
    assert (status, rcpt) == ("sent", READER)  # the row stays: what was sent, to whom

    # Reader 002 answers the notification in their mailbox: filed under Ann's (now a
    # former commenter's) comment, what they quoted cut by the generic rules.
    reply = reply_to_notification(note, "Thank you, whoever you were.")
    answer = await smtp_send(daemon, READER, reply_address(note), reply.as_bytes())
    assert answer.startswith("250"), answer
    filed = await until(
        "the reply is filed",
        lambda: db_rows(
            daemon,
            "SELECT parent_id, body, status FROM comments WHERE body LIKE 'Thank you, whoever%'",
        ),
    )
    assert filed == [(ann_comment, "Thank you, whoever you were.", "pending")]
    # Their copy of the notification, quoted and cut, named Ann ("Ann replied to your
    # comment"), as its To did ("Ann via ..."): neither is kept, nor shown to the
    # moderator in the reply's moderation email.
    [(elided,)] = await db_rows(
        daemon, "SELECT elided FROM comments WHERE body LIKE 'Thank you, whoever%'"
    )
    assert elided == ""
    [(inbound_id, headers)] = await db_rows(
        daemon, "SELECT id, headers FROM inbound_messages WHERE comment_id IS NOT NULL"
    )
    assert headers is None and await db_rows(daemon, "SELECT inbound_id FROM inbound_raw") == []
    assert "Ann" not in (await mb(daemon, "inbound", str(inbound_id))).output
    moderation = await moderation_email(daemon, "Reader 002", 3)
    assert "Ann replied" not in text_body(moderation) and "Ann via" not in text_body(moderation)


@pytest.mark.asyncio
async def test_a_digest_sent_hours_ago_that_carried_them_loses_their_words(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with batched_daemon(tmp_path, clock) as daemon:
        # Two answers to Reader 002 in one batch window make one digest, filed under
        # the newer (Bea's): Ann's is found only by what the digest carried.
        for author, email in (("Ann", ANN), ("Bea", "bea@example.com")):
            await post_comment(daemon, parent=2, author=author, email=email,
                               body=f"{author}'s words for the digest.")  # fmt: skip
            await approve(daemon, await moderation_email(daemon, author))
        assert await window_closes(daemon, clock) == 1
        digest = await notification_for(daemon, READER, 3)
        assert "Ann's words" in text_body(digest) and "Bea's words" in text_body(digest)
        [(digest_id,)] = await db_rows(daemon, "SELECT id FROM outbox WHERE kind = 'digest'")
        # Hours of housekeeping pass (within smtp.reply_token_days): the bytes stay.
        for _ in range(3):
            clock.advance(3600)
            await daemon.store.write(Housekeeping(daemon.store, clock, 30, sent_days=90).work)
        assert digest_id in await stored_with(daemon, "Ann's words")

        await erase(daemon, ANN)

        assert await stored_with(daemon, "Ann's words") == []
        shown = (await mb(daemon, "outbox", str(digest_id), "--body")).output
        assert "Ann's words" not in shown and "Bea's words" not in shown


@pytest.mark.asyncio
async def test_a_moderation_digest_sent_before_the_erasure_loses_their_name_and_words(
    tmp_path: Path,
) -> None:
    moderation = {"mode": "digest", "digest_minutes": 0.02}  # every 1.2 s, for the test
    async with started(tmp_path, moderation=moderation) as daemon:
        await post_comment(daemon, parent=2, author="Ann Erased", body="Ann's pending words.")

        async def sent_digest() -> list[Any]:
            return await db_rows(
                daemon, "SELECT id FROM outbox WHERE kind = 'moderation_digest' "
                "AND status = 'sent'",
            )  # fmt: skip

        [(digest_id,)] = await until("the moderation digest is sent", sent_digest)
        assert await stored_with(daemon, "Ann's pending words") == [digest_id]
        assert await stored_with(daemon, "Ann Erased") == [digest_id]

        await erase(daemon, ANN)

        assert await stored_with(daemon, "Ann's pending words") == []
        assert await stored_with(daemon, "Ann Erased") == []
        shown = (await mb(daemon, "outbox", str(digest_id), "--body")).output
        assert "Ann" not in shown


@pytest.mark.asyncio
async def test_a_reply_to_them_keeps_its_words_but_not_the_quote_naming_them(
    daemon: Running,
) -> None:
    note = await reply_notification(daemon)
    reply = reply_to_notification(note, "Reader 002's own words stay.")
    answer = await smtp_send(daemon, READER, reply_address(note), reply.as_bytes())
    assert answer.startswith("250"), answer
    moderation = await moderation_email(daemon, "Reader 002", 3)
    [(inbound_id, reply_id)] = await db_rows(
        daemon, "SELECT id, comment_id FROM inbound_messages WHERE comment_id IS NOT NULL"
    )
    [(elided,)] = await db_rows(daemon, "SELECT elided FROM comments WHERE id = ?", reply_id)
    assert "Ann replied" in elided  # the quoted notification, cut
    assert "Ann via" in (await mb(daemon, "inbound", str(inbound_id))).output  # its To
    _status, page = await follow(daemon, moderation_links(moderation)["approve"])
    assert "Ann replied" in page

    await erase(daemon, ANN)

    assert await db_rows(daemon, "SELECT body, elided FROM comments WHERE id = ?", reply_id) == [
        ("Reader 002's own words stay.", "")
    ]
    assert await db_rows(daemon, "SELECT raw FROM inbound_raw") == []
    [(headers,)] = await db_rows(
        daemon, "SELECT headers FROM inbound_messages WHERE id = ?", inbound_id
    )
    assert headers is None
    shown = (await mb(daemon, "inbound", str(inbound_id))).output
    assert "Ann" not in shown and "accepted" in shown
    _status, page = await follow(daemon, moderation_links(moderation)["approve"])
    assert "Ann replied" not in page and "Ann via" not in page


@pytest.mark.asyncio
async def test_webhook_events_about_them_lose_their_name_and_words(tmp_path: Path) -> None:
    async def endpoint(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(status=400 if b"refused" in body else 204)

    async with local_http("/hooks", endpoint) as base:
        hook = {"url": f"{base}/hooks", "secret": SECRET, "events": ["comment.created"]}
        fast = {"retry_base_seconds": 0.2, "retry_max_seconds": 0.4}
        async with started(tmp_path, webhooks=[hook], outbound=fast) as daemon:
            for body in ("Ann's event, posted.", "Ann's event, refused."):
                await post_comment(daemon, parent=2, body=body)

            async def settled() -> list[Any]:
                rows = await db_rows(
                    daemon, "SELECT id, status FROM outbox WHERE kind = 'webhook' ORDER BY id"
                )
                return rows if [s for _i, s in rows] == ["sent", "failed"] else []

            [(sent_id, _s), (failed_id, _f)] = await until("both events settled", settled)
            assert {sent_id, failed_id} <= set(await stored_with(daemon, "Ann's event"))

            await erase(daemon, ANN)

            assert await stored_with(daemon, "Ann's event") == []
            [(status, note)] = await db_rows(
                daemon, "SELECT status, last_error FROM outbox WHERE id = ?", failed_id
            )
            assert status == "withdrawn" and "was erased" in note and "dead letter" in note
            for row_id in (sent_id, failed_id):
                shown = (await mb(daemon, "outbox", str(row_id), "--body")).output
                assert "Ann" not in shown


@pytest.mark.asyncio
async def test_a_deferred_moderation_email_quoting_them_is_withdrawn_and_listed_afresh(
    tmp_path: Path,
) -> None:
    with relay_running() as (relay, port):
        async with started(
            tmp_path,
            outbound={"transport": f"smtp://127.0.0.1:{port}"},
            moderation={"digest_minutes": 0.02},  # every 1.2 s, for the test
        ) as daemon:
            await post_comment(daemon, parent=2, body="Ann's quoted words.")

            async def about_ann() -> Any:
                return relay.moderation_email_about("Ann")

            await follow(
                daemon, moderation_links(await until("Ann's", about_ann))["approve"], "POST"
            )

            async def told() -> Any:
                return relay.to(READER)

            [raw] = await until("Reader 002 is told", told)
            note = parse(raw)
            # The moderator's relay defers what comes next: the moderation email about
            # Reader 002's answer, which quotes Ann ("It answers Ann, who wrote:").
            relay.defer.add(AUTHOR_EMAIL)
            reply = reply_to_notification(note, "Reader 002's answer to Ann.")
            answer = await smtp_send(daemon, READER, reply_address(note), reply.as_bytes())
            assert answer.startswith("250"), answer

            async def deferred() -> list[Any]:
                return await db_rows(
                    daemon,
                    "SELECT o.id FROM outbox o JOIN comments c ON c.id = o.comment_id "
                    "WHERE o.kind = 'moderation_request' AND c.body = ? AND o.status = 'queued' "
                    "AND o.attempts >= 1",
                    "Reader 002's answer to Ann.",
                )

            [(row_id,)] = await until("the moderation email deferred", deferred)
            assert row_id in await stored_with(daemon, "Ann's quoted words")

            before = len(relay.to(AUTHOR_EMAIL))
            await erase(daemon, ANN)

            assert await stored_with(daemon, "Ann's quoted words") == []
            [(status, why)] = await db_rows(
                daemon, "SELECT status, last_error FROM outbox WHERE id = ?", row_id
            )
            assert status == "withdrawn" and "erased" in why, why
            relay.defer.clear()
            daemon.worker.wake()

            async def digest() -> Any:
                for raw in relay.to(AUTHOR_EMAIL):
                    if b"moderation-digest" in raw:
                        return raw
                return None

            # The moderator still hears of the answer, from the next digest, as it is now.
            listed = text_body(parse(await until("the digest", digest)))
            assert "Reader 002's answer to Ann." in listed and "Ann's quoted" not in listed
            assert not any(b"Ann's quoted" in raw for raw in relay.to(AUTHOR_EMAIL)[before:])


@pytest.mark.asyncio
async def test_a_reply_to_a_comment_removed_at_its_writers_request_is_refused(
    tmp_path: Path,
) -> None:
    async with started(tmp_path, privacy={"erased_comments": "remove"}) as daemon:
        note = await reply_notification(daemon)
        await erase(daemon, ANN, "remove")
        # Reader 002 answers the notification still in their mailbox, quoting the words
        # taken off the page: refused during the session, with why, and nothing kept.
        reply = reply_to_notification(note, "Are you still there?")
        answer = await smtp_send_refused(daemon, reply_address(note), reply.as_bytes())
        assert answer.startswith("550 5.1.1") and "erased at its writer's request" in answer
        assert await db_rows(daemon, "SELECT id FROM comments WHERE body LIKE 'Are you%'") == []
        assert await db_rows(daemon, "SELECT inbound_id FROM inbound_raw") == []


async def smtp_send_refused(daemon: Running, rcpt: str, data: bytes) -> str:
    """What the daemon answers at RCPT (aiosmtplib raises on a refusal): "code message"."""
    import aiosmtplib

    host, port = daemon.smtp_address
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) as client:
        await client.mail(READER)
        try:
            await client.rcpt(rcpt)
        except aiosmtplib.SMTPRecipientRefused as refused:
            return f"{refused.code} {refused.message}"
        answer = await client.data(data)
    return f"{answer.code} {answer.message}"


async def queued_behind_relay(daemon: Running, kind: str, words: str) -> int:
    """The id of the ``kind`` row the moderator's relay deferred, its bytes holding
    ``words``."""

    async def deferred() -> list[Any]:
        rows = await db_rows(
            daemon,
            "SELECT id FROM outbox WHERE kind = ? AND status = 'queued' AND attempts >= 1",
            kind,
        )
        return [i for (i,) in rows if i in await stored_with(daemon, words)]

    [row_id] = await until(f"the {kind} deferred", deferred)
    return int(row_id)


async def next_to_moderator(relay: Any, daemon: Running, marker: bytes, before: int) -> bytes:
    relay.defer.clear()
    daemon.worker.wake()

    async def arrived() -> bytes | None:
        found = [raw for raw in relay.to(AUTHOR_EMAIL)[before:] if marker in raw]
        return found[0] if found else None

    return bytes(await until("the next one", arrived))


@pytest.mark.asyncio
async def test_a_queued_moderation_digest_listing_them_is_withdrawn_and_the_rest_listed_again(
    tmp_path: Path,
) -> None:
    with relay_running() as (relay, port):
        relay.defer.add(AUTHOR_EMAIL)  # the moderator's server is greylisting
        async with started(
            tmp_path,
            outbound={"transport": f"smtp://127.0.0.1:{port}"},
            moderation={"mode": "digest", "digest_minutes": 0.02},  # every 1.2 s
        ) as daemon:
            await post_comment(daemon, parent=2, author="Ann Erased", body="Ann's pending words.")
            await post_comment(daemon, parent=2, author="Bea", email="bea@example.com",
                               body="Bea's pending words.")  # fmt: skip
            row_id = await queued_behind_relay(daemon, "moderation_digest", "Bea's pending")
            assert row_id in await stored_with(daemon, "Ann Erased")
            before = len(relay.to(AUTHOR_EMAIL))

            await erase(daemon, ANN)

            [(status, why)] = await db_rows(
                daemon, "SELECT status, last_error FROM outbox WHERE id = ?", row_id
            )
            assert status == "withdrawn" and "erased" in why, why
            assert await stored_with(daemon, "Ann Erased") == []
            # The moderator still hears of both, from the next digest, as they are now.
            raw = await next_to_moderator(relay, daemon, b"moderation-digest", before)
            assert b"Bea's pending words." in raw and b"a former commenter" in raw
            assert not any(b"Ann Erased" in r for r in relay.to(AUTHOR_EMAIL))

            async def sent() -> list[Any]:
                return await db_rows(
                    daemon, "SELECT id FROM outbox WHERE kind = 'moderation_digest' "
                    "AND status = 'sent'",
                )  # fmt: skip

            await until("the next digest marked sent", sent)
            assert await db_rows(daemon, "SELECT count(*) FROM outbox_listed") != [(0,)]
            # What a digest listed is kept only until nothing can recall it.
            await Housekeeping(daemon.store, FakeClock(), 30, sent_days=90).run_once()
            assert await db_rows(daemon, "SELECT count(*) FROM outbox_listed") == [(0,)]


@pytest.mark.asyncio
async def test_a_queued_spam_report_listing_them_is_withdrawn_and_the_rest_reported_again(
    tmp_path: Path,
) -> None:
    spammy = "Check out my channel!!! http://spam.example/watch subscribe please"
    with relay_running() as (relay, port):
        relay.defer.add(AUTHOR_EMAIL)
        async with started(
            tmp_path,
            outbound={"transport": f"smtp://127.0.0.1:{port}"},
            spam={"report_hours": 0.0004},  # every 1.4 s
            privacy={"erased_comments": "remove"},
        ) as daemon:
            await post_comment(daemon, author="Ann Erased", body=f"Ann's caught words. {spammy}")
            await post_comment(daemon, author="Robot", email="robot@example.net", body=spammy)
            row_id = await queued_behind_relay(daemon, "spam_report", "Ann's caught words")
            before = len(relay.to(AUTHOR_EMAIL))

            await erase(daemon, ANN, "remove")

            [(status,)] = await db_rows(daemon, "SELECT status FROM outbox WHERE id = ?", row_id)
            assert status == "withdrawn"
            assert await stored_with(daemon, "Ann's caught") == []
            raw = await next_to_moderator(relay, daemon, b"spam-report", before)
            assert b"Robot on" in raw
            assert not any(b"Ann" in r for r in relay.to(AUTHOR_EMAIL))


@pytest.mark.asyncio
async def test_their_pending_comment_whose_moderation_email_was_queued_is_listed_again(
    tmp_path: Path,
) -> None:
    with relay_running() as (relay, port):
        relay.defer.add(AUTHOR_EMAIL)
        async with started(
            tmp_path,
            outbound={"transport": f"smtp://127.0.0.1:{port}"},
            moderation={"digest_minutes": 0.02},  # every 1.2 s
        ) as daemon:
            await post_comment(daemon, parent=2, author="Ann Erased", body="Ann's waiting words.")
            row_id = await queued_behind_relay(daemon, "moderation_request", "Ann Erased")

            await erase(daemon, ANN)

            # Its moderation email, showing her address, is deleted; the moderator still
            # hears of the comment, by "a former commenter", from the next digest.
            assert await db_rows(daemon, "SELECT id FROM outbox WHERE id = ?", row_id) == []
            raw = await next_to_moderator(relay, daemon, b"moderation-digest", 0)
            assert b"Ann's waiting words." in raw and b"a former commenter" in raw
            assert not any(b"Ann Erased" in r or ANN.encode() in r for r in relay.to(AUTHOR_EMAIL))


@pytest.mark.asyncio
async def test_a_moderation_email_being_built_as_they_are_erased_is_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A moderation email is built on another core after its comment commits. An
    erasure that commits meanwhile left the email built with their name and address
    to be queued and sent: it is not; the next digest lists the comment as it is now."""
    async with started(tmp_path, moderation={"digest_minutes": 0.02}) as daemon:
        building, erased = asyncio.Event(), asyncio.Event()
        run = daemon.pool.run

        async def held(task: Any, *args: Any) -> Any:
            if task is build_email:
                building.set()
                await erased.wait()
            return await run(task, *args)

        monkeypatch.setattr(daemon.pool, "run", held)
        await post_comment(daemon, parent=2, author="Ann Erased", body="Ann's held words.")
        await asyncio.wait_for(building.wait(), 10)
        await erase(daemon, ANN)
        erased.set()

        async def built() -> bool:
            left = await db_rows(daemon, "SELECT count(*) FROM moderation_mail_queue")
            return left == [(0,)]

        await until("the mailer done with it", built)
        await delivered(daemon)
        for path in (outbox_dir(daemon) / "new").glob("*"):
            assert b"Ann Erased" not in path.read_bytes() and ANN.encode() not in path.read_bytes()

        def digest() -> bytes | None:
            for path in sorted((outbox_dir(daemon) / "new").glob("*")):
                if b"moderation-digest" in (raw := path.read_bytes()):
                    return raw
            return None

        raw = await until("the next digest", lambda: asyncio.to_thread(digest))
        assert b"Ann's held words." in raw and b"a former commenter" in raw
        assert b"Ann Erased" not in raw and ANN.encode() not in raw
