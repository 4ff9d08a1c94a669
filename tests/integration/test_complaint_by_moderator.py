"""A moderator's spam complaint and the mail their role needs, against the running
daemon: the blog's author (the seed thread's moderator) marks a moderation email as
spam, or complains, as a commenter, about another email; the next comment's
moderation email still reaches them. The complaints come as Mailgun's signed
``complained`` events naming our Message-ID (test_mail_events.py shows each service's)."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest
from flows import moderation_email, post_comment
from integration.test_mail_events import MAILGUN_KEY, mailgun_event, mailgun_failed, post
from support import AUTHOR_EMAIL, db_rows, read_maildir, started


def complained(message_id: str) -> dict[str, object]:
    """Mailgun's ``complained`` event about ``message_id``, sent to the author."""
    return mailgun_event({**mailgun_failed(message_id, AUTHOR_EMAIL), "event": "complained"})


async def author_state(daemon: object) -> tuple[object, ...]:
    [row] = await db_rows(
        daemon, "SELECT hard_bounces, suppressed_reason FROM addresses WHERE email = ?",
        AUTHOR_EMAIL,
    )  # fmt: skip
    return tuple(row)


@pytest.mark.asyncio
async def test_a_moderation_email_marked_as_spam_stops_no_moderation_mail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbridge")
    async with started(tmp_path, inbound_webhooks={"mailgun_signing_key": MAILGUN_KEY}) as daemon:
        await post_comment(daemon, author="Ann", email="ann@example.com", body="Ann's.")
        first = await moderation_email(daemon, "Ann")
        assert first["To"].addresses[0].addr_spec == AUTHOR_EMAIL
        status, body = await post(
            daemon, "/inbound/mailgun/events", json=complained(str(first["Message-ID"]))
        )
        assert status == 200 and body["outcomes"][0] == {
            "event": body["outcomes"][0]["event"], "kind": "complaint", "outcome": "moderator",
        }  # fmt: skip
        assert await author_state(daemon) == (0, None)  # not suppressed
        assert await db_rows(daemon, "SELECT kind FROM mail_events") == [("complaint",)]
        warned = [r for r in caplog.records if "marked as spam by its moderator" in r.message]
        assert warned and warned[0].levelno == logging.WARNING
        assert AUTHOR_EMAIL not in caplog.text  # masked, as every event line

        await post_comment(daemon, author="Bea", email="bea@example.com", body="Bea's.")
        second = await moderation_email(daemon, "Bea", 2)
        assert second["To"].addresses[0].addr_spec == AUTHOR_EMAIL


@pytest.mark.asyncio
async def test_a_moderator_who_complained_as_a_commenter_still_gets_moderation_mail(
    tmp_path: Path,
) -> None:
    async with started(tmp_path, inbound_webhooks={"mailgun_signing_key": MAILGUN_KEY}) as daemon:
        # The author comments on their own post, asking to be told of answers: the
        # confirmation email is a commenter's mail, not a moderator's.
        await post_comment(daemon, author="Author", email=AUTHOR_EMAIL, notify=True, body="Me.")
        confirm = None
        for _ in range(200):  # bounded: 10 s
            confirm = next(
                (m for m in read_maildir(daemon.settings.data_path / "outbox")
                 if "Confirm" in str(m["Subject"])), None,
            )  # fmt: skip
            if confirm is not None:
                break
            await asyncio.sleep(0.05)
        assert confirm is not None and confirm["To"].addresses[0].addr_spec == AUTHOR_EMAIL
        status, body = await post(
            daemon, "/inbound/mailgun/events", json=complained(str(confirm["Message-ID"]))
        )
        assert (status, body["outcomes"][0]["outcome"]) == (200, "suppressed")
        assert await author_state(daemon) == (0, "complaint")

        await post_comment(daemon, author="Bea", email="bea@example.com", body="Bea's.")
        mail = await moderation_email(daemon, "Bea")
        assert mail["To"].addresses[0].addr_spec == AUTHOR_EMAIL
        failed = await db_rows(
            daemon, "SELECT kind, last_error FROM outbox WHERE status = 'failed'"
        )
        assert not [row for row in failed if re.match(r"moderation", str(row[0]))], failed
