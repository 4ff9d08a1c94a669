"""Real SMTP sinks (aiosmtpd on 127.0.0.1) that watch how mailbridge delivers.

A sink runs in aiosmtpd's Controller thread; the test reads what it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from support import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    connection: int  # which connection (1, 2, ...) carried it
    tls: bool
    user: str | None
    mail_options: tuple[str, ...] = ()  # e.g. ("SMTPUTF8",)

    @property
    def message_id(self) -> str:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        return str(msg["Message-ID"])


class WatchingSink:
    """Records every message with the connection that carried it.

    ``hold`` seconds are spent inside DATA (a slow relay); ``peak`` is the most
    messages ever inside DATA at once per recipient domain, ``peak_total`` overall.
    """

    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold
        self.received: list[Received] = []
        self.refuse_next: list[str] = []
        self.rset_answers: list[str] = []  # e.g. ["421 4.3.2 going away"]
        self.mail_answers: list[str] = []  # answers to MAIL FROM, before "250 OK"
        self.rcpt_answers: dict[str, str] = {}  # by address: the relay's refusal of it
        self.rcpts: list[str] = []  # every RCPT TO address, refused or not
        self.mails = 0  # MAIL FROM commands seen
        self.peak: Counter[str] = Counter()
        self.peak_total = 0
        self.entered: list[str] = []  # Message-IDs in the order their DATA began
        self._inside: Counter[str] = Counter()
        self._connections: dict[int, int] = {}
        self._keep: list[Any] = []  # keeps server objects alive so ids stay unique
        self._lock = threading.Lock()

    def _connection(self, server: Any) -> int:
        with self._lock:
            if id(server) not in self._connections:
                self._keep.append(server)
                self._connections[id(server)] = len(self._connections) + 1
            return self._connections[id(server)]

    @property
    def connections(self) -> int:
        """Connections that carried at least one MAIL FROM."""
        with self._lock:
            return len(self._connections)

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def message_ids(self) -> list[str]:
        with self._lock:
            return [r.message_id for r in self.received]

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self._connection(server)
        with self._lock:
            self.mails += 1
        if self.mail_answers:
            return self.mail_answers.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._lock:
            self.rcpts.append(address)
        if address in self.rcpt_answers:
            return self.rcpt_answers[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        if self.rset_answers:
            return self.rset_answers.pop(0)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_next:
            return self.refuse_next.pop(0)
        domain = envelope.rcpt_tos[0].rpartition("@")[2].lower()
        started = email.message_from_bytes(
            bytes(envelope.original_content), policy=email.policy.default
        )
        with self._lock:
            self.entered.append(str(started["Message-ID"]))
            self._inside[domain] += 1
            self.peak[domain] = max(self.peak[domain], self._inside[domain])
            self.peak_total = max(self.peak_total, sum(self._inside.values()))
        try:
            if self.hold:
                await asyncio.sleep(self.hold)
        finally:
            with self._lock:
                self._inside[domain] -= 1
        auth = session.auth_data
        user = auth.login.decode() if isinstance(auth, LoginPassword) else None
        record = Received(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            bytes(envelope.original_content),
            self._connection(server),
            session.ssl is not None,
            user,
            tuple(envelope.mail_options),
        )
        with self._lock:
            self.received.append(record)
        return "250 2.0.0 Queued"


class Accounts:
    """An aiosmtpd authenticator: one user and password, or a fixed temporary failure."""

    def __init__(self, user: str, password: str, temporary: str | None = None) -> None:
        self.user, self.password, self.temporary = user, password, temporary
        self.attempts = 0

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.attempts += 1
        if self.temporary:
            return AuthResult(success=False, handled=False, message=self.temporary)
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == self.user and auth_data.password.decode() == self.password
        )
        # handled=False: aiosmtpd answers (235, or 535 when it failed) itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@contextlib.contextmanager
def serving(handler: Any, port: int | None = None, **smtp: Any) -> Iterator[int]:
    """Run ``handler`` on 127.0.0.1 (a free port unless given); yield the port."""
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port(), **smtp)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    """Poll (bounded) until ``predicate()`` is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
