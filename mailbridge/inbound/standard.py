"""The real inbound checks: :mod:`mailbridge.classify` and :mod:`mailbridge.senderauth`
behind the pipeline's :class:`~mailbridge.inbound.checks.InboundChecks` interface."""

from __future__ import annotations

import asyncio
from email.message import Message
from typing import Literal, cast

from publicsuffixlist import PublicSuffixList

from mailbridge.classify import classify_automated, may_auto_reply, parse_bounce
from mailbridge.inbound.checks import (
    AuthDecision,
    AuthOutcome,
    BouncedRecipient,
    BounceReport,
    InboundChecks,
    MachineFinding,
)
from mailbridge.senderauth import (
    AuthPolicy,
    DnsResolver,
    Resolver,
    UnavailableResolver,
    authenticate,
    decide,
    load_public_suffixes,
)
from mailbridge.settings import AuthSettings

__all__ = ["StandardChecks", "resolver_for", "standard_checks"]


def resolver_for(settings: AuthSettings) -> Resolver:
    if settings.dns == "off":
        return UnavailableResolver('DNS is off ([auth] dns = "off")')
    return DnsResolver(settings.nameservers, lifetime=settings.dns_timeout)


class StandardChecks:
    def __init__(self, settings: AuthSettings, resolver: Resolver) -> None:
        self._settings = settings
        self._resolver = resolver
        self._policy = AuthPolicy(
            on_dmarc_reject=cast(Literal["refuse", "hold"], settings.on_dmarc_reject),
            on_dmarc_quarantine=cast(Literal["refuse", "hold"], settings.on_dmarc_quarantine),
            when_dns_unavailable=cast(
                Literal["accept", "hold", "tempfail"], settings.when_dns_unavailable
            ),
        )
        self._suffixes: PublicSuffixList | None = None
        self._suffixes_lock = asyncio.Lock()

    def machine(self, headers: Message, mail_from: str) -> MachineFinding | None:
        verdict = classify_automated(headers, mail_from)
        if verdict is None:
            return None
        return MachineFinding(
            verdict.reason.value, verdict.evidence, tuple(str(s) for s in verdict.signals)
        )

    def may_answer(self, headers: Message, mail_from: str) -> bool:
        return may_auto_reply(headers, mail_from)

    def bounce(self, raw: bytes, mail_from: str) -> BounceReport | None:
        found = parse_bounce(raw, mail_from)
        if found is None:
            return None
        # A report that says "delivered" is kept too: it is logged as bounce.none.
        return BounceReport(
            format=found.format,
            recipients=tuple(
                BouncedRecipient(r.address, r.kind, r.status, r.diagnostic)
                for r in found.recipients
            ),
            original_message_id=found.original_message_id,
        )

    async def _psl(self) -> PublicSuffixList:
        # Loaded once, on first use, off the event loop (it takes tens of milliseconds).
        async with self._suffixes_lock:
            if self._suffixes is None:
                self._suffixes = await asyncio.to_thread(load_public_suffixes)
            return self._suffixes

    async def authenticate(self, raw: bytes, from_domain: str, peer: str) -> AuthOutcome:
        result = await authenticate(
            raw,
            resolver=self._resolver,
            trusted_authserv_ids=self._settings.trusted_relays,
            peer=peer,
            trusted_networks=self._settings.trusted_relay_networks,
            from_domain=from_domain,
            suffixes=await self._psl(),
            lookup_timeout=self._settings.dns_timeout,
        )
        decision = decide(result, self._policy)
        summary = decision.reason
        if decision.smtp_reply:
            summary = decision.smtp_reply.split(" ", 2)[-1]
        return AuthOutcome(
            decision=AuthDecision(decision.action),
            summary=summary,
            code=_code(result.status, result.dmarc.applied),
            record={"result": result.to_log(), "summary": result.summary()},
        )


def _code(status: str, applied: str | None) -> str:
    """A reason code for the inbound log: dmarc_reject, dns_unavailable, ..."""
    if status == "failed":
        return f"dmarc_{applied or 'fail'}"
    return {"undetermined": "dns_unavailable", "no-from": "no_from"}.get(status, status)


def standard_checks(settings: AuthSettings, resolver: Resolver | None = None) -> InboundChecks:
    return StandardChecks(settings, resolver or resolver_for(settings))
