"""Limits on the public doors: connections per client IP, and hourly rates per person
and per thread shared by SMTP and the web API (counted from the database, so they
hold across restarts and across both doors)."""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from datetime import datetime, timedelta

import aiosqlite

from mailbridge.clock import iso
from mailbridge.rejections import SenderRateLimited, ThreadRateLimited
from mailbridge.settings import LimitSettings
from mailbridge.store import threads

__all__ = ["ConnectionLimiter", "check_rates", "check_rates_for_email"]


class ConnectionLimiter:
    """Counts open SMTP connections per client IP.

    The MTA in front (in ``trusted``) has its own, higher limit: all mail comes
    from its one address, and Postfix opens 20 connections at once by default.
    """

    def __init__(
        self,
        per_ip: int,
        trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (),
        per_trusted: int = 0,
    ) -> None:
        self._per_ip = per_ip
        self._trusted = trusted
        self._per_trusted = per_trusted
        self._open: Counter[str] = Counter()

    def limit_for(self, ip: str) -> int:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return self._per_ip
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self._trusted):
            return self._per_trusted
        return self._per_ip

    def acquire(self, ip: str) -> bool:
        if self._open[ip] >= self.limit_for(ip):
            return False
        self._open[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self._open[ip] -= 1
        if self._open[ip] <= 0:
            del self._open[ip]


async def _count_and_oldest(
    conn: aiosqlite.Connection, sql: str, args: tuple[object, ...]
) -> tuple[int, str | None]:
    async with conn.execute(f"SELECT count(*), min(t) FROM ({sql}) AS counted", args) as cur:  # noqa: S608
        row = await cur.fetchone()
    return (0, None) if row is None else (int(row[0]), row[1])


def _by_address(address_id: int, since: str) -> tuple[str, tuple[object, ...]]:
    """Messages that reached DATA for this person, plus their web comments."""
    return (
        "SELECT received_at AS t FROM inbound_messages WHERE address_id = ? AND stage = 'data' "
        "AND received_at >= ? UNION ALL SELECT created_at FROM comments WHERE address_id = ? "
        "AND source = 'web' AND created_at >= ?",
        (address_id, since, address_id, since),
    )


def _in_thread(thread_id: int, since: str) -> tuple[str, tuple[object, ...]]:
    return (
        "SELECT created_at AS t FROM comments WHERE thread_id = ? AND created_at >= ? "
        "AND source != 'import'",
        (thread_id, since),
    )


def _retry_after(oldest: str | None, now: datetime) -> int:
    if oldest is None:
        return 60
    free_at = datetime.fromisoformat(oldest) + timedelta(hours=1)
    return max(1, math.ceil((free_at - now).total_seconds()))


async def check_rates(
    conn: aiosqlite.Connection,
    limits: LimitSettings,
    now: datetime,
    *,
    address_id: int | None,
    thread_id: int | None,
) -> None:
    """Raise :class:`SenderRateLimited` or :class:`ThreadRateLimited` when over the hour's
    limit; the exception's ``retry_after`` says when the oldest counted event ages out."""
    since = iso(now - timedelta(hours=1))
    if address_id is not None:
        count, oldest = await _count_and_oldest(conn, *_by_address(address_id, since))
        if count >= limits.messages_per_sender_per_hour:
            raise SenderRateLimited(retry_after=_retry_after(oldest, now))
    if thread_id is not None:
        count, oldest = await _count_and_oldest(conn, *_in_thread(thread_id, since))
        if count >= limits.comments_per_thread_per_hour:
            raise ThreadRateLimited(retry_after=_retry_after(oldest, now))


async def check_rates_for_email(
    conn: aiosqlite.Connection, limits: LimitSettings, now: datetime, email: str, thread_id: int
) -> None:
    """:func:`check_rates` for a web submission, where the person is known by address."""
    state = await threads.address_state(conn, email=email)
    await check_rates(
        conn, limits, now, address_id=None if state is None else state.id, thread_id=thread_id
    )
