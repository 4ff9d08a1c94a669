"""Time, injected: components ask a :class:`Clock` instead of calling datetime.now()."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock", "iso"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """The storage form of a moment: ISO 8601 UTC to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
