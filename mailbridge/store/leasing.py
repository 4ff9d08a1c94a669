"""Fair leasing of outbox rows: a per-domain cap, at a cost independent of the backlog.

The worker's lease step (:func:`lease_step`) takes back expired leases and leases
the rows :func:`pick_fair` chooses. Choosing reads a bounded head of the queue (the
index ``outbox_due``) and, past domains at their cap, the heads of other domains'
queues (the index ``outbox_queued_by_domain``, one seek per domain), never the whole
backlog: with 50,000 rows queued a lease costs what it costs with 1,000.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiosqlite

from mailbridge.store import outbox
from mailbridge.store.outbox import DOMAIN_SQL

__all__ = ["Leased", "lease_step", "pick_fair"]

# Named: without statistics (no ANALYZE) SQLite picks outbox_due for the skip scan,
# which reads every queued row.
_BY_DOMAIN = "INDEXED BY outbox_queued_by_domain"


@dataclass(frozen=True)
class Leased:
    """One lease step: rows taken back from a stopped worker, suppressed, leased."""

    released: int
    suppressed: list[outbox.Suppressed]
    rows: list[outbox.OutboxRow]


# How many due rows per free slot the head of the queue is read for: rows of a domain
# at its cap are skipped there, and past that the domains are visited in turn.
_HEAD_PER_SLOT = 16
# Domains looked at per lease beyond one per slot (some have nothing due: backoff).
_SPARE_PROBES = 16


async def lease_step(
    conn: aiosqlite.Connection,
    now: float,
    *,
    slots: int,
    per_domain: int,
    busy: Mapping[str, int],
    owner: str,
    lease_seconds: float = outbox.DEFAULT_LEASE_SECONDS,
    after: str = "",
) -> Leased:
    """The worker's lease transaction: take back expired leases, then lease fairly.

    A chosen row whose recipient is suppressed is marked failed instead of leased
    (see :func:`outbox.fail_suppressed`). See :func:`pick_fair` for which rows are chosen.
    """
    released = await outbox.release_stale(conn, now)
    ids = await pick_fair(conn, now, slots=slots, per_domain=per_domain, busy=busy, after=after)
    suppressed = await outbox.fail_suppressed(conn, now, ids)
    gone = {s.id for s in suppressed}
    chosen = [i for i in ids if i not in gone]
    rows = await outbox.lease_ids(conn, chosen, owner, now + lease_seconds)
    order = {row_id: i for i, row_id in enumerate(chosen)}
    return Leased(released, suppressed, sorted(rows, key=lambda r: order[r.id]))


async def pick_fair(
    conn: aiosqlite.Connection,
    now: float,
    *,
    slots: int,
    per_domain: int,
    busy: Mapping[str, int],
    after: str = "",
) -> list[int]:
    """Up to ``slots`` due queued rows, at most ``per_domain`` per recipient domain.

    ``busy`` counts the caller's rows already in flight per domain. A domain at its
    cap is skipped, not waited for, so one slow domain never holds up the others.
    Rows come oldest first from the head of the queue (a bounded number of rows);
    when that head is all domains at their cap (one domain's big backlog), the other
    domains are visited in name order, starting after ``after`` (the caller passes
    the domain of the last row it leased, so the turn goes round), and each gives
    its oldest due rows. Both are index seeks: the cost depends on ``slots``, not on
    how many rows are queued.
    """
    if slots <= 0:
        return []
    taken: dict[str, int] = dict(busy)
    chosen: list[int] = []

    def take(row_id: int, domain: str) -> bool:
        if taken.get(domain, 0) >= per_domain or row_id in chosen:
            return False
        taken[domain] = taken.get(domain, 0) + 1
        chosen.append(row_id)
        return len(chosen) == slots

    window = slots * _HEAD_PER_SLOT + per_domain * sum(1 for n in busy.values() if n > 0)
    found = await conn.execute_fetchall(
        "SELECT id, rcpt_to FROM outbox WHERE status = 'queued' AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at, id LIMIT ?",
        (now, window),
    )
    head = [(int(r[0]), outbox.domain_of(str(r[1]))) for r in found]
    for row_id, domain in head:
        if take(row_id, domain):
            return chosen
    if len(head) < window:
        return chosen  # every due row was in the head: nobody else is waiting
    capped = sum(1 for n in taken.values() if n >= per_domain)
    probes = slots + capped + _SPARE_PROBES
    heads = await _domain_heads(conn, now, after, probes, per_domain)
    if after and len({d for d, _ in heads}) < probes:
        heads += await _domain_heads(conn, now, "", probes, per_domain)  # round again
    by_domain: dict[str, list[int]] = {}
    for domain, row_id in heads:
        ids = by_domain.setdefault(domain, [])
        if row_id not in ids:
            ids.append(row_id)
    # One row per domain per round, so each waiting domain gets its turn.
    for place in range(per_domain):
        for domain, ids in by_domain.items():
            if place < len(ids) and take(ids[place], domain):
                return chosen
    return chosen


async def _domain_heads(
    conn: aiosqlite.Connection, now: float, after: str, domains: int, per_domain: int
) -> list[tuple[str, int]]:
    """(domain, id) of the oldest ``per_domain`` due rows of each of the ``domains``
    first domains with queued rows after ``after``, by domain then due time.

    A skip scan of the index outbox_queued_by_domain: one seek per domain.
    """
    found = await conn.execute_fetchall(
        "WITH RECURSIVE doms(dom, n) AS ("  # noqa: S608 - constants only
        f" SELECT (SELECT {DOMAIN_SQL} FROM outbox {_BY_DOMAIN} WHERE status = 'queued'"
        f"  AND {DOMAIN_SQL} > ? ORDER BY {DOMAIN_SQL} LIMIT 1), 1"
        " UNION ALL"
        f" SELECT (SELECT {DOMAIN_SQL} FROM outbox {_BY_DOMAIN} WHERE status = 'queued'"
        f"  AND {DOMAIN_SQL} > doms.dom ORDER BY {DOMAIN_SQL} LIMIT 1), n + 1"
        " FROM doms WHERE doms.dom IS NOT NULL AND n < ?)"
        " SELECT doms.dom, o.id FROM doms JOIN outbox o ON o.id IN ("
        f"  SELECT id FROM outbox {_BY_DOMAIN} WHERE status = 'queued' AND {DOMAIN_SQL} = doms.dom"
        "  AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)"
        " ORDER BY doms.n, o.next_attempt_at, o.id",
        (after, domains, now, per_domain),
    )
    return [(str(r[0]), int(r[1])) for r in found]
