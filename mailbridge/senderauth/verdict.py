"""The authentication result of one message, and what to do with it under a policy.

:class:`AuthResult` is what the checks found; :func:`decide` turns it into a
:class:`Decision` under the operator's :class:`AuthPolicy`. ``status`` is the whole
story in one word:

- ``authenticated``: a valid DKIM signature aligned with the From domain (checked
  here, or reported by a trusted relay);
- ``unauthenticated``: nothing proves the sender, but the From domain does not ask
  receivers to act on that (no DMARC record, p=none, an unusable record, or a pct
  that leaves no enforcement);
- ``failed``: nothing proves the sender and the From domain publishes
  p=quarantine or p=reject;
- ``undetermined``: DNS could not answer a question the verdict depends on;
- ``no-from``: the message does not have exactly one From address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from publicsuffixlist import PublicSuffixList

from mailbridge.senderauth.authres import AuthResHeader, MethodResult
from mailbridge.senderauth.dkim import DkimResult, DnsState
from mailbridge.senderauth.dmarc import (
    DmarcResult,
    PolicyName,
    is_aligned,
    to_ascii_domain,
)

__all__ = [
    "Action",
    "AuthPolicy",
    "AuthResult",
    "Decision",
    "RelayReport",
    "Status",
    "combine",
    "decide",
    "local_status",
    "relay_report",
]

Status = Literal["authenticated", "unauthenticated", "failed", "undetermined", "no-from"]
Action = Literal["accept", "hold", "refuse", "tempfail"]
LOCAL = "local checks"
_POLICY_HINT = re.compile(r"\b(?:p|policy)\s*=\s*(none|quarantine|reject)\b", re.IGNORECASE)
_UNSAFE = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True)
class AuthResult:
    status: Status
    from_domain: str | None  # lowercase A-labels
    dkim: tuple[DkimResult, ...]  # every signature, checked here
    dmarc: DmarcResult  # the DMARC evaluation the status rests on
    source: str  # "local checks" or "trusted relay <authserv-id>"
    dns: DnsState  # how DNS did for the local checks
    relay: str = ""  # what became of Authentication-Results headers

    @property
    def authenticated(self) -> bool:
        return self.status == "authenticated"

    def to_log(self) -> dict[str, object]:
        """A short JSON-able record for the inbound log."""
        return {
            "status": self.status,
            "from_domain": self.from_domain,
            "source": self.source,
            "dns": self.dns,
            "dkim": [r.to_log() for r in self.dkim],
            "dmarc": self.dmarc.to_log(),
            "relay": self.relay,
        }

    def summary(self) -> str:
        """One line for people: the status and the facts it rests on."""
        dmarc = f"DMARC {self.dmarc.result}"
        if self.dmarc.policy is not None:
            dmarc += f" (p={self.dmarc.policy}"
            if self.dmarc.applied != self.dmarc.policy:
                dmarc += f", pct={self.dmarc.pct}: applied as {self.dmarc.applied}"
            dmarc += ")"
        if self.dkim:
            dkim = ", ".join(f"d={r.domain or '?'} {r.result}" for r in self.dkim[:4])
            dkim += ", ..." if len(self.dkim) > 4 else ""
        else:
            dkim = "unsigned"
        return (
            f"{self.status}: From {self.from_domain or '(none)'}; {dmarc}; DKIM {dkim} "
            f"[{self.source}; DNS {self.dns}]"
        )


@dataclass(frozen=True)
class AuthPolicy:
    """What the operator wants done with messages that do not authenticate."""

    on_dmarc_reject: Literal["refuse", "hold"] = "refuse"
    on_dmarc_quarantine: Literal["refuse", "hold"] = "hold"
    when_dns_unavailable: Literal["accept", "hold", "tempfail"] = "hold"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str  # for the log and the moderator
    smtp_reply: str | None = None  # the full reply to DATA, for refuse and tempfail

    def to_log(self) -> dict[str, object]:
        return {"action": self.action, "reason": self.reason, "smtp_reply": self.smtp_reply}


def _safe(text: str) -> str:
    """Printable ASCII on one line: safe inside an SMTP reply."""
    return _UNSAFE.sub("?", text)[:300]


def decide(result: AuthResult, policy: AuthPolicy) -> Decision:
    """The action for ``result`` under ``policy`` (a pure function: see the docs' table)."""
    domain = _safe(result.from_domain or "the sender's domain")
    status = result.status
    if status == "authenticated":
        via = "" if result.source == LOCAL else f" (reported by {result.source})"
        aligned = ", ".join(result.dmarc.aligned) or domain
        return Decision("accept", _safe(f"authenticated: valid DKIM signature of {aligned}{via}"))
    if status == "no-from":
        reason = "the message needs exactly one From address to be authenticated"
        return Decision("refuse", reason, f"550 5.7.1 Sender not authenticated: {reason}")
    if status == "unauthenticated":
        return Decision(
            "accept", _safe(f"not authenticated, accepted: {_why_not_enforced(result)}")
        )
    if status == "failed":
        applied = result.dmarc.applied or "reject"
        reason = _safe(
            f"{domain} publishes DMARC p={applied} and this message has no valid DKIM "
            "signature aligned with it"
        )
        choice = policy.on_dmarc_reject if applied == "reject" else policy.on_dmarc_quarantine
        if choice == "refuse":
            return Decision("refuse", reason, f"550 5.7.1 {reason}")
        return Decision("hold", f"held for the moderator: {reason}")
    trouble = "DNS unavailable" if result.dns == "unavailable" else "DNS lookup failed"
    reason = _safe(f"could not verify the sender's domain {domain} ({trouble})")
    if policy.when_dns_unavailable == "tempfail":
        reply = f"451 4.7.0 Cannot verify {domain} now ({trouble}); please try again later"
        return Decision("tempfail", reason, _safe(reply))
    if policy.when_dns_unavailable == "hold":
        return Decision("hold", f"held for the moderator: {reason}")
    return Decision("accept", f"accepted unverified: {reason}")


def _why_not_enforced(result: AuthResult) -> str:
    dmarc, domain = result.dmarc, result.from_domain or "the sender's domain"
    if dmarc.result == "none":
        return f"{domain} publishes no DMARC policy"
    if dmarc.result == "permerror":
        return f"{domain} has an unusable DMARC record"
    if dmarc.policy is not None and dmarc.policy != dmarc.applied:
        return f"{domain} publishes DMARC p={dmarc.policy} at pct={dmarc.pct}, applied as none"
    return f"{domain} publishes DMARC p={dmarc.policy or 'none'}"


def local_status(dmarc: DmarcResult) -> Status:
    if dmarc.aligned:
        return "authenticated"
    if dmarc.result in ("none", "permerror"):
        return "unauthenticated"
    if dmarc.result == "fail":
        return "failed" if dmarc.applied in ("reject", "quarantine") else "unauthenticated"
    # temperror: it matters only if the policy is unknown or enforced.
    return "unauthenticated" if dmarc.applied == "none" else "undetermined"


@dataclass(frozen=True)
class RelayReport:
    """What a trusted relay's Authentication-Results says about this From domain."""

    authserv_id: str
    dmarc: str | None  # its dmarc= result (None: absent, or contradictory)
    policy_hint: PolicyName | None  # the policy it says the domain publishes
    dkim_pass: tuple[str, ...]  # signing domains it found valid


def _about(result: MethodResult, from_domain: str) -> bool:
    named = result.prop("header.from")
    if named is None:
        return True  # a dmarc= result is about the message's From unless it says otherwise
    return to_ascii_domain(named.rpartition("@")[2]) == from_domain


def relay_report(header: AuthResHeader, from_domain: str) -> RelayReport:
    dmarc = [r for r in header.results if r.method == "dmarc" and _about(r, from_domain)]
    outcomes = {r.result for r in dmarc}
    hints: set[str] = set()
    for r in dmarc:
        for key, value in r.properties:
            if key.startswith("policy.") and value.lower() in ("none", "quarantine", "reject"):
                hints.add(value.lower())
        for comment in r.comments:
            hints.update(m.lower() for m in _POLICY_HINT.findall(comment))
    hint: PolicyName | None = None
    if len(hints) == 1:
        only = hints.pop()
        hint = "reject" if only == "reject" else "quarantine" if only == "quarantine" else "none"
    signers = []
    for r in header.results:
        if r.method == "dkim" and r.result == "pass":
            named = r.prop("header.d") or (r.prop("header.i") or "").rpartition("@")[2]
            domain = to_ascii_domain(named) if named else None
            if domain:
                signers.append(domain)
    return RelayReport(
        authserv_id=header.authserv_id.lower(),
        dmarc=outcomes.pop() if len(outcomes) == 1 else None,
        policy_hint=hint,
        dkim_pass=tuple(dict.fromkeys(signers)),
    )


def combine(
    local: AuthResult,
    header: AuthResHeader | None,
    suffixes: PublicSuffixList,
) -> AuthResult:
    """The final result: the local checks, or a trusted relay's word where it settles more.

    A local pass is cryptographic proof on the bytes we received, so it always stands.
    Otherwise a trusted relay's pass wins (it saw the message before anything on the
    way could alter it), and its failure counts only when DNS kept us from knowing.
    """
    if local.status == "authenticated" or header is None or local.from_domain is None:
        return local
    report = relay_report(header, local.from_domain)
    source = f"trusted relay {report.authserv_id}"
    mode = local.dmarc.alignment
    if report.dmarc == "pass":
        dmarc = DmarcResult(
            "pass",
            policy=local.dmarc.policy or report.policy_hint,
            applied=local.dmarc.applied or report.policy_hint,
            pct=local.dmarc.pct,
            alignment=mode,
            record_domain=local.dmarc.record_domain,
            aligned=(local.from_domain,),
            reason=f"{source} reports dmarc=pass",
        )
        return _replace(local, "authenticated", dmarc, source)
    aligned = tuple(d for d in report.dkim_pass if is_aligned(d, local.from_domain, mode, suffixes))
    if report.dmarc is None and aligned:
        dmarc = DmarcResult(
            local.dmarc.result,
            policy=local.dmarc.policy,
            applied=local.dmarc.applied,
            pct=local.dmarc.pct,
            alignment=mode,
            record_domain=local.dmarc.record_domain,
            aligned=aligned,
            reason=f"{source} reports a valid DKIM signature of {', '.join(aligned)}",
        )
        return _replace(local, "authenticated", dmarc, source)
    if local.status != "undetermined":
        return local
    if report.dmarc == "none":
        dmarc = DmarcResult("none", reason=f"{source} reports no DMARC policy")
        return _replace(local, "unauthenticated", dmarc, source)
    if report.dmarc == "fail" and report.policy_hint is not None:
        hint = report.policy_hint
        status: Status = "unauthenticated" if hint == "none" else "failed"
        reason = f"{source} reports dmarc=fail, policy {hint}"
        dmarc = DmarcResult("fail", policy=hint, applied=hint, alignment=mode, reason=reason)
        return _replace(local, status, dmarc, source)
    return local


def _replace(local: AuthResult, status: Status, dmarc: DmarcResult, source: str) -> AuthResult:
    return AuthResult(
        status=status,
        from_domain=local.from_domain,
        dkim=local.dkim,
        dmarc=dmarc,
        source=source,
        dns=local.dns,
        relay=local.relay,
    )
