"""decide(): the whole table, status by policy, as docs/sender-authentication.md states it."""

from __future__ import annotations

import itertools
from typing import Literal

import pytest

from mailbridge.senderauth import AuthPolicy, AuthResult, DmarcResult, decide
from mailbridge.senderauth.dkim import DnsState
from mailbridge.senderauth.verdict import Status


def _result(status: Status, applied: str | None = None, dns: DnsState = "ok") -> AuthResult:
    dmarc = DmarcResult(
        "fail" if status == "failed" else "none",
        policy=applied,  # type: ignore[arg-type]
        applied=applied,  # type: ignore[arg-type]
        pct=100,
    )
    domain = None if status == "no-from" else "example.com"
    return AuthResult(status, domain, (), dmarc, "local checks", dns, "")


ON_FAIL: tuple[Literal["refuse", "hold"], ...] = ("refuse", "hold")
ON_DNS: tuple[Literal["accept", "hold", "tempfail"], ...] = ("accept", "hold", "tempfail")
POLICIES = [
    AuthPolicy(on_reject, on_quarantine, dns)
    for on_reject, on_quarantine, dns in itertools.product(ON_FAIL, ON_FAIL, ON_DNS)
]


@pytest.mark.parametrize("policy", POLICIES)
def test_the_decision_table(policy: AuthPolicy) -> None:
    assert decide(_result("authenticated"), policy).action == "accept"
    assert decide(_result("unauthenticated"), policy).action == "accept"
    assert decide(_result("no-from"), policy).action == "refuse"
    assert decide(_result("failed", "reject"), policy).action == policy.on_dmarc_reject
    assert decide(_result("failed", "quarantine"), policy).action == policy.on_dmarc_quarantine
    undetermined = decide(_result("undetermined", dns="unavailable"), policy)
    assert undetermined.action == policy.when_dns_unavailable


@pytest.mark.parametrize(
    ("status", "applied", "reply"),
    [
        ("failed", "reject", "550 5.7.1 "),
        ("failed", "quarantine", "550 5.7.1 "),
        ("no-from", None, "550 5.7.1 "),
        ("undetermined", None, "451 4.7.0 "),
    ],
)
def test_refusals_carry_a_one_line_smtp_reply(
    status: Status, applied: str | None, reply: str
) -> None:
    strict = AuthPolicy("refuse", "refuse", "tempfail")
    decision = decide(_result(status, applied), strict)
    assert decision.smtp_reply is not None
    assert decision.smtp_reply.startswith(reply)
    assert decision.smtp_reply.isascii() and decision.smtp_reply.isprintable()


def test_accept_and_hold_carry_no_smtp_reply_but_a_reason() -> None:
    lenient = AuthPolicy("hold", "hold", "hold")
    statuses: tuple[Status, ...] = ("authenticated", "unauthenticated", "failed", "undetermined")
    for status in statuses:
        decision = decide(_result(status, "reject"), lenient)
        assert decision.smtp_reply is None
        assert decision.reason


def test_an_unverified_acceptance_says_so() -> None:
    decision = decide(
        _result("undetermined", dns="temperror"), AuthPolicy(when_dns_unavailable="accept")
    )
    assert decision.reason == (
        "accepted unverified: could not verify the sender's domain example.com (DNS lookup failed)"
    )


def test_the_default_policy() -> None:
    assert AuthPolicy() == AuthPolicy("refuse", "hold", "hold")
