"""Three `mailbridge serve` processes on one PostgreSQL database (issue 16).

Each daemon has its own data directory, ports and worker processes; they share the
database, one instance secret (``secret_file``) and one relay, a sink that records
every email. Mail servers send replies round-robin to the three, and every fourth
reply to two of them at once (two MX hosts got it). Then:

1. all three alive: every accepted reply is one comment; moderation links minted by
   one daemon approve on another; every queued email reaches the sink exactly once;
2. one daemon is killed with SIGKILL while replies keep coming (senders move on to
   the next MX host): still one comment per reply, every queued email delivered, and
   an email arrives twice only if the killed daemon held it at the kill, with the
   same Message-ID (the others take its leases over once they expire);
3. the periodic jobs ran in one daemon at a time (tests/jobs shows the claim itself).

Bounded: PHASE replies per phase and a deadline; much of the time is the dead
daemon's outbox lease running out (10 s here: the kill test's configuration).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import signal
import time
from collections import Counter
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import aiosmtplib
import psycopg
import pytest
from delivery.sinks import WatchingSink, serving
from faults.test_kill_daemon import MODERATOR, start
from faults.test_kill_daemon import write_config as kill_config
from support import free_port, import_seed, moderation_links, until

from mailbridge.app import load_or_create_secret
from mailbridge.settings import load_settings
from mailbridge.tokens import Keyring, make_reply_token

DAEMONS = 3
PHASE = 45  # replies per phase
SENDERS = 6
DEADLINE = 120.0  # seconds for the senders of one phase


def write_config(root: Path, i: int, url: str, smtp: int, http: int, sink: int) -> Path:
    """The kill test's daemon (its limits, relay and moderator), on the shared
    database with the shared secret, in a data directory of its own."""
    (root / f"d{i}").mkdir()
    config = kill_config(root / f"d{i}", smtp, http, sink)
    text = re.sub(r'^data_url = ".*"$', f'data_url = "{url}"', config.read_text(), flags=re.M)
    assert f'data_url = "{url}"' in text
    config.write_text(f'secret_file = "{root / "shared-secret.key"}"\n{text}')
    return config


def reply_pairs(config: Path, url: str) -> list[tuple[str, str]]:
    """(sender, reply address): each seed comment that answers someone, answered by
    that someone, with a token minted from the shared secret."""
    settings = load_settings(config, environ={})
    keyring = Keyring.from_secret(load_or_create_secret(settings.secret_path))
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT a.id, a.email, c.id FROM comments c JOIN comments p ON p.id = c.parent_id "
            "JOIN addresses a ON a.id = p.address_id ORDER BY c.id"
        ).fetchall()
    expires = date.today() + timedelta(days=30)
    domain = settings.smtp.reply_domain
    return [
        (str(e), f"reply+{make_reply_token(keyring.reply, int(a), int(c), expires)}@{domain}")
        for a, e, c in rows
    ]


def body(n: int) -> str:
    return f"Reply number {n}, sent to the daemons sharing one database."


def message(n: int, sender: str, rcpt: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {rcpt}\r\nSubject: Re: the post\r\n"
        f"Message-ID: <three-{n}@client.example>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body(n)}\r\n"
    ).encode()


class Senders:
    """Mail servers: reply n goes to daemon n % 3 (and every fourth also to the next
    one, at the same time); a failed attempt is tried again on the next daemon."""

    def __init__(self, ports: list[int], pairs: list[tuple[str, str]]) -> None:
        self.ports = ports
        self.pairs = pairs
        self.accepted: set[int] = set()
        self.doubled: set[int] = set()
        self.failed = 0  # attempts that got no 250
        self.why: list[str] = []  # what each failed attempt got, for the assertion

    async def one(self, n: int, first: int, deadline: float) -> None:
        sender, rcpt = self.pairs[n % len(self.pairs)]
        k = first
        while time.monotonic() < deadline:
            port = self.ports[k % len(self.ports)]
            try:
                async with aiosmtplib.SMTP(
                    # A sending MTA waits minutes for DATA's answer (RFC 5321 4.5.3.2);
                    # 30 s leaves room for a machine busy with other tests.
                    hostname="127.0.0.1",
                    port=port,
                    start_tls=False,
                    timeout=30,
                ) as client:
                    await client.mail(sender)
                    await client.rcpt(rcpt)
                    answer = await client.data(message(n, sender, rcpt))
                if answer.code == 250:
                    self.accepted.add(n)
                    return
                self.why.append(f"{answer.code} {answer.message}")
            except (aiosmtplib.SMTPException, OSError) as e:
                # no answer or 4xx: the next MX host, a little later
                self.why.append(f"{type(e).__name__}: {e}")
            self.failed += 1
            k += 1
            await asyncio.sleep(0.2)

    async def send(self, numbers: range) -> None:
        deadline = time.monotonic() + DEADLINE
        gate = asyncio.Semaphore(SENDERS)

        async def each(n: int) -> None:
            async with gate:
                targets = [n % DAEMONS]
                if n % 4 == 0:
                    targets.append((n + 1) % DAEMONS)
                    self.doubled.add(n)
                await asyncio.gather(*(self.one(n, t, deadline) for t in targets))

        await asyncio.gather(*(each(n) for n in numbers))


def comments_by_body(url: str) -> Counter[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT body FROM comments WHERE body LIKE 'Reply number %'")
        return Counter(str(b) for (b,) in rows.fetchall())


def outbox(url: str) -> dict[str, tuple[str, str | None]]:
    """Each queued email's (status, lease owner) by Message-ID."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT message_id, status, lease_owner FROM outbox").fetchall()
    return {str(m): (str(s), o) for m, s, o in rows}


