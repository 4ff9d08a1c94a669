"""Mutated messages through the whole SMTP path: a real daemon, a real SMTP client.

Hypothesis builds each case from a real reply (plain, HTML, quoted-printable, base64,
an attachment, encoded words) to a real reply address, then mutates it: bytes
inserted, deleted, repeated or flipped; header lines from a soup of hostile ones; the
message cut short; line ends changed. The envelope varies too: the right sender or
another, a valid reply address or a broken one, postmaster, a bounce address.

For every case: an SMTP answer to every command (a reconnect only after the 421 that
closes a session with too many refused recipients); the DATA answer is one of the codes
mailbridge gives on purpose, never the 451 of an internal error; and the message is in
the inbound log. After all cases: no traceback and no "session error" in the log.
The daemon runs in a thread with its own event loop, so that the cases (synchronous,
as Hypothesis runs them) drive it over loopback like any client.

MAX_EXAMPLES cases per run (10,000; the environment's FUZZ_EXAMPLES to change it: CI's
second run, with the tools hidden, runs 1,000). Derandomized: the same cases on every
run of the same code, so that CI does not fail at random; a failure prints its case.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import smtplib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import import_seed, make_settings, no_dmarc_zone, store_rows

from mailbridge.app import running
from mailbridge.settings import Settings
from mailbridge.tokens import make_reply_token

# Not MAILBRIDGE_*: the settings refuse unknown keys of their own prefix.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10000"))
# What mailbridge answers DATA with on purpose (docs/rejections.md); 451 4.3.0 is
# "temporary local problem": an exception, which a hostile message must never cause.
DATA_CODES = {250, 450, 451, 452, 550, 552, 554}
INTERNAL_ERROR = "4.3.0"

HEADER_SOUP = [
    b"Content-Type: multipart/mixed; boundary=",
    b'Content-Type: multipart/alternative; boundary="b"',
    b"Content-Type: text/html; charset=x-unknown",
    b"Content-Type: text/plain; charset=\x00utf-8",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Disposition: attachment; filename*=utf-8''%FF%FE",
    b"Subject: =?utf-8?B?////?= =?iso-2022-jp?Q?=1B$B?=",
    b"From: =?utf-8?Q?=00?= <a@b>",
    b"From: <>",
    b'From: "" <@>',
    b"Message-ID: <>",
    b"In-Reply-To: <<<>>>",
    b"Auto-Submitted: auto-replied",
    b"Content-Type: message/delivery-status",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=r",
    b"--b",
    b"--b--",
    b"\t folded continuation",
    b"X-" + b"a" * 2000 + b": long",
    b": no name",
    b"\xff\xfe\xfd",
]


def bases(person: str, rcpt: str) -> list[bytes]:
    """Real-looking replies in several shapes."""
    plain = EmailMessage()
    plain["From"] = f"Reader <{person}>"
    plain["To"] = rcpt
    plain["Subject"] = "Re: Attachment Theory — the healing relationship"
    plain["Message-ID"] = "<base@client.example>"
    plain.set_content(
        "Thank you, that helps.\n\nOn Mon, 1 Dec 2026, Blog <comments@example.org> wrote:\n"
        "> the quoted notification\n> more of it\n\n-- \nReader\n"
    )
    html = EmailMessage()
    for name in ("From", "To", "Subject", "Message-ID"):
        html[name] = plain[name]
    html.set_content("Plain part. Grüße.", cte="quoted-printable")
    html.add_alternative(
        "<p>HTML <b>part</b></p><blockquote>quoted</blockquote><div>Sent from my phone</div>",
        subtype="html",
    )
    html.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(200), maintype="image", subtype="png")
    encoded = EmailMessage()
    for name in ("From", "To", "Message-ID"):
        encoded[name] = plain[name]
    encoded["Subject"] = "Re: Привет 日本語"
    encoded.set_content("Ответ на комментарий.\n> цитата\n", cte="base64")
    return [m.as_bytes() for m in (plain, html, encoded)]


def mutate(raw: bytes, edits: list[tuple[int, int, int, bytes]]) -> bytes:
    data = bytearray(raw)
    for kind, at, size, junk in edits:
        where = at % (len(data) + 1)
        if kind == 0:
            data[where:where] = junk
        elif kind == 1:
            del data[where : where + size]
        elif kind == 2:
            data[where:where] = data[where : where + size] * 3
        elif kind == 3 and data:
            data[min(where, len(data) - 1)] ^= 1 << (size % 8)
        elif kind == 4:
            line = HEADER_SOUP[size % len(HEADER_SOUP)]
            data[where:where] = b"\r\n" + line + b"\r\n"
        elif kind == 5:
            del data[where:]
        elif kind == 6:
            data = bytearray(bytes(data).replace(b"\r\n", b"\n"))
    return bytes(data)


EDITS = st.lists(
    st.tuples(
        st.integers(0, 6), st.integers(0, 20_000), st.integers(0, 300), st.binary(max_size=80)
    ),
    max_size=6,
)


class Background:
    """The whole daemon in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.daemon: Any = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running(self.settings, resolver=no_dmarc_zone()) as daemon:
            self.daemon = daemon
            self._ready.set()
            await self._stop.wait()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by the test thread
            self._failure = exc
            self._ready.set()

    @contextmanager
    def serving(self) -> Iterator[Any]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        assert self._ready.wait(60) and self._failure is None, self._failure
        try:
            yield self.daemon
        finally:
            assert self._loop is not None and self._stop is not None
            self._loop.call_soon_threadsafe(self._stop.set)
            thread.join(60)


