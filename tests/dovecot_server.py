"""A real Dovecot IMAP server (Debian's dovecot-imapd 2.3) on loopback, for the IMAP
inbox tests: tests/recipes/dovecot.sh starts it in a temporary directory, with IDLE.
The helpers act as the mail server that delivers into the mailbox would."""

from __future__ import annotations

import imaplib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from programs import find_program, unavailable
from support import free_port

RECIPE = Path(__file__).resolve().parent / "recipes" / "dovecot.sh"


@dataclass
class Mailbox:
    host: str
    port: int
    user: str
    password: str

    def _session(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, mailbox: str = "INBOX") -> None:
        with self._session() as client:
            status, _ = client.append(mailbox, "", imaplib.Time2Internaldate(0), raw)
            assert status == "OK"

    def create(self, mailbox: str) -> None:
        with self._session() as client:
            client.create(mailbox)

    def count(self, mailbox: str) -> int:
        with self._session() as client:
            status, data = client.select(mailbox, readonly=True)
            assert status == "OK", data
            return int(data[0] or 0)

    def flags(self, mailbox: str, number: int) -> str:
        with self._session() as client:
            client.select(mailbox, readonly=True)
            status, data = client.fetch(str(number), "(FLAGS)")
            assert status == "OK", data
            return str(data[0])

    def empty(self) -> None:
        with self._session() as client:
            for name in ("INBOX", "Filed"):
                status, data = client.select(name)
                if status == "OK" and int(data[0] or 0) > 0:  # "1:*" is BAD when empty
                    client.store("1:*", "+FLAGS", "\\Deleted")
                    client.expunge()


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Mailbox]:
    if find_program("dovecot") is None:
        unavailable("needs dovecot from dovecot-imapd: apt-get install dovecot-imapd")
    # Dovecot's own users (dovecot, mail) must reach the directory: not under pytest's
    # private temporary root (mode 0700), so a directory of its own in /tmp.
    root = Path(tempfile.mkdtemp(prefix="mailbridge-imap-"))
    os.chmod(root, 0o755)
    where = root / "server"
    port = free_port()
    started = subprocess.run(
        ["bash", str(RECIPE), "start", str(where), str(port)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    try:
        if started.returncode != 0:
            pytest.fail(f"Dovecot did not start:\n{started.stderr[-3000:]}", pytrace=False)
        values = dict(word.split("=", 1) for word in started.stdout.split())
        yield Mailbox(
            values["IMAP_HOST"], int(values["IMAP_PORT"]), values["IMAP_USER"],
            values["IMAP_PASSWORD"],
        )  # fmt: skip
    finally:
        subprocess.run(
            ["bash", str(RECIPE), "stop", str(where)], capture_output=True, timeout=120, check=False
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server: Mailbox) -> Iterator[Mailbox]:
    """The session's server, its mailboxes empty for each test."""
    dovecot_server.empty()
    yield dovecot_server
    dovecot_server.empty()
