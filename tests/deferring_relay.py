"""A relay on a free loopback port that defers or refuses chosen recipients and keeps
the raw bytes of what it accepts: mail that waits in the outbox, as behind a
greylisting or busy server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from aiosmtpd.controller import Controller
from support import free_port, parse


class DeferringRelay:
    """A relay that answers 451 at RCPT for the addresses in ``defer`` (greylisting,
    a busy mailbox) and records the raw bytes of what it accepts."""

    def __init__(self) -> None:
        self.defer: set[str] = set()
        self.refuse: set[str] = set()  # answered 550: a dead letter at once
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.defer:
            return "451 4.7.1 Greylisted, try again later"
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 2.0.0 Queued"

    def to(self, address: str) -> list[bytes]:
        return [raw for rcpts, raw in self.received if address in rcpts]

    def moderation_email_about(self, author: str) -> Any:
        for _rcpts, raw in reversed(self.received):
            message = parse(raw)
            subject = str(message["Subject"])
            if "awaits moderation" in subject and f"by {author} on" in subject:
                return message
        return None


@contextlib.contextmanager
def relay_running() -> Iterator[tuple[DeferringRelay, int]]:
    relay = DeferringRelay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield relay, controller.port
    finally:
        controller.stop()
