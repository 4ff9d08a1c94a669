"""What an emailed reply reads, counted (issue 14): its reply address is verified once,
at RCPT, and DATA, in the same SMTP transaction, files the reply against that verified
target instead of reading and verifying it again; the hour's rate counts are taken in
the token's own read; the thread's script (for the spam score's language signal) is
worked out once per version of the thread, not once per reply.

The writer's address, stored already, is looked up without an INSERT that does nothing.
The filing transaction reads the parent once (its erasure check reuses it) and takes
the new comment from its INSERT (RETURNING), not from a SELECT after it. The writer's
address, standing and count of published comments are one statement, both when the
reply is scored and when its moderation email is drafted; that draft takes the id of
the moderator who wrote the thread from the thread, not from their address again, and
reads the new comment and the one it answers in one statement. At DATA, whether the
thread is closed, the writer's level and their name on the blog are one statement.

Statements are caught with a trace callback on the daemon's SQLite connections, until
both replies' moderation emails are queued (the mailer's reads counted too)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flows import reply_notification
from support import db_value, reply_to_notification, smtp_send, started, until

# As the trace shows them: with their parameters in place.
TOKEN_PERSON = re.compile(r"SELECT \* FROM addresses WHERE id = \d+$")  # address_state by id
THREAD_RATE = re.compile(r"FROM comments WHERE thread_id = \d+ AND created_at >= '")
LATEST_PUBLISHED = re.compile(r"thread_id = \d+ AND status = 'approved' ORDER BY id DESC LIMIT 20")
COMMENT_BY_ID = re.compile(r"^SELECT \* FROM comments WHERE id = \d+$")
WITH_PARENT = re.compile(r"^SELECT \* FROM comments WHERE id IN \(\d+, \(SELECT parent_id ")
ADDRESS_INSERT = re.compile(r"^INSERT INTO addresses ")
ADDRESS_BY_EMAIL = re.compile(r"^SELECT id FROM addresses WHERE email = ")
ALONE = re.compile(
    r"^SELECT trust FROM address_trust WHERE|^SELECT email FROM addresses WHERE"
    r"|^SELECT count\(\*\) FROM comments WHERE address_id"
)


@pytest.mark.sqlite_only("counts statements with SQLite's trace callback")
@pytest.mark.asyncio
async def test_a_reply_address_is_verified_once_per_reply(tmp_path: Path) -> None:
    seen: list[str] = []
    async with started(tmp_path) as daemon:
        notification = await reply_notification(daemon)
        sender = notification["To"].addresses[0].addr_spec
        reply_to = str(notification["Reply-To"])
        await daemon.store.trace(seen.append)
        try:
            for n in (1, 2):
                raw = reply_to_notification(
                    notification, f"Thank you, reply {n}.", message_id=f"<r{n}@client.example>"
                )
                answer = await smtp_send(daemon, sender, reply_to, raw.as_bytes())
                assert answer.startswith("250"), answer
            await until("both replies' moderation emails queued", lambda: mailed(daemon))
        finally:
            await daemon.store.trace(None)
    assert len(seen) > 20, "the trace saw the daemon's statements"
    flat = [" ".join(s.split()) for s in seen]
    assert sum(bool(TOKEN_PERSON.search(s)) for s in flat) == 2  # one per reply: at RCPT
    assert sum(bool(THREAD_RATE.search(s)) for s in flat) == 2
    # The second reply leaves the thread's published words (and version) unchanged.
    assert sum(bool(LATEST_PUBLISHED.search(s)) for s in flat) <= 1
    # Per reply: the target at RCPT, the parent when filing, and the moderation
    # mailer's comment again in its write (its read takes comment and parent at once).
    assert sum(bool(COMMENT_BY_ID.search(s)) for s in flat) == 2 * 3
    assert sum(bool(WITH_PARENT.search(s)) for s in flat) == 2
    assert not [s for s in flat if ADDRESS_INSERT.search(s)]  # the writer is stored
    # The writer by email when filed (scored: with standing and count). The moderator
    # is the thread's author, whose address id the draft has: not looked up again.
    assert sum(bool(ADDRESS_BY_EMAIL.search(s)) for s in flat) == 2 * 1
    # Neither the writer's standing nor count read alone; the only address read by id
    # alone is the thread's author's (its moderator), once per moderation email.
    assert [s for s in flat if ALONE.search(s)] == [
        s for s in flat if s.startswith("SELECT email FROM addresses WHERE id = ")
    ]
    assert sum(s.startswith("SELECT email FROM addresses WHERE id = ") for s in flat) == 2
    # The DATA read's thread, level and writer's name: one statement (reply_facts), so
    # the thread alone is read by the mailer only, the level alone by the filing write.
    assert sum(s.startswith("SELECT * FROM threads WHERE id = ") for s in flat) == 2 * 1
    assert sum(s.startswith("SELECT level FROM subscriptions WHERE") for s in flat) == 2 * 1
    assert not [s for s in flat if s.startswith("SELECT author FROM comments")]
    # Each write transaction's try for the lock restores the busy timeout it knows.
    assert "PRAGMA busy_timeout" not in flat


async def mailed(daemon: object) -> bool:
    count = await db_value(
        daemon,
        "SELECT count(*) FROM comments WHERE source = 'email' AND moderation_mailed_at IS NOT NULL",
    )
    return bool(count == 2)
