"""The composition root: build every component from the settings, start, stop.

Nothing else constructs collaborators. Start order: data directory and secret,
store (migrated), renderer, transport and delivery worker, services, SMTP and
HTTP listeners. Stop order is the reverse, and in-flight SMTP messages finish
before the store closes, so a 250 is never given for something not committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from mailbridge.bridges.wordpress import WordPressBridge
from mailbridge.clock import Clock, SystemClock
from mailbridge.errors import ConfigError
from mailbridge.extract import Extractor, extract
from mailbridge.imap import ImapInbox
from mailbridge.inbound.checks import InboundChecks
from mailbridge.inbound.handler import SmtpHandler
from mailbridge.inbound.process import ReplyIntake
from mailbridge.inbound.server import DataInProgress, smtp_tls_context, start_smtp_server
from mailbridge.inbound.standard import standard_checks
from mailbridge.inbound_webhooks import InboundWebhooks
from mailbridge.instance_secret import load_or_create_secret, same_secret_as_the_others
from mailbridge.jobs import Lead, Periodic
from mailbridge.jobs.failure_log import FailureLog
from mailbridge.jobs.schedule import periodic_jobs, secrets_of
from mailbridge.mail_events import MailEventAccounting
from mailbridge.metrics import Metrics
from mailbridge.moderate.service import CommentService
from mailbridge.moderate.trust import TrustPolicy
from mailbridge.notify import Digester, Notifier
from mailbridge.notify.moderation_mailer import ModerationMailer
from mailbridge.outbound.from_settings import (
    relay_config,
    signer_from_settings,
    transport_from_settings,
)
from mailbridge.outbound.transport import Transport
from mailbridge.outbound.worker import DeliveryWorker, RowPoster
from mailbridge.senderauth import Resolver
from mailbridge.settings import Settings, parse_hostport
from mailbridge.spam import akismet_feedback
from mailbridge.spam.akismet import Akismet
from mailbridge.spam.akismet_feedback import AkismetReporter
from mailbridge.store import Store, failing
from mailbridge.store.opening import open_store
from mailbridge.templating import Renderer
from mailbridge.tokens import Keyring
from mailbridge.web import build_web_app
from mailbridge.web.guard import client_ip
from mailbridge.web.middleware import PARSER_REFUSALS, REDACT_CAPABILITIES
from mailbridge.webhooks import WebhookEvents, WebhookSender
from mailbridge.webhooks.events import KIND as events_kind
from mailbridge.workers import CpuPool
from mailbridge.workers import tasks as worker_tasks
from mailbridge.workers.offload import offloaded, signing

__all__ = [
    "Core",
    "Running",
    "core",
    "open_store",
    "relay_config",
    "running",
]

log = logging.getLogger(__name__)

_DRAIN_SECONDS = 30.0
_HTTP_GRACE_SECONDS = 5.0


def site_globals(settings: Settings) -> dict[str, str]:
    """What every template sees of the site (templating.Renderer)."""
    return {
        "accent": settings.site.accent_color,
        "language": settings.site.language,
        # Every email's footer links here: a person's own data (docs/privacy.md).
        "privacy_url": settings.site.public_url.rstrip("/") + "/privacy",
    }


def posters_from(settings: Settings, store: Store, clock: Clock) -> dict[str, RowPoster]:
    """What sends the outbox's rows that are not email, by kind."""
    posters: dict[str, RowPoster] = {}
    if settings.webhooks:
        posters[events_kind] = WebhookSender(settings.webhooks, clock)
    if settings.spam.akismet_key:
        posters[akismet_feedback.KIND] = AkismetReporter(
            store, clock, settings.spam.akismet_key, settings.spam.akismet_timeout_seconds
        )
    return posters


def akismet_from(settings: Settings) -> Akismet | None:
    spam = settings.spam
    if not spam.akismet_key:
        return None
    return Akismet(
        key=spam.akismet_key,
        blog=settings.site.public_url,
        endpoint=spam.akismet_url,
        timeout=spam.akismet_timeout_seconds,
        send_email=spam.akismet_send_email,
    )


