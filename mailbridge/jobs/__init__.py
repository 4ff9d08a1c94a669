"""Jobs run by one daemon of those sharing a database (issue 16): periodic units of
work (:class:`Periodic`) and long-running services (:class:`Lead`)."""

from mailbridge.jobs.lead import Lead
from mailbridge.jobs.periodic import Periodic

__all__ = ["Lead", "Periodic"]
