"""The registry ``/metrics`` serves, with what only the running process measures."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mailbridge.clock import Clock
from mailbridge.jobs.periodic import Periodic
from mailbridge.metrics.families import StoreCollector, snapshot
from mailbridge.store import Store

__all__ = ["Metrics"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Metrics:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        allowed: Sequence[str],
        client: Callable[[web.Request], str] | None = None,
    ) -> None:
        """``client``: a request's client address, as the web's limits know it (behind
        a proxy on this host every request comes from 127.0.0.1, inside the default
        networks); the peer's address without it."""
        self._store = store
        self._clock = clock
        self._allowed = [ipaddress.ip_network(n, strict=False) for n in allowed]
        self._client = client or (lambda request: request.remote or "")
        # Its own registry, made here: nothing at import, and tests do not share one.
        self.registry = CollectorRegistry()
        self._collector = StoreCollector()
        self.registry.register(self._collector)
        # The process's memory, CPU, open files and start time (process_*), as the
        # client's default registry would give them: a leak or fd exhaustion shows.
        ProcessCollector(registry=self.registry)
        self.extraction_seconds = Histogram(
            "mailbridge_extraction_seconds",
            "Time to extract what the writer wrote from one reply email.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "mailbridge_http_request_seconds",
            "Time to answer an HTTP request, by method, route and status class.",
            labelnames=("method", "route", "status"),
            registry=self.registry,
        )

        # Only the daemon that reads the mailbox knows (docs/imap.md): 0 elsewhere.
        self.imap_failures = Gauge(
            "mailbridge_imap_failures",
            "IMAP sessions failed in a row (login refused, server unreachable...); "
            "0 once a round of the mailbox completes.",
            registry=self.registry,
        )
        self.imap_last_round = Gauge(
            "mailbridge_imap_last_round_timestamp_seconds",
            "When this process last completed a round of the IMAP mailbox (Unix time).",
            registry=self.registry,
        )

        # What /healthz's "writes" says, for an alert: a full disk or a locked
        # database refuses every comment (503) and reply (451) and queues no mail, and
        # nothing else here moved (a refused reply is not stored, so not counted).
        self.database_writable = Gauge(
            "mailbridge_database_writable",
            "1 when a write could start now, 0 when the database cannot take writes "
            "(locked, the disk full, read-only), as /healthz's writes says.",
            registry=self.registry,
        )

        # Only the process that took them knows (the events are not all kept: a retry
        # is not stored twice, an erasure deletes a person's): counted as they come.
        self.mail_events = Counter(
            "mailbridge_mail_events",
            "Bounces and spam complaints a mail service (or an abuse report) told us of, by "
            "service, kind (hard, soft, complaint) and outcome (counted, suppressed, "
            "nobody: about no message we sent, repeated: a retry, counted_before: a "
            "message's soft bounce reported again).",
            labelnames=("provider", "kind", "outcome"),
            registry=self.registry,
        )

        # The periodic jobs this daemon runs (set once they are built): each one's
        # failures in a row, read at each scrape.
        self.periodic: Sequence[Periodic] = ()
        self.registry.register(_PeriodicCollector(lambda: self.periodic))

    def mail_event(self, provider: str, kind: str, outcome: str) -> None:
        self.mail_events.labels(provider, kind, outcome).inc()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            # The route's pattern, never the path: one series per route, whatever the ids.
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "(none)"
            self.request_seconds.labels(request.method, route, f"{status // 100}xx").observe(
                time.perf_counter() - started
            )

    async def handler(self, request: web.Request) -> web.Response:
        """GET /metrics: only for the networks in ``http.metrics_networks``."""
        peer = self._client(request)
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            address = None
        if address is None or not any(address in n for n in self._allowed):
            raise web.HTTPNotFound()
        now = self._clock.now().timestamp()
        self._collector.latest = await self._store.read(lambda c: snapshot(c, now))
        self.database_writable.set(int(await self._store.probe_write() is None))
        return web.Response(
            body=generate_latest(self.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )


class _PeriodicCollector(Collector):
    """``mailbridge_periodic_job_failures``: by job, its runs failed in a row."""

    def __init__(self, jobs: Callable[[], Sequence[Periodic]]) -> None:
        self._jobs = jobs

    def collect(self) -> Iterator[Metric]:
        failures = GaugeMetricFamily(
            "mailbridge_periodic_job_failures",
            "Runs of a periodic job (the moderation digest, the spam report, housekeeping) "
            "failed in a row in this process; 0 once one succeeds.",
            labels=["name"],
        )
        for job in self._jobs():
            failures.add_metric([job.name], job.failures)
        yield failures