@dataclass(frozen=True)
class Core:
    """Everything but the listeners: what the daemon runs and the CLI reuses offline."""

    settings: Settings
    clock: Clock
    keyring: Keyring
    store: Store
    renderer: Renderer
    notifier: Notifier
    service: CommentService
    worker: DeliveryWorker
    digester: Digester
    intake: ReplyIntake
    pool: CpuPool
    moderation_mailer: ModerationMailer | None
    metrics: Metrics | None = None
    mail_events: MailEventAccounting | None = None


@contextlib.asynccontextmanager
async def core(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    extractor: Extractor = extract,
    checks: InboundChecks | None = None,
    resolver: Resolver | None = None,
    daemon: bool = False,
) -> AsyncIterator[Core]:
    """Build the pipeline on the store; close the store when the block exits.

    ``clock``, ``transport``, ``extractor``, ``checks`` and ``resolver`` replace the
    real ones where a caller needs to (a pinned DNS zone, or a test that makes a stage
    fail on purpose). ``daemon``: worker processes for the CPU-bound work, and new
    comments' moderation emails built after their commit by a task the daemon runs
    (a one-off command queues them in the comment's own transaction instead).
    """
    clock = clock or SystemClock()
    keyring = Keyring.from_secret(load_or_create_secret(settings.secret_path))
    out = settings.outbound
    # Read the keys before anything starts: a broken key is a start-up error, not a
    # pile of unsigned mail.
    signer = signer_from_settings(settings)
    owned = transport is None
    transport = transport or transport_from_settings(settings)
    store = await open_store(settings)
    try:
        await same_secret_as_the_others(settings, store, keyring)
        override = Path(settings.templates.directory) if settings.templates.directory else None
        renderer = Renderer(override, site_globals(settings))
        pool = CpuPool(
            settings.inbound.cpu_processes if daemon else 0,
            initializer=worker_tasks.start,
            # The workers build the emails and sign them: the same templates and keys.
            initargs=(
                str(override) if override else None,
                site_globals(settings),
                os.getpid(),
                signer,
            ),
        )
        worker = DeliveryWorker(
            store,
            transport,
            out,
            clock,
            concurrency=out.concurrency,
            per_domain=out.per_domain_concurrency,
            lease_seconds=out.lease_seconds,
            sign=signing(signer, pool),
            posters=posters_from(settings, store, clock),
            hard_bounce_limit=settings.inbound.hard_bounce_limit,
        )
        notifier = Notifier(settings, keyring, renderer, clock)
        digester = Digester(store, notifier, clock, queued=worker.wake)
        mailer = (
            ModerationMailer(store, notifier, pool, clock, worker.wake, owner=worker.owner)
            if daemon
            else None
        )

        def wake() -> None:
            # Mail was queued (worker) or scheduled for a batch (digester).
            worker.wake()
            digester.wake()

        service = CommentService(
            store,
            notifier,
            clock,
            queued=wake,
            policy=TrustPolicy(
                auto_approve_after=settings.moderation.auto_approve_after,
                hold_everything=settings.moderation.hold_everything,
                spam_threshold=settings.spam.threshold if settings.spam.enabled else None,
                site_urls=(settings.site.public_url, *settings.site.allowed_origins),
            ),
            akismet=akismet_from(settings),
            events=WebhookEvents(settings.webhooks, clock) if settings.webhooks else None,
            mail_later=mailer.wake if mailer is not None else None,
            moderators=settings.moderation.moderators,
        )
        metrics = None
        if settings.http.metrics_networks:
            proxies = frozenset(settings.http.trusted_proxies)
            metrics = Metrics(
                store,
                clock,
                settings.http.metrics_networks,
                client=lambda request: client_ip(request, proxies),
            )
        # /metrics (docs/metrics.md): the extractor is timed where it is called.
        observe = metrics.extraction_seconds.observe if metrics is not None else None
        # Bounces and complaints services report, and abuse reports by email.
        mail_events = MailEventAccounting(
            store,
            clock,
            settings.inbound.hard_bounce_limit,
            metrics.mail_event if metrics is not None else None,
        )
        intake = ReplyIntake(
            store=store,
            service=service,
            notifier=notifier,
            keyring=keyring,
            settings=settings,
            clock=clock,
            checks=checks or standard_checks(settings.auth, resolver),
            extractor=extractor,
            run_extractor=offloaded(extractor, pool, observe or (lambda seconds: None)),
            queued=wake,
            mail_events=mail_events,
        )
        try:
            await pool.start()
            yield Core(
                settings, clock, keyring, store, renderer, notifier, service, worker, digester,
                intake, pool, mailer, metrics, mail_events,
            )  # fmt: skip
        finally:
            await pool.close()
    finally:
        if owned:
            await transport.aclose()
        await store.close()


