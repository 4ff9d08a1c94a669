"""Replies read from a mailbox over IMAP, for those who cannot receive mail on port 25.

The mailbox receives the reply addresses (a catch-all of the reply domain, or aliases
for its prefixes). Each message not yet done goes through the same pipeline as one
received over SMTP (ReplyIntake: the inbound log, the checks, the dedupe by
Message-ID), and only once that pipeline has answered for good is the message marked
done there: flagged ``$MailbridgeDone`` (and ``\\Seen``), and moved to
``imap.done_mailbox`` when one is set. What the SMTP service would answer with a 2xx
(committed) or a 5xx (refused for good, in the inbound log with why) is done; a 4xx
(try again later) leaves the message as it is, for the next round. So a crash between
the two steps reads the message again, and the dedupe makes it one comment; a crash
between the flag and the move is made good by the next session (_move_stranded). A
message larger than ``smtp.max_message_size`` is refused without being read.

Between rounds it waits with IMAP IDLE (the server says when mail comes) or, without
IDLE, ``imap.poll_seconds``. A server that cannot be reached, refuses the login or
answers what it should not is logged with what it said and tried again with a backoff
that doubles up to 15 minutes; a closed connection is noticed at once
(_watched_session). /metrics counts the failures in a row.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl

import aioimaplib

from mailbridge.clock import Clock
from mailbridge.imap.recipient import HEADER_NAMES, envelope_sender, recipient_of
from mailbridge.inbound.fetched import TRY_LATER, deliver
from mailbridge.inbound.headers import parse_headers
from mailbridge.inbound.process import ReplyIntake, SmtpEnvelope
from mailbridge.inbound.recipients import loggable
from mailbridge.jobs.failure_log import FailureLog
from mailbridge.metrics import Metrics
from mailbridge.rejections import MessageTooLarge
from mailbridge.settings import Settings

__all__ = ["DONE", "ImapInbox", "ImapProblem"]

log = logging.getLogger(__name__)

DONE = "$MailbridgeDone"
_ROUND = 200  # messages per round, at most: then IDLE is entered again, then the rest
_MAX_BACKOFF_SECONDS = 900.0
_FIRST_RETRY_SECONDS = 1.0
_SIZE = re.compile(r"RFC822\.SIZE (\d+)")
_NAMES = " ".join(HEADER_NAMES)


class ImapProblem(Exception):
    """The server answered NO or BAD, or something else than it should."""


class ImapInbox:
    def __init__(
        self,
        settings: Settings,
        intake: ReplyIntake,
        clock: Clock,
        metrics: Metrics | None = None,
        failure_log: FailureLog | None = None,
    ) -> None:
        self._imap = settings.imap
        self._failure_log = failure_log  # for `mailbridge status`: the gauges are ours
        self._metrics = metrics
        self._reply_domain = settings.smtp.reply_domain
        self._limit = settings.smtp.max_message_size
        self._intake = intake
        self._clock = clock
        self._failures = 0
        # The current session, and what its connection did (_watched_session).
        self._current: asyncio.Task[None] | None = None
        self._lost: ConnectionError | None = None
        self._filing = self._closing = False
        self._move_to = ""  # imap.done_mailbox, once the session found it on the server
        self.rounds = 0  # complete rounds, for tests and `mailbridge status`

    async def run(self) -> None:
        if self._failure_log is not None:  # run again once the lead comes back here
            self._failure_log.may_have_failed("imap")
        while True:
            try:
                await self._watched_session()
            except (OSError, TimeoutError, ImapProblem, aioimaplib.Abort,
                    aioimaplib.CommandTimeout) as exc:  # fmt: skip
                delay = self._backoff()
                said = self._said(exc)
                log.warning(
                    "imap %s:%d: %s; trying again in %.1f s",
                    self._imap.host, self._imap.port, said, delay,
                )  # fmt: skip
                await self._record(f"{self._imap.host}:{self._imap.port}: {said}")
                await asyncio.sleep(delay)
            except Exception as exc:  # never let one odd answer end the inbox
                delay = self._backoff()
                log.exception("imap: the inbox failed; trying again in %.1f s", delay)
                await self._record(f"the inbox failed: {type(exc).__name__}: {exc}")
                await asyncio.sleep(delay)

    async def _record(self, said: str) -> None:
        if self._failure_log is not None:
            await self._failure_log.failed("imap", said)

    def _said(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError | aioimaplib.CommandTimeout) and not str(exc):
            return f"no answer within {self._imap.timeout_seconds:g} s (imap.timeout_seconds)"
        if isinstance(exc, ConnectionRefusedError):  # said as "[Errno 111] Connect call failed"
            return (
                f"{exc} (connection refused: nothing listens there; the server is down, or "
                "imap.host or imap.port is wrong)"
            )
        return str(exc) or type(exc).__name__

    def _backoff(self) -> float:
        """A second the first time (most often a server restarting, or a connection a
        NAT forgot), then ``poll_seconds``, doubling up to 15 minutes; a round that
        completes starts it over."""
        self._failures += 1
        if self._metrics is not None:
            self._metrics.imap_failures.set(self._failures)
        if self._failures == 1:
            return min(_FIRST_RETRY_SECONDS, self._imap.poll_seconds)
        delay = self._imap.poll_seconds * 2 ** (self._failures - 2)
        return float(min(delay, _MAX_BACKOFF_SECONDS))

    async def _watched_session(self) -> None:
        """The session, ended as soon as the server closes the connection: aioimaplib
        leaves a command waiting on a closed connection until it times out (an IDLE,
        ``poll_seconds`` and then ``timeout_seconds``). Never while a message is being
        filed: that finishes, and the session ends right after it."""
        self._lost = None
        self._filing = self._closing = False
        session = asyncio.create_task(self._session(), name="mailbridge-imap-session")
        self._current = session
        try:
            await session
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if self._lost is None or (me is not None and me.cancelling()):
                raise  # stopping: not the connection
            raise self._lost from None
        finally:
            self._current = None

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._closing or self._lost is not None:
            return
        why = f": {exc}" if exc else ""
        self._lost = ConnectionError(f"the server closed the connection{why}")
        if not self._filing and self._current is not None:
            self._current.cancel()

    async def _session(self) -> None:
        client = self._client()
        client.protocol.conn_lost_cb = self._connection_lost  # IMAP4_SSL takes none itself
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(self._imap.user, self._imap.password), "LOGIN")
            _ok(await client.select(self._imap.mailbox),
                f"SELECT {self._imap.mailbox} (imap.mailbox)")  # fmt: skip
            self._move_to = await self._done_mailbox(client)
            if self._move_to and client.has_capability("MOVE"):
                await self._move_stranded(client)
            while True:
                _stop_if_asked()
                await self.drain(client)
                self._failures = 0
                self.rounds += 1
                if self._failure_log is not None:
                    await self._failure_log.succeeded("imap")
                if self._metrics is not None:
                    self._metrics.imap_failures.set(0)
                    self._metrics.imap_last_round.set(self._clock.now().timestamp())
                if self._imap.idle and client.has_capability("IDLE"):
                    await self._idle(client)
                else:
                    await asyncio.sleep(self._imap.poll_seconds)
        finally:
            self._closing = True
            try:
                if self._lost is None:  # nobody to say goodbye to otherwise
                    await asyncio.wait_for(client.logout(), 5)
            except (OSError, TimeoutError, aioimaplib.Abort, aioimaplib.CommandTimeout):
                pass  # going anyway
            finally:
                # aioimaplib leaves the socket to the server to close after LOGOUT: a
                # LOGOUT not answered (a login still delayed, a stop) left it open.
                if client.protocol.transport is not None:
                    client.protocol.transport.close()

    async def _done_mailbox(self, client: aioimaplib.IMAP4) -> str:
        """``imap.done_mailbox`` if the server has it, else "" (said once a session): a
        MOVE there would fail after each message is filed, and end the session each time
        (one message per backoff, up to 15 minutes each). Replies go on being filed."""
        target = self._imap.done_mailbox
        if not target:
            return ""
        response = await client.status(target, "(MESSAGES)")
        if response.result != "OK":
            said = " ".join(_text(line) for line in response.lines)[:300]
            log.warning(
                "imap %s:%d: imap.done_mailbox %r: the server answered %s %s; messages done "
                "stay in %s, flagged %s, until it is created",
                self._imap.host, self._imap.port, target, response.result, said,
                self._imap.mailbox, DONE,
            )  # fmt: skip
            return ""
        return target

    def _client(self) -> aioimaplib.IMAP4:
        timeout = self._imap.timeout_seconds
        if self._imap.tls:
            context = ssl.create_default_context()
            return aioimaplib.IMAP4_SSL(
                self._imap.host, self._imap.port, timeout=timeout, ssl_context=context
            )
        return aioimaplib.IMAP4(self._imap.host, self._imap.port, timeout=timeout)

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        """Wait until the server says the mailbox changed, or ``poll_seconds``.

        A NO, BAD or BYE said while idling ends the session (_idle_trouble): Dovecot
        whose selected mailbox was deleted and made again at the wrong moment answers
        every IDLE at once with "NO Internal error occurred", never closes, and shows
        the old mailbox until a new login; taken as news of mail, each NO made a round
        and IDLE again at once, hundreds a second, without end."""
        idle = await client.idle_start(timeout=self._imap.poll_seconds + 30)
        pushed: object = None
        try:
            pushed = await client.wait_server_push(timeout=self._imap.poll_seconds)
        except TimeoutError:
            pass  # nothing came: a round anyway, then IDLE again
        finally:
            bye = _idle_trouble(pushed, ("BYE",))
            if bye and self._lost is None:  # it closes: no DONE, no LOGOUT
                self._lost = ConnectionError(f"the server closed the connection: {bye}")
            if self._lost is None:  # else there is nobody to end it with
                client.idle_done()
                await asyncio.wait_for(idle, self._imap.timeout_seconds)
        if self._lost is not None:
            raise self._lost
        said = _idle_trouble(pushed, ("NO", "BAD"))
        if said:
            raise ImapProblem(f"IDLE: the server answered {said}")

    async def drain(self, client: aioimaplib.IMAP4) -> int:
        """File every message not yet done, ``_ROUND`` at a time; how many are done now.

        Each message is tried once a round: one left for later (a 4xx) is not tried
        again until the next, so messages that keep failing never hold up the ones
        behind them, and a mailbox of thousands is read at once, not one batch per
        ``poll_seconds``."""
        tried: set[str] = set()  # also ends the round on a server that keeps no keywords
        done = 0
        while True:
            found = await client.uid_search("UNKEYWORD", DONE, charset=None)
            _ok(found, "UID SEARCH")
            uids = [
                u
                for line in found.lines[:-1]
                for u in _text(line).split()
                if u.isdigit() and u not in tried
            ]
            for uid in uids[:_ROUND]:
                tried.add(uid)
                answer = await self._one(client, uid)
                if answer is None:
                    continue  # expunged meanwhile
                if answer[:1] in ("2", "5"):  # committed, or refused for good: done
                    await self._mark_done(client, uid)
                    done += 1
                else:
                    log.info("imap: message UID %s: %s; left for the next round", uid, answer)
            if len(uids) <= _ROUND:
                return done

    async def _one(self, client: aioimaplib.IMAP4, uid: str) -> str | None:
        """The SMTP reply for message ``uid``; None if it is gone."""
        response = await client.uid("fetch", uid, "(RFC822.SIZE)")
        _ok(response, f"UID FETCH {uid} (RFC822.SIZE)")
        sizes = [int(m[1]) for line in response.lines if (m := _SIZE.search(_text(line)))]
        if not sizes:
            return None
        if sizes[0] > self._limit:  # never read into memory, as SMTP would refuse it (552)
            return await self._too_large(client, uid, sizes[0])
        raw = await self._fetch(client, uid)
        if raw is None:
            return None
        self._filing = True
        try:
            answer = await self._file(raw)
        finally:
            self._filing = False
        if self._lost is not None:  # lost while filing: it is not marked; read it again
            raise self._lost
        return answer

    async def _fetch(self, client: aioimaplib.IMAP4, uid: str) -> bytes | None:
        response = await client.uid("fetch", uid, "(BODY.PEEK[])")
        _ok(response, f"UID FETCH {uid}")
        for line in response.lines:
            if isinstance(line, bytearray):  # the literal: the message itself
                return bytes(line)
        return None

    async def _too_large(self, client: aioimaplib.IMAP4, uid: str, size: int) -> str:
        """Refuse for good, in the inbound log, a message larger than the SMTP service
        takes; only the headers naming its sender and recipient are read (64 KB at most)."""
        fields = f"(BODY.PEEK[HEADER.FIELDS ({_NAMES})]<0.65536>)"
        response = await client.uid("fetch", uid, fields)
        _ok(response, f"UID FETCH {uid} (headers)")
        literal = next((bytes(x) for x in response.lines if isinstance(x, bytearray)), b"")
        try:
            headers = parse_headers(literal)
            sender, rcpt = envelope_sender(headers), recipient_of(headers, self._reply_domain)
        except Exception:  # unreadable headers: logged without them
            sender = rcpt = ""
        refusal = MessageTooLarge(
            f"The message ({size} bytes) is larger than this server accepts "
            f"({self._limit} bytes, smtp.max_message_size)."
        )
        peer = f"imap:{self._imap.host}"
        # Addresses as the other refusals log them: the reply address's token is valid.
        log.warning("%s: message UID %s from <%s> to <%s> refused: %s",
                    peer, uid, loggable(sender), loggable(rcpt), refusal.smtp_reply)  # fmt: skip
        self._filing = True
        try:
            await self._intake.log_refusal(
                peer=peer, helo="", mail_from=sender, rcpt_to=rcpt, rejection=refusal
            )
        except Exception:  # in the inbound log before it is marked done, or not done
            log.exception("%s: the refusal could not be logged; try again later", peer)
            return TRY_LATER
        finally:
            self._filing = False
        if self._lost is not None:
            raise self._lost
        return refusal.smtp_reply

    async def _file(self, raw: bytes) -> str:
        try:
            headers = parse_headers(raw)
            sender, rcpt = envelope_sender(headers), recipient_of(headers, self._reply_domain)
        except Exception:  # not a message at all: refused below, as "no such address"
            sender = rcpt = ""
        envelope = SmtpEnvelope(
            peer=f"imap:{self._imap.host}",
            helo="",
            mail_from=sender,
            rcpt_to=rcpt,
            raw=raw,
            fetched=True,
        )
        answer = await deliver(self._intake, envelope)
        if answer.startswith("4"):
            log.info("imap: %s", answer)
        return answer

    async def _move_stranded(self, client: aioimaplib.IMAP4) -> None:
        """Move the messages flagged done but still here: mailbridge stopped between the
        flag and the MOVE. Flagged, they are never read again, so nothing else would."""
        found = await client.uid_search("KEYWORD", DONE, charset=None)
        _ok(found, "UID SEARCH KEYWORD")
        uids = [u for line in found.lines[:-1] for u in _text(line).split() if u.isdigit()]
        for start in range(0, len(uids), _ROUND):
            some = ",".join(uids[start : start + _ROUND])
            _ok(await client.uid("move", some, self._move_to), f"UID MOVE {some}")
        if uids:
            log.info("imap: %d message(s) done but not moved, moved now", len(uids))

    async def _mark_done(self, client: aioimaplib.IMAP4, uid: str) -> None:
        _ok(await client.uid("store", uid, "+FLAGS", f"({DONE} \\Seen)"), f"UID STORE {uid}")
        target = self._move_to
        if target:
            if client.has_capability("MOVE"):
                _ok(await client.uid("move", uid, target), f"UID MOVE {uid}")
            else:  # copied there; flagged done, it is not read again here
                _ok(await client.uid("copy", uid, target), f"UID COPY {uid}")


def _ok(response: aioimaplib.Response, what: str) -> None:
    if response.result != "OK":
        said = " ".join(_text(line) for line in response.lines)[:300]
        raise ImapProblem(f"{what}: the server answered {response.result} {said}")


def _stop_if_asked() -> None:
    """Raise the cancellation (a stop, a closed connection) a library call lost: under
    Python 3.11 asyncio.wait_for, which aioimaplib waits with, returns the result of
    what it waited for instead of raising when the cancellation comes as that completes
    (CPython gh-86296). A session so stopped went on reading the mailbox after its
    daemon had stopped ("task mailbridge-imap did not stop")."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _idle_trouble(pushed: object, kinds: tuple[str, ...]) -> str:
    """The first untagged response of one of ``kinds`` (NO, BAD, BYE) among the lines
    aioimaplib gives for one wait in IDLE (without their "* "), with what it said; ""
    if none (news of mail, a keepalive, nothing)."""
    if not isinstance(pushed, list):  # None, or aioimaplib's stop_wait_server_push
        return ""
    for line in pushed:
        text = _text(line).strip() if isinstance(line, bytes | bytearray | str) else ""
        if text.split(" ", 1)[0].upper() in kinds:
            return text[:300]
    return ""


def _text(line: bytes | bytearray | str) -> str:
    return line.decode("utf-8", "replace") if isinstance(line, bytes | bytearray) else line