class Client:
    """One SMTP connection, reused across cases, reopened only after a 421."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.smtp: smtplib.SMTP | None = None
        self.reopened = 0

    def connection(self) -> smtplib.SMTP:
        if self.smtp is None:
            self.smtp = smtplib.SMTP(self.host, self.port, timeout=30)
            self.smtp.ehlo("fuzz.example")
        return self.smtp

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    def transaction(self, sender: str, rcpt: str, data: bytes) -> tuple[int, int | None]:
        """(RCPT's code, DATA's code or None when RCPT was refused)."""
        smtp = self.connection()
        code, _ = smtp.mail(sender)
        assert code == 250, code
        rcpt_code, text = smtp.rcpt(rcpt)
        if rcpt_code == 421:  # too many refused recipients: the session is over
            self.close()
            self.reopened += 1
            return rcpt_code, None
        if rcpt_code != 250:
            assert 400 <= rcpt_code < 600, (rcpt_code, text)
            smtp.rset()
            return rcpt_code, None
        smtp.putcmd("data")
        code, text = smtp.getreply()
        assert code == 354, (code, text)
        payload = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r\n|\n|\r", b"\r\n", data))
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        smtp.send(payload + b".\r\n")
        code, text = smtp.getreply()
        assert code in DATA_CODES, (code, text)
        assert not (code == 451 and INTERNAL_ERROR.encode() in text), text
        return rcpt_code, code


@pytest.fixture
def fuzz_settings(tmp_path: Path) -> Settings:
    settings = make_settings(
        tmp_path,
        limits={
            "messages_per_sender_per_hour": 100_000,
            "comments_per_thread_per_hour": 100_000,
        },
    )
    asyncio.run(import_seed(settings))
    return settings


def test_mutated_messages_through_the_whole_smtp_path(
    fuzz_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with Background(fuzz_settings).serving() as daemon:
        # Read from this thread on a store of its own, as a command would, on the
        # suite's engine (the daemon's loop is the other thread's).
        [(address_id, person, comment_id)] = asyncio.run(
            store_rows(
                fuzz_settings,
                "SELECT a.id, a.email, c.id FROM comments c "
                "JOIN addresses a ON a.id = c.address_id WHERE c.id = 2",
            )
        )
        good = make_reply_token(
            daemon.keyring.reply, address_id, comment_id, date.today() + timedelta(days=30)
        )
        domain = fuzz_settings.smtp.reply_domain
        rcpts = [
            *[f"reply+{good}@{domain}"] * 4,  # most cases reach DATA
            f"reply+{good[:-2]}zz@{domain}",
            f"postmaster@{domain}",
            f"bounce+abc@{domain}",
            f"someone@{domain}",
        ]
        senders = [person, "other@example.net", ""]
        shapes = bases(person, rcpts[0])
        client = Client(*daemon.smtp_address)
        counts = {"data": 0, "rcpt_refused": 0}

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            shape=st.integers(0, len(shapes) - 1),
            edits=EDITS,
            sender=st.sampled_from(senders),
            rcpt=st.sampled_from(rcpts),
            number=st.integers(0, 10**9),
        )
        def case(shape: int, edits: list[tuple[int, int, int, bytes]], sender: str, rcpt: str,
                 number: int) -> None:  # fmt: skip
            # A fresh Message-ID most of the time, so cases are not only redeliveries.
            raw = shapes[shape].replace(b"<base@client.example>", f"<f{number}@x>".encode())
            _rcpt_code, data_code = client.transaction(sender, rcpt, mutate(raw, edits))
            if data_code is None:
                counts["rcpt_refused"] += 1
            else:
                counts["data"] += 1

        try:
            case()
        finally:
            client.close()
        [(logged,)] = asyncio.run(
            store_rows(
                fuzz_settings,
                "SELECT coalesce(sum(deliveries), 0) FROM inbound_messages WHERE stage = 'data'",
            )
        )
    # Every DATA answered is in the inbound log (a redelivery counts on its first row).
    assert logged == counts["data"], (logged, counts)
    assert counts["data"] > MAX_EXAMPLES // 4, counts  # the path past RCPT was exercised
    assert "Traceback" not in caplog.text
    assert "session error" not in caplog.text
    print(f"{MAX_EXAMPLES} cases: {counts}, {client.reopened} sessions closed by 421")
