"""``/metrics`` in Prometheus's text format, through prometheus-client (docs/metrics.md).

``families`` reads what the database knows at scrape time (every message received by
its disposition, comments by status, the outbox, the WordPress bridge's queue): the
figures survive restarts and agree with ``mailbridge inbound`` and ``mailbridge
status``. ``Metrics`` adds what only the running process sees: how long extraction
and HTTP requests take.
"""

from mailbridge.metrics.instruments import Metrics

__all__ = ["Metrics"]