@dataclass(frozen=True)
class Running:
    """A started daemon: where it listens and its main components."""

    settings: Settings
    store: Store
    service: CommentService
    worker: DeliveryWorker
    keyring: Keyring
    smtp_address: tuple[str, int]
    http_address: tuple[str, int]
    digester: Digester
    intake: ReplyIntake
    pool: CpuPool
    # The periodic jobs this daemon runs (housekeeping, digests, the spam report).
    periodic: tuple[Periodic, ...] = ()


def _listen_socket(listen: str, where: str) -> socket.socket:
    host, port = parse_hostport(listen, where)
    try:
        return socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot listen on {listen}: {exc.strerror}") from None


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    extractor: Extractor = extract,
    checks: InboundChecks | None = None,
    resolver: Resolver | None = None,
) -> AsyncIterator[Running]:
    """Start everything; stop it all, in order, when the block exits."""
    smtp_sock = _listen_socket(settings.smtp.listen, "smtp.listen")
    http_sock = _listen_socket(settings.http.listen, "http.listen")
    try:
        async with core(
            settings,
            clock=clock,
            transport=transport,
            extractor=extractor,
            checks=checks,
            resolver=resolver,
            daemon=True,
        ) as parts:
            async with _listening(parts, smtp_sock, http_sock) as started:
                yield started
    finally:
        smtp_sock.close()
        http_sock.close()


