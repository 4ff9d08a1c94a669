"""``mailbridge backup FILE``: a consistent copy of the database while the daemon runs.

SQLite's online backup API (``sqlite3.Connection.backup``) copies the database page by
page from a read transaction, so the copy is one consistent moment even while the
daemon writes (WAL lets both go on). The copy is written next to FILE, synced, checked
with ``PRAGMA integrity_check`` and only then renamed to FILE: a backup that exists is
whole. Mode 0600: it holds every commenter's address. Restoring is in
docs/operating.md#backup-and-restore.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mailbridge.errors import DataDirUnusable, MailbridgeError

__all__ = ["BackupRefused", "BackupResult", "backup", "is_the_database"]

_PAGES_PER_STEP = 1024  # then the daemon's writers get a turn


class BackupRefused(MailbridgeError):
    """FILE cannot be the backup's target; the message says why."""


def is_the_database(database: Path, target: Path) -> bool:
    """Whether ``target`` is ``database`` or one of its -wal, -shm, -journal files."""
    names = {database.name + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    if target.resolve().parent == database.resolve().parent and target.name in names:
        return True
    try:
        return target.exists() and os.path.samefile(target, database)
    except OSError:
        return False


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    comments: int


def backup(database: Path, target: Path) -> BackupResult:
    """Copy ``database`` to ``target`` (see the module doc)."""
    if not database.exists():
        raise DataDirUnusable(database, "no database here (is --data-dir right?)")
    if is_the_database(database, target):
        # FILE is where the copy goes: renamed over the live database, it left the
        # daemon's connections on the unlinked file, and what a checkpoint wrote there
        # after the copy was not in the new one.
        raise BackupRefused(
            f"{target}: is the database itself (or its -wal, -shm or -journal file); "
            "FILE is where the copy goes: name a file elsewhere"
        )
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    source = sqlite3.connect(database)  # reads only; a read-only open of a WAL file can fail
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy, pages=_PAGES_PER_STEP)
            # One file, no journal beside it: what a restore copies back.
            copy.execute("PRAGMA journal_mode = DELETE")
            verdict = copy.execute("PRAGMA integrity_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise DataDirUnusable(partial, f"the copy failed its integrity check: {verdict}")
            comments = int(copy.execute("SELECT count(*) FROM comments").fetchone()[0])
        finally:
            copy.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    with partial.open("rb+") as fh:
        os.fsync(fh.fileno())
    partial.replace(target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return BackupResult(target, target.stat().st_size, comments)
