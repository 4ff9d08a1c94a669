"""Periodic jobs run by one daemon of those sharing a database (issue 16)."""

from mailbridge.jobs.periodic import Periodic

__all__ = ["Periodic"]