def building(url: str) -> list[str | None]:
    """Who claimed each comment whose moderation emails are still to be built."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT claimed_by FROM moderation_mail_queue").fetchall()
    return [owner for (owner,) in rows]


async def drained(url: str, dead: int | None = None) -> bool:
    """Every email sent, and every moderation email built and queued (but those of
    comments the ``dead`` daemon claimed: another takes them only after the claim's
    120 s), so that none is queued just as the daemons stop."""
    owners = await asyncio.to_thread(building, url)
    if any(owner is None or dead is None or f":{dead}:" not in owner for owner in owners):
        return False
    rows = await asyncio.to_thread(outbox, url)
    return bool(rows) and all(status == "sent" for status, _owner in rows.values())


def moderation_emails(sink: WatchingSink) -> list[EmailMessage]:
    found = []
    for received in list(sink.received):
        msg = email.message_from_bytes(received.raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        if MODERATOR in received.rcpt_tos and "Approve (publish it):" in received.raw.decode(
            "utf-8", "replace"
        ):
            found.append(msg)
    return found


def status_of(url: str, comment_id: int) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT status FROM comments WHERE id = %s", (comment_id,)).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.asyncio
@pytest.mark.timeout(400)
async def test_three_daemons_share_one_database(pg_url: str, tmp_path: Path) -> None:
    sink = WatchingSink(hold=0.01)
    with serving(sink) as sink_port:
        ports = [(free_port(), free_port()) for _ in range(DAEMONS)]
        configs = [
            write_config(tmp_path, i, pg_url, smtp, http, sink_port)
            for i, (smtp, http) in enumerate(ports)
        ]
        await import_seed(load_settings(configs[0], environ={}))
        pairs = reply_pairs(configs[0], pg_url)
        daemons = [
            await start(config, http) for config, (_s, http) in zip(configs, ports, strict=True)
        ]
        senders = Senders([smtp for smtp, _ in ports], pairs)
        try:
            # 1. All three alive.
            await senders.send(range(PHASE))
            assert senders.accepted == set(range(PHASE))
            # Not even the copies sent to two daemons at once: the second waits for
            # the first's commit and counts a repeat delivery, it does not fail.
            assert senders.failed == 0, senders.why
            await until("the outbox drained", lambda: drained(pg_url), seconds=60)

            # Links minted by whichever daemon queued the email, used on the others.
            async with aiohttp.ClientSession() as session:
                for k, msg in enumerate(moderation_emails(sink)[:6]):
                    link = moderation_links(msg)["approve"]
                    path = link.split("/", 3)[3]
                    http = ports[k % DAEMONS][1]
                    async with session.post(f"http://127.0.0.1:{http}/{path}") as resp:
                        page = await resp.text()
                        assert resp.status == 200, page
                        assert "Done: the comment is approved" in page
            await until("the approvals' emails sent", lambda: drained(pg_url), seconds=60)
            await asyncio.sleep(0.3)  # the sink records DATA before it answers
            seen = Counter(r.message_id for r in sink.received)
            assert set(seen) == set(outbox(pg_url)), "every queued email reached the sink"
            assert all(n == 1 for n in seen.values()), "exactly once while none died"
            bodies = comments_by_body(pg_url)
            assert set(bodies) == {body(n) for n in range(PHASE)}
            assert all(count == 1 for count in bodies.values()), "one comment per reply"

            # 2. One daemon killed while replies keep coming.
            victim = daemons[0]
            sink.hold = 0.3  # a slow relay: the victim is likely to die mid-send
            sending = asyncio.create_task(senders.send(range(PHASE, 2 * PHASE)))
            await asyncio.sleep(1.0)
            victim.send_signal(signal.SIGKILL)
            assert await victim.wait() == -signal.SIGKILL
            held = {
                m
                for m, (status, owner) in outbox(pg_url).items()
                if status == "sending" and owner is not None and f":{victim.pid}:" in owner
            }
            await sending
            assert senders.accepted == set(range(2 * PHASE))
            # Up to the 10 s lease of what the dead daemon held, with room to spare.
            await until("the outbox drained", lambda: drained(pg_url, victim.pid), seconds=120)
            await asyncio.sleep(0.3)
        finally:
            for daemon in daemons:
                if daemon.returncode is None:
                    daemon.terminate()
                    await daemon.wait()

    bodies = comments_by_body(pg_url)
    assert set(bodies) == {body(n) for n in range(2 * PHASE)}, "every accepted reply filed"
    assert all(count == 1 for count in bodies.values()), "once, also when sent to two"
    rows = outbox(pg_url)
    seen = Counter(r.message_id for r in sink.received)
    assert set(seen) == set(rows), "every queued email reached the sink, nothing else did"
    twice = {m for m, n in seen.items() if n > 1}
    assert twice <= held, "only what the killed daemon held may arrive twice"

    with psycopg.connect(pg_url) as conn:
        deliveries = dict(
            conn.execute(
                "SELECT message_id, deliveries FROM inbound_messages "
                "WHERE message_id LIKE '%three-%'"
            ).fetchall()
        )
        jobs = dict(conn.execute("SELECT name, last_by FROM periodic_jobs").fetchall())
    assert len(deliveries) == 2 * PHASE, "one inbound row per message"
    for n in senders.doubled:
        assert deliveries[f"<three-{n}@client.example>"] >= 2, "both deliveries counted on it"
    assert jobs.get("housekeeping"), "housekeeping ran, in one of the daemons"
    print(
        f"{2 * PHASE} replies ({len(senders.doubled)} sent to two daemons), "
        f"{len(rows)} emails, {len(held)} held by the killed daemon, {len(twice)} twice"
    )
