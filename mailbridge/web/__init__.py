"""The HTTP service: comment API, thread pages, moderation links, health."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from mailbridge.admin.api import AdminApi
from mailbridge.clock import Clock
from mailbridge.embed.handlers import EmbedHandlers
from mailbridge.inbound_webhooks import InboundWebhooks
from mailbridge.metrics import Metrics
from mailbridge.moderate.service import CommentService
from mailbridge.notify import Notifier
from mailbridge.people.pages import PrivacyPages
from mailbridge.settings import Settings
from mailbridge.store import Store
from mailbridge.templating import Renderer
from mailbridge.tokens import Keyring
from mailbridge.web.api import CommentApi
from mailbridge.web.guard import cors_middleware
from mailbridge.web.limits import PerNetwork, RateLimiter, ip_limiter
from mailbridge.web.middleware import error_middleware, security_headers
from mailbridge.web.moderation import ModerationPages
from mailbridge.web.pages import Pages
from mailbridge.web.published import PublishedThreads
from mailbridge.web.queue import QueuePages
from mailbridge.web.spam_folder import SpamFolderPages
from mailbridge.web.subscriptions import SubscriptionPages

__all__ = ["build_web_app"]


def build_web_app(
    *,
    settings: Settings,
    store: Store,
    service: CommentService,
    renderer: Renderer,
    keyring: Keyring,
    clock: Clock,
    health: Callable[[], dict[str, bool]],
    notifier: Notifier,
    queued: Callable[[], None] = lambda: None,
    metrics: Metrics | None = None,
    inbound_hooks: InboundWebhooks | None = None,
) -> web.Application:
    """The aiohttp application; ``health`` reports the state of each component."""
    timing = [metrics.middleware] if metrics is not None else []
    app = web.Application(
        client_max_size=settings.http.max_body_bytes,
        middlewares=[
            *timing,  # outermost: every request, its error page included
            security_headers,
            cors_middleware(
                frozenset(settings.http.cors_origins) | frozenset(settings.site.allowed_origins)
            ),
            error_middleware(renderer, settings.site.name),
        ],
    )
    limits = settings.limits

    def limiter(scope: str, per_hour: int) -> RateLimiter:
        """Per client: an IPv6 one by its /64."""
        return PerNetwork(ip_limiter(store, scope, per_hour, keyring.clients))

    api = CommentApi(
        service,
        store,
        clock,
        limits,
        frozenset(settings.http.trusted_proxies),
        limiter=limiter("comments", limits.web_comments_per_ip_per_hour),
        smtputf8=settings.outbound.smtputf8,
        form_key=keyring.form,
    )
    published = PublishedThreads(store, settings.cache, language=settings.site.language)
    pages = Pages(store, renderer, settings.site.name, published)
    moderation = ModerationPages(
        service,
        keyring,
        renderer,
        clock,
        settings.site.name,
        settings.site.public_url,
        store=store,
        moderators=settings.moderation.moderators,
    )
    embed = EmbedHandlers(
        store, settings, clock, limiter("threads", limits.threads_per_ip_per_hour)
    )
    queue = QueuePages(
        service=service,
        store=store,
        notifier=notifier,
        renderer=renderer,
        keyring=keyring,
        clock=clock,
        settings=settings,
        queued=queued,
        limiter=limiter("sign-in", 10),  # sign-in emails per client IP per hour
        # Per address asked for, per hour (keyed by the address, not a client).
        address_limiter=ip_limiter(store, "sign-in-address", 5, keyring.clients),
    )
    spam_folder = SpamFolderPages(
        queue=queue,
        service=service,
        store=store,
        renderer=renderer,
        keyring=keyring,
        settings=settings,
        clock=clock,
    )
    links = SubscriptionPages(store, keyring, renderer, clock, settings.site.name)
    admin = AdminApi(service, store, clock, settings.privacy.erased_comments)
    privacy = PrivacyPages(
        store=store,
        notifier=notifier,
        renderer=renderer,
        key=keyring.subscription,
        clock=clock,
        settings=settings,
        queued=queued,
        limiter=limiter("privacy-links", 10),  # link emails per client IP per hour
        # Per address asked for, per hour (keyed by the address, not a client).
        address_limiter=ip_limiter(store, "privacy-address", 5, keyring.clients),
    )

    async def healthz(request: web.Request) -> web.Response:
        parts: dict[str, bool | str] = dict(health())
        ok = all(parts.values())
        if ok:
            # Up is not enough: a locked or full database must show here, so a
            # load balancer or monitor sees what commenters would get.
            failure = await store.probe_write()
            parts["writes"] = failure is None
            if failure is not None:
                parts["writes_error"] = failure
                return web.json_response({"status": "failing", **parts}, status=503)
        return web.json_response(
            {"status": "ok" if ok else "starting", **parts}, status=200 if ok else 503
        )

    app.add_routes(
        [
            web.get("/", pages.index),
            web.get("/healthz", healthz),
            *([web.get("/metrics", metrics.handler)] if metrics is not None else []),
            *(inbound_hooks.routes() if inbound_hooks is not None else []),
            web.get("/threads/{thread}", pages.thread),
            web.get("/api/threads/{thread}/comments", published.comments),
            web.post("/api/threads/{thread}/comments", api.submit),
            web.post("/api/threads/{thread}/form", api.form),
            web.post("/api/threads", embed.thread_for_page),
            web.get("/api/counts", embed.counts),
            web.get("/embed.js", embed.script),
            web.get("/count.js", embed.script),
            web.get("/moderate", queue.queue_or_login),
            web.post("/moderate", queue.ask_link),
            web.get("/moderate/signin/{token}", queue.signin_page),
            web.post("/moderate/signin/{token}", queue.signin),
            web.post("/moderate/decide", queue.decide),
            web.post("/moderate/undo", queue.undo),
            web.post("/moderate/signout", queue.signout),
            # Before /moderate/{token}, which would take "spam" for a link's token.
            web.get("/moderate/spam", spam_folder.page),
            web.post("/moderate/spam", spam_folder.act),
            web.get("/moderate/undo/{token}", moderation.undo_page),
            web.post("/moderate/undo/{token}", moderation.undo),
            web.get("/moderate/{token}", moderation.confirm),
            web.post("/moderate/{token}", moderation.act),
            web.get("/confirm/{token}", links.confirm_page),
            web.post("/confirm/{token}", links.confirm),
            web.get("/unsubscribe/{token}", links.unsubscribe_page),
            web.get("/privacy", privacy.form),
            web.post("/privacy", privacy.ask),
            web.get("/privacy/{token}", privacy.page),
            web.get("/privacy/{token}/export.json", privacy.download),
            web.post("/privacy/{token}/erase", privacy.erase),
            web.get("/api/admin/openapi.json", admin.openapi),
            web.get("/api/admin/comments", admin.list_comments),
            web.get("/api/admin/comments/{id}", admin.get_comment),
            web.post("/api/admin/comments/{id}/{action}", admin.decide),
            web.patch("/api/admin/comments/{id}", admin.edit_comment),
            web.delete("/api/admin/comments/{id}", admin.delete_comment),
            web.get("/api/admin/comments/{id}/history", admin.comment_history),
            web.post("/api/admin/threads", admin.create_thread),
            web.post("/api/admin/people/{verb}", admin.person),
            web.post("/api/admin/threads/{key}/{verb}", admin.close_thread),
            web.post("/unsubscribe/{token}", links.unsubscribe),
        ]
    )
    return app
