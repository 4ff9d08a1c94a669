"""A moderator's decision taken back takes back the notifications still in the outbox
(docs/subscriptions.md, "Batching"): with the window at 0, or a relay that deferred
them, the commenter was sent the words of a comment no longer on the page. So does an
erasure, for the name and words of the person erased (docs/privacy.md). What the relay
receives is read from its wire bytes."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from deferring_relay import relay_running
from flows import delivered, follow, post_comment
from scraping import samples, scrape
from support import (
    FakeClock,
    db_rows,
    import_seed,
    make_settings,
    moderation_links,
    no_dmarc_zone,
    until,
)

from mailbridge.app import Running, running
from mailbridge.cli import cli

READER = "reader002.4a549d@example.org"  # seed comment 2's author: imported, wants replies
WORDS = "My number is in the next line, please take this down."


@contextlib.asynccontextmanager
async def behind_relay(
    tmp_path: Path, port: int, clock: FakeClock, window: int = 0, erased: str = "anonymise"
) -> AsyncIterator[Running]:
    """Notifications sent through the relay, at once (``window`` 0) or batched."""
    settings = make_settings(
        tmp_path,
        outbound={"transport": f"smtp://127.0.0.1:{port}"},
        notifications={"batch_window_seconds": window},
        privacy={"erased_comments": erased},
    )
    await import_seed(settings)
    async with running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon:
        yield daemon


async def press(daemon: Running, link: str) -> str:
    status, page = await follow(daemon, link, "POST")
    assert status == 200, page
    return page


def unfolded(raw: bytes) -> bytes:
    return re.sub(rb"=\r?\n", b"", raw)


async def notification_rows(daemon: Running) -> list[tuple[Any, ...]]:
    return await db_rows(
        daemon,
        "SELECT status, attempts FROM outbox WHERE rcpt_to = ? AND kind = 'reply_notification' "
        "ORDER BY id",
        READER,
    )


async def withdrawn_bodies_gone(daemon: Running, words: bytes) -> None:
    """The withdrawn notification as the operator reads it, and the bytes of every email
    in the database not sent (a sent one was read by its reader already): ``words`` in
    none."""
    stored = await db_rows(
        daemon,
        "SELECT m.message FROM outbox_messages m JOIN outbox o ON o.id = m.outbox_id "
        "WHERE o.status != 'sent'",
    )
    assert not [m for (m,) in stored if words in unfolded(bytes(m))]
    [(row_id,)] = await db_rows(daemon, "SELECT id FROM outbox WHERE status = 'withdrawn'")
    args = ["outbox", str(row_id), "--body", "--data-dir", str(daemon.settings.data_path)]
    shown = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert shown.exit_code == 0, shown.output
    assert "its bytes are no longer kept" in shown.output


async def retries_come(daemon: Running, clock: FakeClock) -> None:
    """The first retry's time comes (its backoff is 30 s ± 25 %; less than a lease, 60 s,
    so that nothing in flight looks abandoned): everything deferred is tried again, and
    the outbox drains."""
    clock.advance(45)
    await daemon.digester.run_once()  # what waits again, due now
    daemon.worker.wake()
    await delivered(daemon)


@pytest.mark.asyncio
async def test_an_undone_approval_withdraws_the_notification_the_relay_deferred(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    with relay_running() as (relay, port):
        relay.defer.add(READER)
        async with behind_relay(tmp_path, port, clock) as daemon:
            await post_comment(daemon, parent=2, body=WORDS)

            async def moderation() -> Any:
                return relay.moderation_email_about("Ann")

            async def deferred() -> bool:
                return await notification_rows(daemon) == [("queued", 1)]

            async def sent() -> list[bytes]:
                return relay.to(READER)

            links = moderation_links(await until("the moderation email", moderation))
            page = await press(daemon, links["approve"])
            undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
            assert undo is not None
            # The relay deferred the notification: it waits in the outbox for a retry.
            await until("the notification deferred", deferred)

            assert "Undone" in await press(daemon, undo.group(1))
            relay.defer.clear()
            await retries_come(daemon, clock)
            assert relay.to(READER) == []  # never on the wire
            assert await notification_rows(daemon) == [("withdrawn", 1)]

            # Published again: told once, composed afresh.
            await press(daemon, links["approve"])
            await until("the notification sent", sent)
            await retries_come(daemon, clock)
            [told] = relay.to(READER)
            assert WORDS.encode() in unfolded(told)
            statuses = [status for status, _attempts in await notification_rows(daemon)]
            assert statuses == ["withdrawn", "sent"]


@pytest.mark.asyncio
async def test_a_queued_digest_is_withdrawn_and_its_other_comment_sent_alone(
    tmp_path: Path,
) -> None:
    """Two answers to one reader make one digest when the window closes; the relay
    defers it; one answer's approval is undone: the digest quoting it is not sent, and
    the other answer goes out on its own."""
    clock = FakeClock()
    kept, undone = "An answer that stays on the page.", "An answer taken back."
    with relay_running() as (relay, port):
        relay.defer.add(READER)
        async with behind_relay(tmp_path, port, clock, window=600) as daemon:
            await post_comment(daemon, parent=2, body=kept)
            await post_comment(daemon, parent=2, author="Bea", email="bea@example.net", body=undone)

            async def moderation(author: str) -> Any:
                async def found() -> Any:
                    return relay.moderation_email_about(author)

                return moderation_links(await until(f"{author}'s moderation email", found))

            await press(daemon, (await moderation("Ann"))["approve"])
            page = await press(daemon, (await moderation("Bea"))["approve"])
            undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
            assert undo is not None
            clock.advance(601)
            assert await daemon.digester.run_once() == 1
            daemon.worker.wake()

            async def deferred() -> bool:
                rows = await db_rows(
                    daemon, "SELECT kind, status, attempts FROM outbox WHERE rcpt_to = ?", READER
                )
                return rows == [("digest", "queued", 1)]

            await until("the digest deferred", deferred)

            assert "Undone" in await press(daemon, undo.group(1))
            relay.defer.clear()
            await daemon.digester.run_once()
            await retries_come(daemon, clock)
            kinds = await db_rows(
                daemon, "SELECT kind, status FROM outbox WHERE rcpt_to = ? ORDER BY id", READER
            )
            assert kinds == [("digest", "withdrawn"), ("reply_notification", "sent")]
            [told] = relay.to(READER)
            assert kept.encode() in unfolded(told)
            assert undone.encode() not in unfolded(told)


@pytest.mark.asyncio
@pytest.mark.parametrize("erased", ["anonymise", "remove"])
async def test_an_erasure_withdraws_the_queued_notification_of_their_comment(
    tmp_path: Path, erased: str
) -> None:
    """Bea's answer to the reader is approved; the relay defers its notification; Bea
    has her data erased: what reaches the reader is not her name (nor, removed, her
    words), as the page shows them now."""
    clock = FakeClock()
    name, words = "Beatrix Quayle-Smythe", "An answer whose writer asks to be forgotten."
    with relay_running() as (relay, port):
        relay.defer.add(READER)
        async with behind_relay(tmp_path, port, clock, erased=erased) as daemon:
            await post_comment(daemon, parent=2, author=name, email="bea@example.net", body=words)

            async def moderation() -> Any:
                return relay.moderation_email_about(name)

            async def deferred() -> bool:
                return await notification_rows(daemon) == [("queued", 1)]

            await press(daemon, moderation_links(await until("moderation", moderation))["approve"])
            await until("the notification deferred", deferred)

            data_dir = str(daemon.settings.data_path)
            args = ["person", "erase", "bea@example.net", "--yes", "--data-dir", data_dir]
            env = {"MAILBRIDGE_PRIVACY_ERASED_COMMENTS": erased}  # as the daemon's
            result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
            assert result.exit_code == 0, result.output
            relay.defer.clear()
            await retries_come(daemon, clock)
            told = b"".join(unfolded(raw) for raw in relay.to(READER))
            assert name.encode() not in told and b"Quayle" not in told
            if erased == "remove":
                assert told == b""
            else:
                assert words.encode() in told and b"a former commenter" in told
            # Nor is it kept: the withdrawn email's bytes held her name and words for
            # good (`mailbridge outbox ID --body` printed them), housekeeping forgetting only
            # the sent ones'.
            [(withdrawn,)] = await db_rows(
                daemon, "SELECT id FROM outbox WHERE status = 'withdrawn' AND rcpt_to = ?", READER
            )
            kept = [
                bytes(m) for (m,) in await db_rows(daemon, "SELECT message FROM outbox_messages")
            ]
            assert not [m for m in kept if b"Quayle" in unfolded(m)]
            shown = await asyncio.to_thread(
                CliRunner().invoke,
                cli,
                ["outbox", str(withdrawn), "--body", "--data-dir", data_dir],
            )
            assert shown.exit_code == 0, shown.output
            assert "Quayle" not in shown.output and "withdrawn" in shown.output
            await withdrawn_bodies_gone(daemon, b"Quayle")


@pytest.mark.asyncio
async def test_an_edit_recomposes_the_queued_notification_with_the_new_text(
    tmp_path: Path,
) -> None:
    """The author approves Ann's answer, then takes a detail out of its text through
    the admin API while the relay defers its notification: the reader gets the text
    as edited, not as first written."""
    clock = FakeClock()
    first, edited = "Ask for me at the Red Lion most evenings.", "Ask for me here."
    with relay_running() as (relay, port):
        relay.defer.add(READER)
        async with behind_relay(tmp_path, port, clock) as daemon:
            cid = await post_comment(daemon, parent=2, body=first)

            async def moderation() -> Any:
                return relay.moderation_email_about("Ann")

            async def deferred() -> bool:
                return await notification_rows(daemon) == [("queued", 1)]

            await press(daemon, moderation_links(await until("moderation", moderation))["approve"])
            await until("the notification deferred", deferred)

            data_dir = str(daemon.settings.data_path)
            args = ["token", "create", "--name", "editor", "--data-dir", data_dir]
            made = await asyncio.to_thread(CliRunner().invoke, cli, args)
            assert made.exit_code == 0, made.output
            found = re.search(r"^(mbt_\S+)$", made.output, re.M)
            assert found is not None
            host, http_port = daemon.http_address
            async with (
                aiohttp.ClientSession() as session,
                session.patch(
                    f"http://{host}:{http_port}/api/admin/comments/{cid}",
                    json={"body": edited},
                    headers={"Authorization": f"Bearer {found.group(1)}"},
                ) as resp,
            ):
                assert resp.status == 200, await resp.text()
            relay.defer.clear()
            await retries_come(daemon, clock)
            [told] = relay.to(READER)
            assert edited.encode() in unfolded(told)
            # Nor is the detail kept in the withdrawn email, never to be sent: the
            # operator's `mailbridge outbox ID --body` showed it, and so did every backup.
            await withdrawn_bodies_gone(daemon, b"Red Lion")
            assert b"Red Lion" not in told


@pytest.mark.asyncio
async def test_a_dead_letter_withdrawn_stays_counted_as_failed(tmp_path: Path) -> None:
    """mailbridge_deliveries_total{result="failed"} is a counter (docs/metrics.md): the
    notification the relay refused for good, withdrawn by an Undo, left the count, so
    it went down, Prometheus read a reset, and the documented dead-letter alert on its
    increase fired for every dead letter still counted."""
    clock = FakeClock()
    failed = (("result", "failed"),)
    with relay_running() as (relay, port):
        relay.refuse.add(READER)
        async with behind_relay(tmp_path, port, clock) as daemon:
            await post_comment(daemon, parent=2, body=WORDS)

            async def moderation() -> Any:
                return relay.moderation_email_about("Ann")

            async def dead() -> bool:
                return await notification_rows(daemon) == [("failed", 1)]

            page = await press(
                daemon, moderation_links(await until("moderation", moderation))["approve"]
            )
            await until("the notification refused for good", dead)
            _status, _type, text = await scrape(daemon)
            assert samples(text)["mailbridge_deliveries_total"][failed] == 1

            undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
            assert undo is not None
            assert "Undone" in await press(daemon, undo.group(1))
            assert await notification_rows(daemon) == [("withdrawn", 1)]
            _status, _type, text = await scrape(daemon)
            assert samples(text)["mailbridge_deliveries_total"][failed] == 1
