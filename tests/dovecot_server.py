"""A real Dovecot IMAP server (Debian's dovecot-imapd 2.3) on loopback, for the IMAP
inbox tests: tests/recipes/dovecot.sh starts it in a temporary directory, with IDLE.
The helpers act as the mail server that delivers into the mailbox would."""

from __future__ import annotations

import asyncio
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

    def delete(self, mailbox: str) -> None:
        with self._session() as client:
            client.delete(mailbox)

    def undone(self, mailbox: str) -> int:
        """How many messages are not flagged $MailbridgeDone."""
        with self._session() as client:
            client.select(mailbox, readonly=True)
            status, data = client.uid("SEARCH", None, "UNKEYWORD", "$MailbridgeDone")
            assert status == "OK", data
            return len(data[0].split())

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


class Relay:
    """A TCP relay to the IMAP server whose connections the test cuts, as a server
    restarting or a NAT forgetting an idle connection would; and which can hold each
    UID STORE (the marking of a message done) for ``hold_stores`` seconds, to stop
    mailbridge in the window between filing a message and marking it.

    ``idle_says``: a line added after each "+ idling" of the first connection only, as
    Dovecot says "* NO Internal error occurred" at each IDLE, and never closes, once
    the selected mailbox was deleted and made again at the wrong moment (the session's
    view of it broken until a new login). ``idles`` counts each connection's IDLEs."""

    def __init__(self, box: Mailbox, hold_stores: float = 0.0, idle_says: bytes = b"") -> None:
        self._box = box
        self._hold = hold_stores
        self._idle_says = idle_says
        self._writers: list[asyncio.StreamWriter] = []
        self.idles: list[int] = []  # IDLE commands sent, one count per connection
        self.port = 0

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self.cut()
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self._box.host, self._box.port)
        self._writers += [writer, up_writer]
        number = len(self.idles)
        self.idles.append(0)
        says = self._idle_says if number == 0 else b""

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            try:
                while data := await src.read(65536):
                    if up and self._hold and b"UID STORE" in data.upper():
                        await asyncio.sleep(self._hold)
                        if src.at_eof():
                            break  # mailbridge died meanwhile: its command dies with it
                    if up:
                        self.idles[number] += data.upper().count(b" IDLE\r\n")
                    elif says and b"+ idling\r\n" in data:
                        data = data.replace(b"+ idling\r\n", b"+ idling\r\n" + says, 1)
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()


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
