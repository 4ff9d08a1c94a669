"""The PostgreSQL engine (issue 16): a psycopg 3 connection shaped like the SQLite one.

Imported only when ``data_url`` names PostgreSQL, so a SQLite install neither needs
psycopg nor pays for importing it.
"""

from __future__ import annotations

__all__ = ["redacted"]


def redacted(url: str) -> str:
    """The URL without its password, for messages, logs and the start-up banner."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{tail}"
