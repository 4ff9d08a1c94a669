"""Helpers shared by the tests (importable as ``support`` through pytest's pythonpath)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import email
import email.policy
import json
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mailbridge.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SEED_JSON = EXAMPLES / "thread.json"
SEED_WXR = EXAMPLES / "thread.wxr.xml"
THREAD = "attachment-theory-healing-relationship"
# The inbound log with each message's raw bytes (a table of their own since 0025).
LOGGED = "inbound_messages m LEFT JOIN inbound_raw r ON r.inbound_id = m.id"
BIG = "big-thread"  # big_thread()'s key
AUTHOR_EMAIL = "author@example.org"  # the seed post's author: moderator of the thread


def real_comment_texts() -> list[str]:
    """The sample thread's comments, and the labelled spam collection's when
    ../shared/corpus/spam is there: real text for tests that compare two ways of
    answering the same question."""
    texts = [c["body"] for c in json.loads(SEED_JSON.read_text())["comments"]]
    # The repository's own files of that collection first (bench/data): a clone
    # anywhere has them; ../shared is only beside this checkout.
    shared = sorted((ROOT.parent / "shared" / "corpus" / "spam").glob("*.csv"))
    for path in sorted((ROOT / "bench" / "data").glob("Youtube*.csv")) + shared:
        with path.open(encoding="utf-8") as handle:
            texts += [row["CONTENT"] for row in csv.DictReader(handle)]
    return texts


# Migrated SQLite databases, one per set of migrations (a test may ship fewer: see
# from_template), each made once in this process and copied for every test after.
_TEMPLATES: dict[tuple[tuple[str, str], ...], Path] = {}


async def from_template(database: Path) -> None:
    """A test's new SQLite database as a copy of one with every migration applied.

    Applying the 37 migrations to a new file is 37 transactions, 37 fsyncs: about
    0.15 s, more on a busy disk, for each of the hundreds of tests that start a
    daemon (import_seed) or take the ``store`` fixture. tests/unit/test_store.py,
    tests/faults/test_upgrade_interrupted.py and
    tests/integration/test_upgrade_previous_release.py test the migrations
    themselves, on new files; so does every command run on a new data directory.
    The copy is what those migrations leave, made with the migrations shipped at the
    time of the call: a test that ships fewer (monkeypatch) gets its own template.
    tests/pg.py does the same for PostgreSQL (CREATE DATABASE ... TEMPLATE)."""
    import atexit
    import shutil
    import tempfile

    from mailbridge.store import Store, migrations

    key = tuple((m.name, m.sql) for m in migrations.migrations())
    template = _TEMPLATES.get(key)
    if template is None:
        folder = tempfile.mkdtemp(prefix="mailbridge-template-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        made = Path(folder) / "mailbridge.sqlite3"
        store = await Store.open(made)
        await store.close()
        # Closed last, the WAL is checkpointed into the file and removed: one file.
        assert not made.with_name(made.name + "-wal").exists()
        _TEMPLATES[key] = template = made
    # As Store.open makes them: the directory private; the file new (its time now),
    # with the mode SQLite gave the template.
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(template, database)
    shutil.copymode(template, database)


async def import_seed(settings: Settings, path: Path = SEED_JSON) -> None:
    from mailbridge.app import open_store
    from mailbridge.clock import SystemClock
    from mailbridge.importer import import_file

    if not settings.data_url and not settings.database_path.exists():
        await from_template(settings.database_path)
    store = await open_store(settings)
    try:
        await import_file(store, path, SystemClock())
    finally:
        await store.close()


def no_dmarc_zone() -> Any:
    """A fake DNS (the internet's cannot be reached from tests) where no domain
    publishes DMARC: replies are accepted as unauthenticated."""
    from mailbridge.senderauth import StaticResolver

    return StaticResolver({}, otherwise="nxdomain")


def _ephemeral_ports() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_HANDED_OUT: set[int] = set()


def _worker_slice(lo: int, hi: int) -> tuple[int, int]:
    """Under pytest-xdist, worker gwN draws from its own Nth of the range: each worker
    remembers only the ports it handed out, so two could otherwise pick the same one
    between the check and the server's bind."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count < 2:
        return lo, hi
    index = int(worker[2:]) % count
    width = (hi - lo + 1) // count
    return lo + index * width, lo + (index + 1) * width - 1


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server started later (Postfix, MariaDB...).

    Picked outside the kernel's ephemeral range: outgoing connections (the tests' own
    to PostgreSQL, say) take their local ports from that range, and one can take the
    port between this check and the server's bind (CI once saw MariaDB fail so).
    Never the same port twice in one run: a port handed out is free until its server
    binds, so a second pick before then could return it again (CI once gave Postfix
    and mailbridge the same port). Drawn from the system's randomness, not the
    random module's, whose state a test may have seeded."""
    import random

    pick = random.SystemRandom()
    low, high = _ephemeral_ports()
    lo, hi = (10000, low - 1) if low > 12000 else (high + 1, 65535)
    lo, hi = _worker_slice(lo, hi)
    for _ in range(200):
        port = pick.randint(lo, hi)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    for _ in range(20):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def make_settings(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """Settings for a test: private data dir, loopback on free ports, no environment."""
    overrides: dict[str, Any] = {
        "data_dir": str(tmp_path / "var"),
        "smtp": {"listen": "127.0.0.1:0"},
        "http": {"listen": "127.0.0.1:0"},
        # Never ask the internet's DNS; tests that need records pass a StaticResolver.
        "auth": {"dns": "off"},
        # Notifications at once; the batching tests set a window.
        "notifications": {"batch_window_seconds": 0},
    }
    for name, values in sections.items():
        if isinstance(values, dict):
            overrides.setdefault(name, {}).update(values)
        else:
            overrides[name] = values
    from pg import database_for, store_option  # tests/pg.py imports this module

    if store_option() == "postgresql" and "data_url" not in overrides:
        # The database of this data directory (tests/pg.py): one per directory, as the
        # SQLite file is, so a test that builds its settings twice for one directory
        # (a restart) finds its rows again. Exported for the commands the test runs in
        # this process (CliRunner): they read the environment, and
        # tests/conftest.py removes it after the test.
        url = database_for(Path(overrides["data_dir"]))
        overrides["data_url"] = os.environ["MAILBRIDGE_DATA_URL"] = url
    return load_settings(None, environ={}, overrides=overrides)


def embedding_settings(tmp_path: Path, page_port: int) -> Settings:
    """Settings for a daemon whose widget is embedded by pages served on another
    loopback origin, ``page_port`` (the browser tests' blog)."""
    port = free_port()
    return make_settings(
        tmp_path,
        http={"listen": f"127.0.0.1:{port}"},
        site={
            "public_url": f"http://127.0.0.1:{port}",
            "allowed_origins": [f"http://127.0.0.1:{page_port}"],
        },
    )


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def read_maildir(path: Path) -> list[EmailMessage]:
    folder = path / "new"
    if not folder.is_dir():
        return []
    return [parse(p.read_bytes()) for p in sorted(folder.iterdir(), key=lambda p: p.name)]


async def wait_for_mail(path: Path, count: int, timeout: float = 10.0) -> list[EmailMessage]:
    """Wait (bounded) until the Maildir holds at least ``count`` messages."""
    deadline = time.monotonic() + timeout
    while True:
        found = read_maildir(path)
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"expected {count} messages, found {len(found)}"
            return found
        await asyncio.sleep(0.05)


def text_body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def html_body(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def moderation_links(msg: EmailMessage) -> dict[str, str]:
    text = text_body(msg)
    links = {}
    labels = (
        ("Approve (publish it):", "approve"),
        ("Reject (do not publish):", "reject"),
        ("Spam:", "spam"),
    )
    for label, action in labels:
        match = re.search(rf"^{re.escape(label)}\n(\S+)$", text, re.MULTILINE)
        assert match, f"no {label} link in:\n{text}"
        links[action] = match.group(1)
    trust = re.search(r"^Approve and trust this person .*:\n(\S+)$", text, re.MULTILINE)
    if trust:
        links["trust"] = trust.group(1)
    return links


def local(url: str, http_address: tuple[str, int]) -> str:
    """A link from an email, aimed at the test server's real address."""
    parts = urlsplit(url)
    return f"http://{http_address[0]}:{http_address[1]}{parts.path}"


def of_kind(messages: list[EmailMessage], subject_part: str) -> list[EmailMessage]:
    return [m for m in messages if subject_part in str(m["Subject"])]


def reply_to_notification(
    notification: EmailMessage,
    body: str,
    *,
    sender: str | None = None,
    message_id: str = "<reply-1@client.example>",
) -> EmailMessage:
    """What a mail client sends when its user answers ``notification`` above the quote."""
    reply = EmailMessage()
    reply["From"] = sender or str(notification["To"])
    reply["To"] = str(notification["Reply-To"])
    reply["Subject"] = "Re: " + str(notification["Subject"])
    reply["Message-ID"] = message_id
    reply["In-Reply-To"] = str(notification["Message-ID"])
    reply["Date"] = email.utils.formatdate()
    quoted = "\n".join("> " + line for line in text_body(notification).splitlines())
    reply.set_content(
        f"{body}\n\nOn Wed, 25 Nov 2026 at 18:37, Example Blog <comments@example.org> wrote:\n"
        f"{quoted}\n"
    )
    return reply


def is_notification(message: EmailMessage) -> bool:
    """A reply notification or digest (its Reply-To is a reply+ address); moderation
    emails have a Reply-To too, moderate+ (moderating by reply)."""
    reply_to = message["Reply-To"]
    return reply_to is not None and reply_to.addresses[0].addr_spec.startswith("reply+")


def reply_address(notification: EmailMessage) -> str:
    return str(notification["Reply-To"].addresses[0].addr_spec)


class FakeClock:
    """A clock the test moves by hand (the only thing here that is not real: time)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class SinkHandler:
    """An aiosmtpd handler that records what it accepts; can refuse the next N messages."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.refuse_next: list[str] = []  # e.g. ["451 4.3.0 busy", "550 5.1.1 no such user"]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_next:
            return self.refuse_next.pop(0)
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        return "250 2.0.0 Queued"

    def message_ids(self) -> list[str]:
        return [str(parse(raw)["Message-ID"]) for _f, _r, raw in self.received]


@contextlib.asynccontextmanager
async def started(
    tmp_path: Path, resolver: Any = None, **sections: dict[str, Any]
) -> AsyncIterator[Any]:
    """A daemon with the seed imported, on free loopback ports, with these settings."""
    from mailbridge.app import running

    settings = make_settings(tmp_path, **sections)
    await import_seed(settings)
    async with running(settings, resolver=resolver or no_dmarc_zone()) as daemon:
        yield daemon


async def smtp_send(daemon: Any, sender: str, rcpt: str, data: bytes) -> str:
    """One message to the daemon's SMTP service, as a client sends it: "code message"."""
    import aiosmtplib

    host, port = daemon.smtp_address
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) as client:
        await client.mail(sender)
        await client.rcpt(rcpt)
        answer = await client.data(data)
    return f"{answer.code} {answer.message}"


@contextlib.asynccontextmanager
async def local_http(path: str, handler: Any) -> AsyncIterator[str]:
    """An aiohttp server on 127.0.0.1 (a free port) answering POST ``path``; its URL base."""
    from aiohttp import web

    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def recipe_server(
    script: Path, what: str, port_variables: tuple[str, ...] = ()
) -> Iterator[tuple[dict[str, str], Path]]:
    """A server started by a recipe (tests/recipes/: ``start DIR PORT``) in a directory of
    its own on a free port: its KEY=VALUE words and the directory; stopped and removed
    afterwards. The directory is not under pytest's private temporary root (mode 0700):
    the servers' own users (dovecot, mail, postgres) must reach it. A recipe that listens
    on more ports reads each from one of ``port_variables``, a free port too (a port next
    to the free one may be another worker's, or a leftover server's)."""
    import shutil
    import subprocess
    import tempfile

    import pytest

    root = Path(tempfile.mkdtemp(prefix="mailbridge-server-"))
    root.chmod(0o755)
    where = root / "server"
    for _ in range(3):
        started = subprocess.run(
            ["bash", str(script), "start", str(where), str(free_port())],
            capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, **{name: str(free_port()) for name in port_variables}},
        )  # fmt: skip
        # Another process may still bind the port first: stop, and try another one.
        if started.returncode == 0 or "in use" not in started.stderr:
            break
        subprocess.run(
            ["bash", str(script), "stop", str(where)], capture_output=True, timeout=120, check=False
        )
        shutil.rmtree(where, ignore_errors=True)
    try:
        if started.returncode != 0:
            pytest.fail(f"{what} did not start:\n{started.stderr[-3000:]}", pytrace=False)
        yield dict(word.split("=", 1) for word in started.stdout.split()), where
    finally:
        subprocess.run(
            ["bash", str(script), "stop", str(where)], capture_output=True, timeout=120, check=False
        )
        shutil.rmtree(root, ignore_errors=True)


