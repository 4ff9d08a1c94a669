"""Per-client-IP hourly limits of the web's open doors, in memory or shared.

One daemon (SQLite) counts in its memory (mailbridge.web.guard.IpRateLimiter). When
several daemons share a PostgreSQL database, a client could otherwise get the limit
once per daemon behind a load balancer; there each door counts in the database
(mailbridge.store.rate_hits), keyed by a hash of the client's address under a key of
the instance secret, so the table never holds an address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Protocol

from mailbridge.store import Store, rate_hits
from mailbridge.web.guard import IpRateLimiter

__all__ = ["PerNetwork", "RateLimiter", "SharedIpRateLimiter", "ip_limiter", "network_of"]

WINDOW_SECONDS = 3600.0


class RateLimiter(Protocol):
    async def hit(self, ip: str, now: float) -> int | None:
        """Record one request; None if allowed, else seconds until the next is."""
        ...


class SharedIpRateLimiter:
    def __init__(self, store: Store, scope: str, limit: int, key: bytes) -> None:
        self._store = store
        self._scope = scope
        self._limit = limit
        self._key = key

    async def hit(self, ip: str, now: float) -> int | None:
        client = hmac.new(self._key, ip.encode(), hashlib.sha256).hexdigest()[:32]
        return await self._store.write(
            lambda c: rate_hits.hit(c, self._scope, client, now, self._limit, WINDOW_SECONDS)
        )


def network_of(ip: str) -> str:
    """What a client is counted as: an IPv4 address as it is, an IPv6 address by its
    /64. One home, phone or server holds a whole /64 and may use any address in it,
    so counted one by one the limits held nobody back."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # "unknown": counted as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class PerNetwork:
    """A limiter keyed by client IP, counting an IPv6 client by its /64 (network_of)."""

    def __init__(self, inner: RateLimiter) -> None:
        self._inner = inner

    async def hit(self, ip: str, now: float) -> int | None:
        return await self._inner.hit(network_of(ip), now)


def ip_limiter(store: Store, scope: str, limit: int, key: bytes) -> RateLimiter:
    """The limiter for one door: shared when the store is shared by several daemons."""
    if store.shared:
        return SharedIpRateLimiter(store, scope, limit, key)
    return IpRateLimiter(limit, WINDOW_SECONDS)
