"""kill -9 the whole daemon, again and again, while mail servers send it replies and its
worker delivers the emails those replies cause; then count.

`mailbridge serve` runs as a separate process (the console script, a real config file)
and is SIGKILLed at random moments, then started again on the same data directory.
Meanwhile senders behave as mail servers do: a message that got no answer, or a 4xx, is
sent again later with the same Message-ID; a message that got 250 is done. Afterwards:

- every message that got a 250 is a comment exactly once (nothing lost, nothing twice);
- every email the daemon queued (the moderation email each reply causes) reached the
  sink, and any email that arrived twice arrived with the same Message-ID (one that was
  in flight at a kill).

Bounded: MESSAGES replies, KILLS kills, and a deadline for the whole test. An email in
flight at a kill is sent again only once its lease has run out, as it must be while
another process could still hold it: `outbound.lease_seconds` is 10 s here (60 by
default), which is most of the test's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import aiosmtplib
import pytest
from delivery.sinks import WatchingSink, serving
from pg import database_for, store_option
from support import free_port, import_seed, store_rows, until

from mailbridge.instance_secret import load_or_create_secret
from mailbridge.settings import load_settings
from mailbridge.tokens import Keyring, make_reply_token

MESSAGES = 120
SENDERS = 6
KILLS = 4
DEADLINE = 150.0  # seconds for the whole run
MODERATOR = "editor@blog.example"
SEED = 7  # the kill moments are random, but the same in every run


def write_config(tmp_path: Path, smtp: int, http: int, sink: int) -> Path:
    config = tmp_path / "mailbridge.toml"
    # The suite's engine: under --store=postgresql the data directory's database.
    data_url = database_for(tmp_path / "var") if store_option() == "postgresql" else ""
    config.write_text(
        f"""\
data_dir = "{tmp_path / "var"}"
data_url = "{data_url}"

[smtp]
listen = "127.0.0.1:{smtp}"

[http]
listen = "127.0.0.1:{http}"

[outbound]
transport = "smtp://127.0.0.1:{sink}"
retry_base_seconds = 0.5
retry_max_seconds = 2
relay_idle_seconds = 0
lease_seconds = 10

[auth]
dns = "off"
when_dns_unavailable = "accept"

[moderation]
moderators = ["{MODERATOR}"]

[notifications]
batch_window_seconds = 0

