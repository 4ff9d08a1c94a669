"""Structured logs (issue 15): with --log-format json (or logfmt), every line the
daemon logs while it handles an inbound message carries that message's inbound id,
and every line about a delivery its outbox id; logfmt quotes what must be quoted; the
environment variable that picks the format is not refused as an unknown setting."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from flows import post_comment, reply_notification
from support import (
    db_rows,
    free_port,
    reply_address,
    reply_to_notification,
    smtp_send,
    started,
    until,
)

from mailbridge.cli import cli
from mailbridge.logfmt import ContextFilter, JsonFormatter, LogfmtFormatter


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.mark.asyncio
async def test_json_lines_carry_the_inbound_and_outbox_ids(
    tmp_path: Path, json_lines: io.StringIO
) -> None:
    async with started(tmp_path) as daemon:
        note = await reply_notification(daemon)
        reply = reply_to_notification(note, "Logged well.", message_id="<log-1@client.example>")
        code = await smtp_send(daemon, "reader002.4a549d@example.org", reply_address(note),
                               reply.as_bytes())  # fmt: skip
        assert code.startswith("250")
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    accepted = [x for x in lines if "accepted as comment" in x["message"]]
    assert len(accepted) == 1 and accepted[0]["inbound_id"] == 1
    assert {"time", "level", "logger", "message"} <= set(accepted[0])
    sent = [x for x in lines if "sent via maildir" in x["message"]]
    assert sent and all(x["outbox_id"] == int(x["message"].split()[1]) for x in sent)
    assert all("inbound_id" not in x for x in sent)  # the worker's own task
    # Lines about nothing in particular carry neither.
    assert any("inbound_id" not in x and "outbox_id" not in x for x in lines)


def test_logfmt_quotes_what_must_be() -> None:
    record = logging.LogRecord("mailbridge.x", logging.WARNING, __file__, 1,
                               'said "hi"\nthen = left', None, None)  # fmt: skip
    record.inbound_id, record.outbox_id = 7, None
    line = LogfmtFormatter().format(record)
    assert "level=warning logger=mailbridge.x" in line
    assert 'message="said \\"hi\\"\\nthen = left" inbound_id=7' in line
    assert "outbox_id" not in line and "\n" not in line


def test_the_format_variable_is_not_an_unknown_setting(tmp_path: Path) -> None:
    from mailbridge.settings import load_settings

    settings = load_settings(None, environ={"MAILBRIDGE_LOG_FORMAT": "json"},
                             overrides={"data_dir": str(tmp_path)})  # fmt: skip
    assert settings.data_dir == str(tmp_path)


@pytest.mark.asyncio
async def test_refused_recipients_are_logged_without_tokens_or_addresses(
    tmp_path: Path, json_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reply refused at RCPT for a limit holds a valid reply address: the log line
    # showed it whole, and whoever read the logs could answer as its reader.
    # aiosmtpd's own INFO lines name every recipient: `configure` quiets them, as here.
    monkeypatch.setattr(logging.getLogger("mail.log"), "level", logging.WARNING)
    async with started(tmp_path, limits={"comments_per_thread_per_hour": 1}) as daemon:
        note = await reply_notification(daemon)  # Ann's comment used the hour's one
        address = reply_address(note)
        reply = reply_to_notification(note, "One too many.", message_id="<limit@x>")
        host, port = daemon.smtp_address
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as limited:
            await aiosmtplib.send(reply, recipients=[address], hostname=host, port=port,
                                  start_tls=False)  # fmt: skip
        assert limited.value.recipients[0].code == 450
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await aiosmtplib.send(reply, recipients=["victim@elsewhere.example"],
                                  hostname=host, port=port, start_tls=False)  # fmt: skip
        # The operator still finds both whole in the inbound log (the database).
        rows = await db_rows(daemon, "SELECT rcpt_to, reason FROM inbound_messages "
                             "WHERE stage = 'rcpt' ORDER BY id")  # fmt: skip
    assert rows == [(address, "thread_rate_limited"), ("victim@elsewhere.example", "relay_denied")]
    token = address.split("+", 1)[1].split("@", 1)[0]
    text = json_lines.getvalue()
    assert token not in text and "victim@" not in text
    refused = [json.loads(x)["message"] for x in text.splitlines() if "refused:" in x]
    assert any("<reply+***@reply.example.org> refused: thread_rate_limited" in x for x in refused)
    assert any("<***@elsewhere.example> refused: relay_denied" in x for x in refused)


class EchoingRelay:
    """A relay that names the recipient in its refusals, as Postfix does: greylisted
    first ("450 4.2.0 <ann@...>: Recipient address rejected"), then unknown (550)."""

    def __init__(self) -> None:
        self.answers = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.answers += 1
        rcpt = envelope.rcpt_tos[0]
        if self.answers == 1:
            return f"450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, try again"
        return f"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"


@pytest.mark.asyncio
async def test_a_relay_naming_the_recipient_is_logged_without_the_address(
    tmp_path: Path, json_lines: io.StringIO
) -> None:
    # The worker logged the relay's answer whole ("attempt 1 failed (...450 4.2.0
    # <ann@example.com>: Recipient address rejected...)", "refused permanently: 550
    # 5.1.1 <ann@example.com>..."), and `mailbridge status` printed it among the recent
    # errors: the commenter's address in the journal, where an erasure never reaches,
    # while every inbound line says ***@domain. `mailbridge outbox ID` keeps it whole.
    relay = EchoingRelay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        outbound = {"transport": f"smtp://127.0.0.1:{controller.port}", "retry_base_seconds": 0.1}
        async with started(tmp_path, outbound=outbound) as daemon:
            await post_comment(daemon, author="Zed", email="zed.person@example.com",
                               notify=True, body="Tell me about replies.")  # fmt: skip
            failed = await until("the confirmation refused for good", lambda: db_rows(
                daemon, "SELECT id FROM outbox WHERE status = 'failed' "
                "AND rcpt_to = 'zed.person@example.com'"))  # fmt: skip
            data_dir = daemon.settings.data_path
    finally:
        controller.stop()
    # mailbridge's lines (the test relay's aiosmtpd logs its own as mail.log).
    text = "\n".join(
        line for line in json_lines.getvalue().splitlines()
        if json.loads(line)["logger"].startswith("mailbridge")
    )  # fmt: skip
    assert "Greylisted" in text and "User unknown" in text  # the relay's answers are there
    assert "zed.person@" not in text, [x for x in text.splitlines() if "zed.person@" in x]
    assert "<***@example.com>: Recipient address rejected: User unknown" in text
    runner = CliRunner()
    shown = await asyncio.to_thread(runner.invoke, cli, ["status", "--data-dir", str(data_dir)],
                                    env={})  # fmt: skip
    assert "Recipient address rejected" in shown.output and "zed.person@" not in shown.output
    one = await asyncio.to_thread(
        runner.invoke, cli, ["outbox", str(failed[0][0]), "--data-dir", str(data_dir)], env={}
    )
    assert "<zed.person@example.com>: Recipient address rejected: User unknown" in one.output