async def until(what: str, check: Any, seconds: float = 40.0, every: float = 0.1) -> Any:
    """Await ``check()`` until it returns something true (bounded): that value."""
    for _ in range(int(seconds / every)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


async def db_rows(daemon: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the running daemon's database (its reader connection)."""

    async def work(conn: Any) -> list[tuple[Any, ...]]:
        async with conn.execute(sql, args) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    return list(await daemon.store.read(work))


async def store_rows(settings: Settings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on ``settings``' database, whichever the engine, with no daemon
    running: the store is opened as the commands open it (open_store), then closed."""
    from mailbridge.store.opening import open_store

    store = await open_store(settings)
    try:

        async def work(conn: Any) -> list[tuple[Any, ...]]:
            async with conn.execute(sql, args) as cur:
                return [tuple(r) for r in await cur.fetchall()]

        return list(await store.read(work))
    finally:
        await store.close()


def command_env(args: list[str], env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a command run with ``args`` (CliRunner): under
    --store=postgresql, the database of its ``--data-dir`` (one per directory,
    tests/pg.py), as make_settings gives a test's settings; ``env`` added."""
    from pg import database_for, store_option

    found = dict(env or {})
    if store_option() == "postgresql" and "--data-dir" in args:
        data_dir = Path(args[args.index("--data-dir") + 1])
        found.setdefault("MAILBRIDGE_DATA_URL", database_for(data_dir))
    return found


def data_rows(data_dir: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the database of ``data_dir`` on the suite's engine, for
    tests that run the commands on a data directory (command_env) with no daemon."""
    from pg import database_for, store_option

    overrides: dict[str, Any] = {"data_dir": str(data_dir)}
    if store_option() == "postgresql":
        overrides["data_url"] = database_for(data_dir)
    settings = load_settings(None, environ={}, overrides=overrides)
    return asyncio.run(store_rows(settings, sql, *args))


async def db_value(daemon: Any, sql: str, *args: Any) -> Any:
    """The first column of the first row (None without one)."""
    found = await db_rows(daemon, sql, *args)
    return found[0][0] if found else None


def big_thread(path: Path, top: int = 300, replies: int = 3) -> Path:
    """A thread of ``top`` conversations of 1 + ``replies`` comments (1,200: a big thread,
    paged), as an import file in ``path``."""
    comments = []
    next_id = 1
    for t in range(top):
        parent = next_id
        comments.append(
            {
                "id": parent,
                "parent": None,
                "author": f"Reader {t}",
                "email": f"r{t}@example.org",
                "created": f"2020-01-01T00:{t // 60:02d}:{t % 60:02d}+00:00",
                "body": f"Top {t}",
            }
        )
        next_id += 1
        for r in range(replies):
            comments.append(
                {
                    "id": next_id,
                    "parent": parent,
                    "author": f"Replier {r}",
                    "email": f"x{t}.{r}@example.org",
                    "created": f"2020-01-02T00:{t // 60:02d}:{t % 60:02d}+00:00",
                    "body": f"Reply {r} to {t}",
                }
            )
            next_id += 1
    document = {
        "post": {
            "key": BIG,
            "title": "A big thread",
            "author": "Author",
            "email": "author@example.org",
            "url": "https://blog.example.org/big/",
            "published": "2020-01-01T00:00:00+00:00",
            "body": "...",
        },
        "comments": [{**c, "depth": 0} for c in comments],
    }
    file = path / "big.json"
    file.write_text(json.dumps(document))
    return file


# Isso's schema, as Isso creates it (the Isso importer's tests build databases with it).
ISSO_SCHEMA = """
CREATE TABLE threads (id INTEGER PRIMARY KEY, uri VARCHAR(256) UNIQUE, title VARCHAR(256));
CREATE TABLE comments (
    tid REFERENCES threads(id), id INTEGER PRIMARY KEY, parent INTEGER,
    created FLOAT NOT NULL, modified FLOAT, mode INTEGER, remote_addr VARCHAR,
    text VARCHAR, author VARCHAR, email VARCHAR, website VARCHAR,
    likes INTEGER DEFAULT 0, dislikes INTEGER DEFAULT 0, voters BLOB NOT NULL,
    notification INTEGER NOT NULL DEFAULT 0);
CREATE TABLE preferences (key VARCHAR PRIMARY KEY, value VARCHAR);
"""


def mailgun_form(
    raw: bytes, rcpt: str, key: str, *, sender: str = "reader002.4a549d@example.org", age: float = 0
) -> Any:
    """As Mailgun's forward() posts a stored message: its fields and signature."""
    import hashlib
    import hmac
    import io

    import aiohttp

    timestamp = str(int(time.time() - age))
    token = "f1cbb2a1b2c7e2a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8"
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    form = aiohttp.FormData()
    for name, value in (("recipient", rcpt), ("sender", sender), ("subject", "Re: hello"),
                        ("timestamp", timestamp), ("token", token),
                        ("signature", signature)):  # fmt: skip
        form.add_field(name, value)
    form.add_field(
        "body-mime", io.BytesIO(raw), filename="message.mime", content_type="message/rfc822"
    )
    return form