@contextlib.asynccontextmanager
async def _listening(
    parts: Core, smtp_sock: socket.socket, http_sock: socket.socket
) -> AsyncIterator[Running]:
    settings, store = parts.settings, parts.store
    state = {"http": False}
    smtp_server: asyncio.Server | None = None
    in_data = DataInProgress()

    def health() -> dict[str, bool]:
        return {
            "database": store.is_open,
            "smtp": smtp_server is not None and smtp_server.is_serving(),
            "http": state["http"],
        }

    app = build_web_app(
        metrics=parts.metrics,
        inbound_hooks=InboundWebhooks(
            settings,
            parts.intake,
            parts.clock,
            events=parts.mail_events,
        ),
        settings=settings,
        store=store,
        service=parts.service,
        renderer=parts.renderer,
        keyring=parts.keyring,
        clock=parts.clock,
        health=health,
        notifier=parts.notifier,
        queued=parts.worker.wake,
    )
    # addFilter keeps one of each: a second daemon in this process adds nothing.
    logging.getLogger("aiohttp.server").addFilter(PARSER_REFUSALS)
    logging.getLogger("mailbridge.http.access").addFilter(REDACT_CAPABILITIES)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("mailbridge.http.access"),
        # In-flight requests get a few seconds to finish at shutdown, not aiohttp's 60.
        shutdown_timeout=_HTTP_GRACE_SECONDS,
    )
    # Before anything listens: a pair it cannot load is one line (docs/configuration.md).
    tls_context = smtp_tls_context(settings)
    tasks: list[asyncio.Task[None]] = []
    graceful = 0  # set once they run; a start that fails before stops what there is
    try:
        smtp_server = await start_smtp_server(
            SmtpHandler(parts.intake, settings.limits.smtp_refused_recipients_per_session),
            sock=smtp_sock,
            hostname=settings.smtp.reply_domain,
            data_size_limit=settings.smtp.max_message_size,
            idle_timeout=settings.smtp.timeout_seconds,
            max_session=settings.smtp.max_session_seconds,
            connections_per_ip=settings.limits.smtp_connections_per_ip,
            trusted_networks=settings.auth.trusted_relay_networks,
            connections_per_trusted=settings.limits.smtp_connections_per_trusted_relay,
            tls_context=tls_context,
            in_data=in_data,
        )
        await runner.setup()
        await web.SockSite(runner, http_sock).start()
        state["http"] = True
        tasks.append(asyncio.create_task(parts.worker.run(), name="mailbridge-delivery"))
        tasks.append(asyncio.create_task(parts.digester.run(), name="mailbridge-digests"))
        if parts.moderation_mailer is not None:
            tasks.append(
                asyncio.create_task(parts.moderation_mailer.run(), name="mailbridge-moderation")
            )
        graceful = len(tasks)  # these finish what they hold at shutdown; the rest stop
        me = parts.worker.owner
        periodic = periodic_jobs(
            settings, store, parts.clock, parts.notifier, parts.worker.wake, me
        )
        if parts.metrics is not None:
            parts.metrics.periodic = periodic
        # Their start-up work done before the daemon says it has started (together: a
        # database that cannot take writes delays the start once, not once per job).
        # Failures `mailbridge status` shows of a task this daemon does not run (IMAP or
        # the spam report turned off since): nothing would try it again to clear them.
        kept = {job.name for job in periodic} | ({"imap"} if settings.imap.host else set())
        try:
            await store.write(lambda c: failing.keep_only(c, kept))
        except Exception as exc:  # the database cannot write now: the jobs say so below
            log.warning("could not forget the failures of tasks not run here: %s", exc)
        await asyncio.gather(*(job.start() for job in periodic))
        for job in periodic:
            tasks.append(asyncio.create_task(job.run(), name=f"mailbridge-{job.name}"))
        if settings.imap.host:
            # Replies read from a mailbox, through the same pipeline (docs/imap.md).
            inbox = ImapInbox(settings, parts.intake, parts.clock, parts.metrics,
                              FailureLog(store, parts.clock, secrets_of(settings)))  # fmt: skip
            imap = Lead(store, "imap", me, inbox.run)  # one daemon reads the mailbox
            tasks.append(asyncio.create_task(imap.run(), name="mailbridge-imap"))
        if settings.wordpress.site_url:
            # A bridge for a WordPress site's comments, both ways (docs/wordpress.md).
            bridge = WordPressBridge(settings, store, parts.service, parts.clock)
            wordpress = Lead(store, "wordpress", me, bridge.run)  # one daemon syncs
            tasks.append(asyncio.create_task(wordpress.run(), name="mailbridge-wordpress"))
        yield Running(
            settings=settings,
            store=store,
            service=parts.service,
            worker=parts.worker,
            keyring=parts.keyring,
            smtp_address=smtp_sock.getsockname()[:2],
            http_address=http_sock.getsockname()[:2],
            digester=parts.digester,
            intake=parts.intake,
            pool=parts.pool,
            periodic=tuple(periodic),
        )
    finally:
        if smtp_server is not None:
            smtp_server.close()  # no new connections; messages in DATA may still finish
        if in_data.count:
            log.info("stopping: waiting for %d SMTP message(s) in DATA", in_data.count)
        if not await in_data.drain(_DRAIN_SECONDS) or not await parts.intake.drain(_DRAIN_SECONDS):
            log.warning("stopping with SMTP messages still in progress; senders will retry")
        state["http"] = False
        await runner.cleanup()
        parts.worker.stop()
        parts.digester.stop()
        if parts.moderation_mailer is not None:
            parts.moderation_mailer.stop()
        for task in tasks[graceful:]:
            task.cancel()
        # A send in flight may take long: bounded, and a cancelled one keeps its lease
        # and is sent again (same Message-ID) after the next start; moderation emails
        # not built yet stay queued for the next start.
        if tasks:  # none when the start failed before them (asyncio.wait refuses none)
            _done, late = await asyncio.wait(set(tasks[:graceful]), timeout=_DRAIN_SECONDS)
            for task in late:
                task.cancel()
            _done, stuck = await asyncio.wait(set(tasks), timeout=_DRAIN_SECONDS)
            for task in stuck:  # never hang a shutdown on a task that ignores cancellation
                log.error("stopping: task %s did not stop", task.get_name())
