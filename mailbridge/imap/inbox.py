"""Replies read from a mailbox over IMAP, for those who cannot receive mail on port 25.

The mailbox receives the reply addresses (a catch-all of the reply domain, or aliases
for its prefixes). Each message not yet done goes through the same pipeline as one
received over SMTP (ReplyIntake: the inbound log, the checks, the dedupe by
Message-ID), and only once that pipeline has answered for good is the message marked
done there: flagged ``$MailbridgeDone`` (and ``\\Seen``), and moved to
``imap.done_mailbox`` when one is set. What the SMTP service would answer with a 2xx
(committed) or a 5xx (refused for good, in the inbound log with why) is done; a 4xx
(try again later) leaves the message as it is, for the next round. So a crash between
the two steps reads the message again, and the dedupe makes it one comment.

Between rounds it waits with IMAP IDLE (the server says when mail comes) or, without
IDLE, ``imap.poll_seconds``. A server that cannot be reached, refuses the login or
answers what it should not is logged with what it said and tried again with a backoff
that doubles up to 15 minutes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

import aioimaplib

from mailbridge.clock import Clock
from mailbridge.imap.recipient import envelope_sender, recipient_of
from mailbridge.inbound.fetched import deliver
from mailbridge.inbound.headers import parse_headers
from mailbridge.inbound.process import ReplyIntake, SmtpEnvelope
from mailbridge.settings import Settings

__all__ = ["DONE", "ImapInbox", "ImapProblem"]

log = logging.getLogger(__name__)

DONE = "$MailbridgeDone"
_ROUND = 200  # messages per round, at most: then IDLE is entered again, then the rest
_MAX_BACKOFF_SECONDS = 900.0


class ImapProblem(Exception):
    """The server answered NO or BAD, or something else than it should."""


class ImapInbox:
    def __init__(self, settings: Settings, intake: ReplyIntake, clock: Clock) -> None:
        self._imap = settings.imap
        self._reply_domain = settings.smtp.reply_domain
        self._intake = intake
        self._clock = clock
        self._failures = 0
        self.rounds = 0  # complete rounds, for tests and `mailbridge status`

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except (OSError, TimeoutError, ImapProblem, aioimaplib.Abort) as exc:
                delay = self._backoff()
                log.warning(
                    "imap %s:%d: %s; trying again in %.1f s",
                    self._imap.host, self._imap.port, exc or type(exc).__name__, delay,
                )  # fmt: skip
                await asyncio.sleep(delay)
            except Exception:  # never let one odd answer end the inbox
                delay = self._backoff()
                log.exception("imap: the inbox failed; trying again in %.1f s", delay)
                await asyncio.sleep(delay)

    def _backoff(self) -> float:
        self._failures += 1
        return float(min(self._imap.poll_seconds * 2**self._failures, _MAX_BACKOFF_SECONDS))

    async def _session(self) -> None:
        client = self._client()
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(self._imap.user, self._imap.password), "LOGIN")
            _ok(await client.select(self._imap.mailbox), f"SELECT {self._imap.mailbox}")
            while True:
                await self.drain(client)
                self._failures = 0
                self.rounds += 1
                if self._imap.idle and client.has_capability("IDLE"):
                    await self._idle(client)
                else:
                    await asyncio.sleep(self._imap.poll_seconds)
        finally:
            try:
                await asyncio.wait_for(client.logout(), 5)
            except (OSError, TimeoutError, aioimaplib.Abort, aioimaplib.CommandTimeout):
                pass  # going anyway

    def _client(self) -> aioimaplib.IMAP4:
        timeout = self._imap.timeout_seconds
        if self._imap.tls:
            context = ssl.create_default_context()
            return aioimaplib.IMAP4_SSL(
                self._imap.host, self._imap.port, timeout=timeout, ssl_context=context
            )
        return aioimaplib.IMAP4(self._imap.host, self._imap.port, timeout=timeout)

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        """Wait until the server says the mailbox changed, or ``poll_seconds``."""
        idle = await client.idle_start(timeout=self._imap.poll_seconds + 30)
        try:
            await client.wait_server_push(timeout=self._imap.poll_seconds)
        except TimeoutError:
            pass  # nothing came: a round anyway, then IDLE again
        finally:
            client.idle_done()
            await asyncio.wait_for(idle, self._imap.timeout_seconds)

    async def drain(self, client: aioimaplib.IMAP4) -> int:
        """File every message not yet done (up to ``_ROUND``); how many are done now."""
        found = await client.uid_search("UNKEYWORD", DONE, charset=None)
        _ok(found, "UID SEARCH")
        uids = [u for line in found.lines[:-1] for u in _text(line).split() if u.isdigit()]
        done = 0
        for uid in uids[:_ROUND]:
            raw = await self._fetch(client, uid)
            if raw is None:
                continue  # expunged meanwhile
            answer = await self._file(raw)
            if answer[:1] in ("2", "5"):  # committed, or refused for good: done
                await self._mark_done(client, uid)
                done += 1
            else:
                log.info("imap: message UID %s: %s; left for the next round", uid, answer)
        return done

    async def _fetch(self, client: aioimaplib.IMAP4, uid: str) -> bytes | None:
        response = await client.uid("fetch", uid, "(BODY.PEEK[])")
        _ok(response, f"UID FETCH {uid}")
        for line in response.lines:
            if isinstance(line, bytearray):  # the literal: the message itself
                return bytes(line)
        return None

    async def _file(self, raw: bytes) -> str:
        try:
            headers = parse_headers(raw)
            sender, rcpt = envelope_sender(headers), recipient_of(headers, self._reply_domain)
        except Exception:  # not a message at all: refused below, as "no such address"
            sender = rcpt = ""
        envelope = SmtpEnvelope(
            peer=f"imap:{self._imap.host}", helo="", mail_from=sender, rcpt_to=rcpt, raw=raw
        )
        answer = await deliver(self._intake, envelope)
        if answer.startswith("4"):
            log.info("imap: %s", answer)
        return answer

    async def _mark_done(self, client: aioimaplib.IMAP4, uid: str) -> None:
        _ok(await client.uid("store", uid, "+FLAGS", f"({DONE} \\Seen)"), f"UID STORE {uid}")
        target = self._imap.done_mailbox
        if target:
            if client.has_capability("MOVE"):
                _ok(await client.uid("move", uid, target), f"UID MOVE {uid}")
            else:  # copied there; flagged done, it is not read again here
                _ok(await client.uid("copy", uid, target), f"UID COPY {uid}")


def _ok(response: aioimaplib.Response, what: str) -> None:
    if response.result != "OK":
        said = " ".join(_text(line) for line in response.lines)[:300]
        raise ImapProblem(f"{what}: the server answered {response.result} {said}")


def _text(line: bytes | bytearray | str) -> str:
    return line.decode("utf-8", "replace") if isinstance(line, bytes | bytearray) else line
