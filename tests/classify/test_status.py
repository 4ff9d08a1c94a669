"""Hard or soft: the status table and the diagnostic overrides."""

from __future__ import annotations

import pytest

from mailbridge.classify.status import failure_kind, refine_status, status_from_text

TABLE = [
    # (action, status, kind): RFC 3463 subjects, with our reasons in docs/machine-mail.md
    ("failed", "5.0.0", "hard"),
    ("failed", "5.1.1", "hard"),  # bad destination mailbox
    ("failed", "5.1.2", "hard"),  # bad destination system
    ("failed", "5.1.3", "hard"),
    ("failed", "5.1.6", "hard"),  # mailbox moved
    ("failed", "5.1.10", "hard"),  # null MX (RFC 7505), Exchange RecipientNotFound
    ("failed", "5.1.7", "soft"),  # our sender address
    ("failed", "5.1.8", "soft"),
    ("failed", "5.2.0", "hard"),
    ("failed", "5.2.1", "hard"),  # mailbox disabled
    ("failed", "5.2.2", "soft"),  # mailbox full
    ("failed", "5.2.3", "soft"),  # message too long for this mailbox
    ("failed", "5.2.4", "soft"),
    ("failed", "5.3.0", "soft"),
    ("failed", "5.3.4", "soft"),
    ("failed", "5.4.4", "hard"),  # unable to route: the domain does not receive mail
    ("failed", "5.4.1", "soft"),
    ("failed", "5.4.6", "soft"),
    ("failed", "5.4.7", "soft"),  # delivery time expired
    ("failed", "5.5.0", "soft"),
    ("failed", "5.6.1", "soft"),
    ("failed", "5.7.1", "soft"),  # policy, spam
    ("failed", "5.7.26", "soft"),  # DMARC / authentication
    ("failed", "5.7.350", "soft"),  # Office 365 spam verdict
    ("failed", "5.7.13", "soft"),  # OUR account disabled at the relay (RFC 5248): not theirs
    ("failed", "5.9.9", "hard"),  # an unknown subject: permanent by its class
    ("failed", "4.2.2", "soft"),
    ("failed", "4.4.7", "soft"),  # "failed" after retries for a temporary reason
    ("delayed", "4.4.1", "soft"),
    ("delayed", "5.1.1", "soft"),  # delayed is never a final verdict
    ("delivered", "2.0.0", "none"),
    ("relayed", "2.0.0", "none"),
    ("expanded", "2.0.0", "none"),
    ("failed", "2.0.0", "soft"),  # contradictory: counted, but not as hard
    ("", "2.0.0", "none"),
    ("failed", "", "hard"),  # a permanent failure without a code
    ("", "", "none"),
]


@pytest.mark.parametrize(("action", "status", "kind"), TABLE)
def test_status_table(action: str, status: str, kind: str) -> None:
    assert failure_kind(action, status, "") == kind


@pytest.mark.parametrize(
    ("status", "diagnostic"),
    [
        ("5.5.0", "550 5.5.0 <ann@example.net>: Recipient address rejected: User unknown"),
        ("5.7.1", "550 5.7.1 No such user here"),
        ("5.4.0", "550 Unrouteable address"),
        ("5.3.0", "553 sorry, that domain isn't in my list of allowed rcpthosts; no such mailbox"),
        ("5.7.1", "550 5.7.1 RESOLVER.ADR.RecipNotFound; not found"),
    ],
)
def test_a_generic_code_with_no_such_user_is_hard(status: str, diagnostic: str) -> None:
    assert failure_kind("failed", status, diagnostic) == "hard"


def test_no_such_user_about_the_sender_stays_soft() -> None:
    diagnostic = "553 5.1.8 <x@reply.example.org>: Sender address rejected: Domain not found"
    assert failure_kind("failed", "5.1.8", diagnostic) == "soft"
    assert failure_kind("failed", "5.7.1", "550 5.7.1 Sender unknown user rejected") == "soft"


@pytest.mark.parametrize(
    "diagnostic",
    [
        "550 5.0.0 Mailbox full",
        "552 Requested mail action aborted: exceeded storage allocation",
        "550 5.1.1 user is over quota",
        "552 5.2.2 The email account is over quota",
    ],
)
def test_a_full_mailbox_is_soft_whatever_the_code(diagnostic: str) -> None:
    assert failure_kind("failed", status_from_text(diagnostic), diagnostic) == "soft"


def test_our_relay_account_disabled_stays_soft() -> None:
    # RFC 5248: X.7.13 answers an authenticated client whose account is disabled.
    assert failure_kind("failed", "5.7.13", "535 5.7.13 User account disabled") == "soft"


def test_temporary_codes_stay_soft_even_for_unknown_users() -> None:
    assert failure_kind("failed", "4.1.1", "450 4.1.1 <ann@example.net>: User unknown") == "soft"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("smtp; 550 5.1.1 <a@b>: unknown", "5.1.1"),
        ("550-5.1.1 The email account", "5.1.1"),
        ("Sorry, no mailbox here by that name. (#5.1.1)", "5.1.1"),
        ("#550 5.1.10 RESOLVER", "5.1.10"),
        ("550 5.7.350 Remote server returned message detected as spam", "5.7.350"),
        ("554: delivery error: dd This user doesn't have an account", "5.0.0"),
        ("452 too many recipients", "4.0.0"),
        ("host 10.5.1.1 did not answer", ""),
        ("Postfix 3.5.1.2", ""),
        ("Connection timed out", ""),
    ],
)
def test_status_from_text(text: str, status: str) -> None:
    assert status_from_text(text) == status


@pytest.mark.parametrize(
    ("status", "diagnostic", "refined"),
    [
        ("5.0.0", "smtp; 550 5.7.1 Blocked by SpamAssassin", "5.7.1"),
        ("5.0.0", "smtp; 550 Unrouteable address", "5.0.0"),
        ("5.1.1", "smtp; 550 5.7.1 whatever", "5.1.1"),
        ("4.0.0", "smtp; 550 5.7.1 mixed classes", "4.0.0"),
        ("", "smtp; 550 5.2.2 full", "5.2.2"),
        ("", "smtp; 550 go away", "5.0.0"),
        ("5.1.1 (user unknown)", "", "5.1.1"),
        ("junk", "", ""),
    ],
)
def test_refine_status(status: str, diagnostic: str, refined: str) -> None:
    assert refine_status(status, diagnostic) == refined
