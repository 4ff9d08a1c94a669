"""Which PostgreSQL errors mean "the database cannot take writes right now".

Callers answer these like SQLite's "database is locked": SMTP with a 451 (the sender
retries), the web with 503 and Retry-After. Anything else stays a bug (500 / 554).
"""

from __future__ import annotations

import psycopg

__all__ = ["is_unwritable"]

# SQLSTATE classes and codes, from PostgreSQL's appendix A "Error Codes".
_CLASSES = (
    "08",  # connection exception: the server went away or refused us
    "53",  # insufficient resources: disk full (53100), out of memory, too many connections
    "57",  # operator intervention: admin shutdown, crash shutdown, cannot connect now
    "58",  # system error: I/O error (58030)
)
_CODES = {
    "25006",  # read_only_sql_transaction: a standby, or default_transaction_read_only
    "40001",  # serialization_failure: another writer won; the retry succeeds
    "40P01",  # deadlock_detected: same
    "55P03",  # lock_not_available: lock_timeout expired while another process writes
}


def is_unwritable(exc: BaseException) -> bool:
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        # No answer from the server at all: the connection broke or could not be made.
        return isinstance(exc, psycopg.OperationalError)
    return state in _CODES or state[:2] in _CLASSES
