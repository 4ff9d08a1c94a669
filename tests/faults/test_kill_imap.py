"""kill -9 the daemon while it reads replies from a real Dovecot mailbox, right after it
committed one (between storing a reply and marking it done on the server: the window
the promise is about); start it again on the same data directory; then count.

`mailbridge serve` runs as a separate process (the console script, a real config file,
an [imap] section for the Dovecot of tests/dovecot_server.py). Each kill comes as soon
as one more comment is committed, while the relay in front of Dovecot holds the UID
STORE that would mark it done (HOLD): so each kill lands in that window. Afterwards
every message is done on the server (moved to the done mailbox), each is a comment
exactly once, and each kill left one filed but unmarked (read again, a duplicate).

The IMAP lead of a killed daemon would hold for 30 s (LEAD_SECONDS) before the next
start may read: the test lets it go between the kill and the start, as 30 s passing
would (what the lead does is tested in tests/jobs).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from delivery.sinks import WatchingSink, serving
from dovecot_server import Mailbox, Relay
from faults.test_kill_daemon import (
    _gone,
    descendants,
    message,
    reply_addresses,
    start,
    write_config,
)
from support import free_port, store_rows, until

from mailbridge.settings import Settings, load_settings
from mailbridge.store.opening import open_store

MESSAGES = 4
KILLS = 2
HOLD = 0.3  # seconds each UID STORE is held: the window, made wide enough to hit


@pytest.mark.asyncio
async def test_kill_9_between_filing_and_marking_files_each_reply_once(
    tmp_path: Path,
    dovecot: Mailbox,
) -> None:
    box = dovecot
    box.create("Filed")
    async with Relay(box, hold_stores=HOLD) as relay:
        with serving(WatchingSink()) as sink_port:
            smtp, http = free_port(), free_port()
            config = write_config(tmp_path, smtp, http, sink_port)
            with config.open("a") as f:
                f.write(
                    f'\n[imap]\nhost = "{box.host}"\nport = {relay.port}\ntls = false\n'
                    f'user = "{box.user}"\npassword = "{box.password}"\n'
                    f'done_mailbox = "Filed"\npoll_seconds = 120.0\n'
                )
            settings = load_settings(config, environ={})
            pairs = await reply_addresses(config)
            for n in range(MESSAGES):
                sender, rcpt = pairs[n % len(pairs)]
                box.append(message(n, sender, rcpt))

            async def filed() -> int:
                sql = "SELECT count(*) FROM comments WHERE body LIKE 'Reply number %'"
                return int((await store_rows(settings, sql))[0][0])

            daemon = await start(config, http)
            try:
                for _ in range(KILLS):
                    before = await filed()
                    await until("one more filed", lambda b=before: _more(filed, b), every=0.02)
                    workers = descendants(daemon.pid)
                    daemon.send_signal(signal.SIGKILL)
                    assert await daemon.wait() == -signal.SIGKILL
                    await until("its workers to end", lambda w=workers: _gone(w), seconds=10)
                    await _let_go_of_the_lead(settings)
                    daemon = await start(config, http)
                await until("all done", lambda: _true(box.count("Filed") == MESSAGES), seconds=30)
            finally:
                if daemon.returncode is None:
                    daemon.terminate()
                    await daemon.wait()
    assert box.count("INBOX") == 0
    bodies = await store_rows(
        settings, "SELECT body, count(*) FROM comments WHERE body LIKE 'Reply number %' "
        "GROUP BY body"
    )  # fmt: skip
    assert len(bodies) == MESSAGES, "every reply is a comment"
    assert all(count == 1 for _body, count in bodies), "and exactly one"
    again = await store_rows(settings, "SELECT count(*) FROM inbound_messages WHERE deliveries > 1")
    assert again == [(KILLS,)], "each kill came between filing one and marking it"


async def _let_go_of_the_lead(settings: Settings) -> None:
    store = await open_store(settings)
    try:
        await store.write(
            lambda c: c.execute("UPDATE periodic_jobs SET due_at = 0 WHERE name = 'imap'")
        )
    finally:
        await store.close()


async def _more(filed: object, before: int) -> bool:
    return bool(await filed() > before)  # type: ignore[operator]


async def _true(value: bool) -> bool:
    return value
