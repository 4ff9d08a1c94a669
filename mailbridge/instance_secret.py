"""The instance secret: the key every token (reply addresses, links) is made with.

Generated on first use and kept in the data directory; daemons sharing a PostgreSQL
database must all have the same one."""

from __future__ import annotations

import os
from pathlib import Path

from mailbridge.errors import ConfigError, DataDirUnusable
from mailbridge.settings import Settings
from mailbridge.store import Store, jobs
from mailbridge.tokens import Keyring, new_secret

__all__ = ["load_or_create_secret", "same_secret_as_the_others"]


def load_or_create_secret(path: Path) -> bytes:
    """The instance secret, generated on first use and kept (mode 0600) in the data directory."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(new_secret().hex() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        text = path.read_bytes()
    except OSError as exc:
        raise DataDirUnusable(
            exc.filename or path, f"cannot keep the instance secret ({exc.strerror or exc})"
        ) from exc
    try:
        secret = bytes.fromhex(text.decode("ascii").strip())
    except ValueError:
        raise ConfigError(
            f"{path}: the instance secret is not hex; remove it to generate one"
        ) from None
    if len(secret) < 16:
        raise ConfigError(f"{path}: the instance secret is too short (need 16+ bytes)")
    return secret


async def same_secret_as_the_others(settings: Settings, store: Store, keyring: Keyring) -> None:
    """Refuse to start with another secret than the daemons already on the database.

    Tokens one daemon mints must verify in the others (a reply may reach any MX
    host); a daemon with its own secret would refuse them all. Only with PostgreSQL:
    a SQLite database has one daemon, and a lost secret.key must not lock it out.
    """
    if not settings.data_url:
        return
    mine = keyring.fingerprint.hex()
    agreed = await store.write(lambda c: jobs.agree(c, "secret_fingerprint", mine))
    if agreed != mine:
        raise ConfigError(
            f"{settings.secret_path}: this instance secret differs from the one the other "
            "daemons on this database use; give every daemon a copy of the same file "
            "(secret_file, docs/postgresql.md)"
        )
