"""Structured logs (issue 15): with --log-format json (or logfmt), every line the
daemon logs while it handles an inbound message carries that message's inbound id,
and every line about a delivery its outbox id; logfmt quotes what must be quoted; the
environment variable that picks the format is not refused as an unknown setting."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import pytest
from flows import reply_notification
from support import db_rows, reply_address, reply_to_notification, smtp_send, started

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
