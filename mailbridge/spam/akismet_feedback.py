"""Telling Akismet where the moderators disagreed with it (submit-spam, submit-ham).

Akismet learns from its users' corrections: a web comment it passed that a moderator
marks Spam is reported with ``submit-spam``, one it called spam that a moderator
approves (a rescue from the spam folder) with ``submit-ham``, each with the fields
its comment-check was sent, as Akismet asks. Those fields (the reader's IP address and
browser among them) are kept for this alone, in ``akismet_checks``, and forgotten after
:data:`KEEP_DAYS` by housekeeping, or with the person's data (``mailbridge person``).

A report is queued in the outbox in the decision's own transaction: it is sent if and
only if the decision commits, it survives a restart, and a failure is retried with
the outbox's backoff (``mailbridge outbox`` shows it). The row holds only the
comment's id: the fields and the latest decision are read, and the API key added, when
it is sent, so neither the key nor the address is copied into the outbox, and a
moderator who changed their mind meanwhile is reported as they decided last (or not
at all, if they came back to what Akismet believes). Decisions that agree with what
Akismet believes send nothing, nor do the daemon's own (the spam folder, trusted
writers): Akismet must not be taught by the filter it is checking.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable

import aiohttp
import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.spam.akismet import HEADERS
from mailbridge.store import Store, outbox

__all__ = [
    "KEEP_DAYS",
    "KIND",
    "AkismetReporter",
    "decided",
    "forget_before",
    "remember",
    "undecided",
]

log = logging.getLogger(__name__)

KIND = "akismet"  # the outbox rows' kind
KEEP_DAYS = 30  # as long as a decision can be undone
_SUCCESS = ("Thanks for making the web a better place.", "Feedback received.")
_TEMPORARY = frozenset({408, 425, 429})


def _label(spam: bool) -> str:
    return "spam" if spam else "ham"


async def remember(
    conn: aiosqlite.Connection,
    comment_id: int,
    sent: Iterable[tuple[str, str]],
    spam: bool,
    now: float,
) -> None:
    """Keep what comment-check was sent about ``comment_id`` and what it answered."""
    label = _label(spam)
    await conn.execute(
        "INSERT INTO akismet_checks (comment_id, form, believed, wanted, checked_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (comment_id) DO NOTHING",
        (comment_id, json.dumps(dict(sent), ensure_ascii=False), label, label, now),
    )


async def decided(
    conn: aiosqlite.Connection, comment_id: int, label: str, endpoint: str, clock: Clock
) -> int:
    """A moderator called ``comment_id`` "spam" or approved it ("ham",
    ``training.LABELS``): queue a report if Akismet believes otherwise. Returns the rows
    queued (0 or 1; 0 too for a comment never checked, or checked too long ago)."""
    return await _settle(conn, comment_id, "wanted", label, endpoint, clock)


async def undecided(conn: aiosqlite.Connection, comment_id: int) -> None:
    """A moderator took back their Spam or Approve (an undo to pending, a Reject): they
    no longer say anything Akismet could learn, so a report still waiting tells nothing
    (it went as submit-spam after the author's Undo). One already sent stays told."""
    await conn.execute(
        "UPDATE akismet_checks SET wanted = believed WHERE comment_id = ?", (comment_id,)
    )


_OTHER = {"wanted": "believed", "believed": "wanted"}


async def _settle(
    conn: aiosqlite.Connection,
    comment_id: int,
    column: str,
    label: str,
    endpoint: str,
    clock: Clock,
) -> int:
    """Set ``column`` (what the moderators want, or what Akismet believes) to ``label``,
    and queue a report if the two then differ."""
    other = _OTHER[column]
    async with conn.execute(
        f"UPDATE akismet_checks SET {column} = ? WHERE comment_id = ? RETURNING {other}",  # noqa: S608
        (label, comment_id),
    ) as cur:
        row = await cur.fetchone()
    if row is None or row[0] == label:
        return 0
    wanted = label if column == "wanted" else str(row[0])
    return await _queue(conn, comment_id, wanted, endpoint, clock)


async def _queue(
    conn: aiosqlite.Connection, comment_id: int, label: str, endpoint: str, clock: Clock
) -> int:
    now = clock.now()
    queued = await outbox.enqueue(
        conn,
        outbox.Outgoing(
            kind=KIND,
            comment_id=None,  # a comment may be reported again, the other way
            message_id=f"akismet-{comment_id}-{secrets.token_hex(6)}",
            mail_from="submit-" + label,  # what was due when queued (shown by `outbox`)
            rcpt_to=endpoint,
            message=json.dumps({"comment_id": comment_id}).encode(),
        ),
        now.timestamp(),
        iso(now),
    )
    return int(queued is not None)


async def forget_before(conn: aiosqlite.Connection, before: float) -> int:
    """Forget the fields of checks older than ``before`` (housekeeping)."""
    cur = await conn.execute("DELETE FROM akismet_checks WHERE checked_at < ?", (before,))
    return max(cur.rowcount, 0)


async def _due(
    conn: aiosqlite.Connection, comment_id: int
) -> tuple[dict[str, str], str, str] | None:
    async with conn.execute(
        "SELECT form, believed, wanted FROM akismet_checks WHERE comment_id = ?", (comment_id,)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else (dict(json.loads(row[0])), str(row[1]), str(row[2]))


class AkismetReporter:
    """Sends the outbox's Akismet rows (the outbox worker calls :meth:`deliver`)."""

    def __init__(self, store: Store, clock: Clock, key: str, timeout: float) -> None:
        self._store = store
        self._clock = clock
        self._key = key
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def deliver(self, row: outbox.OutboxRow) -> None:
        comment_id = int(json.loads(row.message)["comment_id"])
        due = await self._store.read(lambda c: _due(c, comment_id))
        if due is None:
            raise PermanentDeliveryError(
                f"Akismet: the fields sent about comment {comment_id} are forgotten "
                f"(after {KEEP_DAYS} days, or erased with the person's data)"
            )
        form, believed, label = due
        if believed == label:
            # Told already (an earlier row), or the moderator came back to its view.
            log.info("Akismet: nothing to tell about comment %d any more", comment_id)
            return
        form["api_key"] = self._key
        url = f"{row.rcpt_to}/1.1/submit-{label}"
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout, headers=HEADERS) as session,
                session.post(url, data=form, allow_redirects=False) as response,
            ):
                status = response.status
                text = (await response.text(errors="replace")).strip()
                help_text = response.headers.get("X-akismet-debug-help", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryDeliveryError(f"Akismet: {type(exc).__name__}: {exc}") from exc
        if status == 200 and text in _SUCCESS:
            # Akismet believes it now. A change of mind meanwhile queues another report,
            # due at once: the worker's next look finds it.
            await self._store.write(
                lambda c: _settle(c, comment_id, "believed", label, row.rcpt_to, self._clock)
            )
            log.info("Akismet told comment %d is %s", comment_id, label)
            return
        said = f"Akismet answered {status} {text[:60]!r}" + (f" ({help_text})" if help_text else "")
        if status == 200 or status >= 500 or status in _TEMPORARY:
            # 200 "invalid" is a wrong key: retried, so fixing the key sends it.
            raise TemporaryDeliveryError(said)
        raise PermanentDeliveryError(said)
