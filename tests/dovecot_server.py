"""A real Dovecot IMAP server (Debian's dovecot-imapd 2.3) on loopback, for the IMAP
inbox tests: tests/recipes/dovecot.sh starts it in a temporary directory, with IDLE.
The helpers act as the mail server that delivers into the mailbox would."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from programs import find_program, unavailable
from support import recipe_server

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

    def append(self, raw: bytes, mailbox: str = "INBOX", flags: str = "") -> None:
        with self._session() as client:
            status, _ = client.append(mailbox, flags, imaplib.Time2Internaldate(0), raw)
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
    with recipe_server(RECIPE, "Dovecot") as (values, _where):
        yield Mailbox(
            values["IMAP_HOST"], int(values["IMAP_PORT"]), values["IMAP_USER"],
            values["IMAP_PASSWORD"],
        )  # fmt: skip


@pytest.fixture
def dovecot(dovecot_server: Mailbox) -> Iterator[Mailbox]:
    """The session's server, its mailboxes empty for each test."""
    dovecot_server.empty()
    yield dovecot_server
    dovecot_server.empty()
