"""Log lines for people (text) or for log collectors (JSON lines, logfmt), each with
the inbound message or outbox row it is about.

``inbound_id`` and ``outbox_id`` are context variables: the SMTP handler (or the IMAP
inbox, or a webhook) sets the first once a message is stored, the delivery worker the
second for each row it sends, each in its own task, so every line logged while that
message or row is handled carries it, in every module, without passing it around.
``--log-format`` (or ``MAILBRIDGE_LOG_FORMAT``) picks the format; logs go to standard
error, which journald and container runtimes collect and rotate.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["FORMATS", "ContextFilter", "configure", "inbound_id", "outbox_id"]

FORMATS = ("text", "json", "logfmt")
inbound_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("inbound_id", default=None)
outbox_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("outbox_id", default=None)
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ContextFilter(logging.Filter):
    """Adds ``inbound_id`` and ``outbox_id`` (None when unset) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.inbound_id = inbound_id.get()
        record.outbox_id = outbox_id.get()
        return True


def _fields(record: logging.LogRecord) -> dict[str, object]:
    fields: dict[str, object] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }
    for name in ("inbound_id", "outbox_id"):
        value = getattr(record, name, None)
        if value is not None:
            fields[name] = value
    if record.exc_info:
        fields["error"] = logging.Formatter().formatException(record.exc_info)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


def _logfmt_value(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\\\n\t'):
        return text
    # Quoted, with what would break the line or the quoting escaped.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\t", "\\t") + '"'


def configure(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "logfmt":
        handler.setFormatter(LogfmtFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[handler])
    # aiosmtpd logs every command at INFO, addresses included; keep ours, quiet theirs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