[limits]
messages_per_sender_per_hour = 10000
comments_per_thread_per_hour = 10000
smtp_connections_per_ip = 100
"""
    )
    return config


async def reply_addresses(config: Path) -> list[tuple[str, str]]:
    """(sender, reply address) pairs as notifications would carry them: each seed
    comment that answers someone with an address, answered by that someone."""
    settings = load_settings(config, environ={})
    await import_seed(settings)
    keyring = Keyring.from_secret(load_or_create_secret(settings.secret_path))
    rows = await store_rows(
        settings,
        "SELECT a.id, a.email, c.id FROM comments c JOIN comments p ON p.id = c.parent_id "
        "JOIN addresses a ON a.id = p.address_id ORDER BY c.id",
    )
    expires = date.today() + timedelta(days=30)
    domain = settings.smtp.reply_domain
    return [
        (
            str(email),
            f"reply+{make_reply_token(keyring.reply, int(aid), int(cid), expires)}@{domain}",
        )
        for aid, email, cid in rows
    ]


def message(n: int, sender: str, rcpt: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {rcpt}\r\nSubject: Re: the post\r\n"
        f"Message-ID: <fault-{n}@client.example>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Reply number {n} written while the daemon was being killed.\r\n"
    ).encode()


class Senders:
    """Mail servers sending MESSAGES replies, each retried until it gets a 250."""

    def __init__(self, port: int, pairs: list[tuple[str, str]]) -> None:
        self.port = port
        self.todo = list(range(MESSAGES))
        self.pairs = pairs
        self.accepted: set[int] = set()
        self.attempts = Counter[int]()

    async def one(self, n: int) -> bool:
        sender, rcpt = self.pairs[n % len(self.pairs)]
        self.attempts[n] += 1
        try:
            async with aiosmtplib.SMTP(
                hostname="127.0.0.1", port=self.port, start_tls=False, timeout=5
            ) as client:
                await client.mail(sender)
                await client.rcpt(rcpt)
                answer = await client.data(message(n, sender, rcpt))
        except (aiosmtplib.SMTPException, OSError):
            return False  # no answer, or 4xx: a mail server queues it and tries again
        return answer.code == 250

    async def run(self) -> None:
        while self.todo:
            n = self.todo.pop(0)
            if await self.one(n):
                self.accepted.add(n)
            else:
                self.todo.append(n)
                await asyncio.sleep(0.2)


async def start(config: Path, http: int) -> asyncio.subprocess.Process:
    program = Path(sys.executable).with_name("mailbridge")
    daemon = await asyncio.create_subprocess_exec(
        str(program), "serve", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")},
    )  # fmt: skip

    async def healthy() -> bool:
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", http)
        except OSError:
            return False
        w.close()
        return True

    await until("the daemon listening", healthy, seconds=30)
    return daemon


async def counts(config: Path) -> tuple[Counter[str], dict[str, str]]:
    """Comments per reply text, and each outbox row's status by Message-ID."""
    settings = load_settings(config, environ={})
    bodies = await store_rows(
        settings, "SELECT body FROM comments WHERE body LIKE 'Reply number %'"
    )
    outbox = await store_rows(settings, "SELECT message_id, status FROM outbox")
    return Counter(str(b) for (b,) in bodies), {str(m): str(s) for m, s in outbox}


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (its worker processes are its fork server's children)."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
                parent[int(entry.name)] = int(stat[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    """Alive, and not just a zombie waiting to be reaped (by an init that may not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def _gone(pids: set[int]) -> bool:
    return not any(_running(pid) for pid in pids)


@pytest.mark.asyncio
async def test_kill_9_the_daemon_while_it_receives_and_delivers(tmp_path: Path) -> None:
    began = time.monotonic()
    rng = random.Random(SEED)
    sink = WatchingSink(hold=0.01)
    with serving(sink) as sink_port:
        smtp, http = free_port(), free_port()
        config = write_config(tmp_path, smtp, http, sink_port)
        pairs = await reply_addresses(config)
        assert len(pairs) > 20
        senders = Senders(smtp, pairs)
        daemon = await start(config, http)
        sending = asyncio.gather(*(senders.run() for _ in range(SENDERS)))
        in_flight: set[str] = set()
        try:
            for kill in range(KILLS):
                await asyncio.sleep(rng.uniform(0.8, 2.5))
                workers = descendants(daemon.pid)
                assert workers, "the daemon runs its worker processes"
                daemon.send_signal(signal.SIGKILL)
                assert await daemon.wait() == -signal.SIGKILL
                # Its worker processes end with it, though nothing shut them down.
                await until("its workers to end", lambda w=workers: _gone(w), seconds=10)
                _bodies, outbox = await counts(config)
                in_flight |= {m for m, s in outbox.items() if s == "sending"}
                print(f"kill {kill + 1}: {len(senders.accepted)} accepted so far")
                daemon = await start(config, http)
            await asyncio.wait_for(sending, DEADLINE - (time.monotonic() - began))

            async def drained() -> bool:
                # Every moderation email built and queued too: one queued just before
                # the stop below would never reach the sink.
                building = await store_rows(
                    load_settings(config, environ={}), "SELECT count(*) FROM moderation_mail_queue"
                )
                _b, outbox = await counts(config)
                return (
                    building == [(0,)]
                    and bool(outbox)
                    and all(s == "sent" for s in outbox.values())
                )

            # Up to the 10 s lease of what was in flight at the last kill, with room to spare.
            await until("the outbox drained", drained, seconds=120)
        finally:
            if daemon.returncode is None:
                daemon.terminate()
                await daemon.wait()
            sending.cancel()
        await asyncio.sleep(0.2)  # the sink records DATA before it answers

    bodies, outbox = await counts(config)
    assert senders.accepted == set(range(MESSAGES))
    expected = {
        f"Reply number {n} written while the daemon was being killed." for n in range(MESSAGES)
    }
    assert set(bodies) == expected, "every message that got a 250 is a comment"
    assert all(count == 1 for count in bodies.values()), "and exactly one"
    seen = Counter(sink.message_ids())
    assert set(seen) == set(outbox), "every queued email reached the sink, nothing else did"
    twice = {m for m, n in seen.items() if n > 1}
    assert twice <= in_flight, "an email arrives twice only if it was in flight at a kill"
    retried = sum(1 for n in senders.attempts.values() if n > 1)
    print(
        f"{MESSAGES} replies, {KILLS} kills, {retried} sent again by their sender, "
        f"{len(outbox)} emails queued, {len(twice)} delivered twice, "
        f"{time.monotonic() - began:.1f} s"
    )
