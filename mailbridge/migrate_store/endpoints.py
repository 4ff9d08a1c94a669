"""The two ends of a copy: the configured store (the source) and ``--to``.

A SQLite end is a database file: ``--to`` takes ``sqlite:///absolute/path``, a plain
path, or a directory (a data directory: its ``mailbridge.sqlite3``). A PostgreSQL end
is a ``postgresql://`` (or ``postgres://``) URL; it is only ever shown without its
password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from mailbridge.errors import ConfigError

if TYPE_CHECKING:
    from mailbridge.settings import Settings

__all__ = ["Endpoint", "MigrateRefused", "destination_of", "redacted", "scrubbed", "source_of"]

Engine = Literal["sqlite", "postgresql"]
_DATABASE_FILE = "mailbridge.sqlite3"  # as Settings.database_path


class MigrateRefused(ConfigError):
    """The copy cannot start or go on (the message says why and what to do)."""


@dataclass(frozen=True)
class Endpoint:
    engine: Engine
    # A SQLite file's absolute path, or a PostgreSQL URL (with its password).
    location: str

    @property
    def path(self) -> Path:
        assert self.engine == "sqlite"
        return Path(self.location)

    @property
    def shown(self) -> str:
        """For messages and the bookkeeping: never the password."""
        if self.engine == "sqlite":
            return f"sqlite://{self.location}"
        return redacted(self.location)


def redacted(url: str) -> str:
    """``url`` without its password (user, host, port and database stay)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def scrubbed(text: str, url: str) -> str:
    """``text`` (a driver's error message, maybe on several lines) on one line, with
    ``url``'s password taken out, if any."""
    text = text.replace(url, redacted(url))
    password = urlsplit(url).password
    if password:
        text = text.replace(password, "***")
    return " ".join(text.split())


def source_of(settings: Settings) -> Endpoint:
    """The configured store: ``data_url`` when set, else the data directory's SQLite."""
    if settings.data_url:
        return Endpoint("postgresql", settings.data_url)
    return Endpoint("sqlite", str(settings.database_path))


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def destination_of(to: str) -> Endpoint:
    """What ``--to`` names; :class:`MigrateRefused` for a scheme it cannot copy to."""
    text = to.strip()
    if text.startswith(("postgresql://", "postgres://")):
        return Endpoint("postgresql", text)
    if text.startswith("sqlite:///"):
        return _sqlite_path(text.removeprefix("sqlite://"))
    if text.startswith("sqlite:"):
        raise MigrateRefused("--to: a SQLite URL takes an absolute path: sqlite:///absolute/path")
    match = _SCHEME.match(text)
    if match and "://" in text:
        raise MigrateRefused(
            f"--to: unknown scheme '{match.group(1)}:'; expected postgresql://user:password@"
            "host:port/dbname, sqlite:///absolute/path or a file path"
        )
    if not text:
        raise MigrateRefused("--to: empty; expected a postgresql:// URL or a SQLite path")
    return _sqlite_path(text)


def _sqlite_path(text: str) -> Endpoint:
    path = Path(text).expanduser()
    if text.endswith("/") or path.is_dir():
        path = path / _DATABASE_FILE
    return Endpoint("sqlite", str(path.resolve()))
