"""Delivery status codes (RFC 3463) and whether a failure is hard or soft.

A *hard* bounce says the address will not work: no such mailbox, no such domain,
account disabled.  Enough of them and mailbridge stops mailing the address.  A
*soft* bounce says this message did not get through, for a reason that may pass
or that is ours: mailbox full, message too big, a policy or spam block, a network
problem, an expired retry.  Soft bounces are counted and shown, never used to stop
mail, because stopping on them would silence real people for our own problems.

The table (``docs/machine-mail.md`` has it with the reasons):

=====================================  =====
status                                 kind
=====================================  =====
2.x.x, or Action delivered/relayed/    none (not a failure)
expanded
4.x.x, or Action delayed               soft
5.0.0 and unknown 5.x.x                hard
5.1.x (bad mailbox, domain, syntax,    hard
moved, null MX)
5.1.7, 5.1.8 (our sender address)      soft
5.2.0, 5.2.1 (mailbox disabled)        hard
5.2.2 (full), 5.2.3 (too long for      soft
it), 5.2.4 (list expansion)
5.3.x (their system), 5.5.x            soft
(protocol), 5.6.x (content)
5.4.4 (unroutable domain)              hard
other 5.4.x (network, loop, expired)   soft
5.7.x (policy, spam, authentication,   soft
our relay account disabled: 5.7.13)
=====================================  =====

Then the diagnostic text may overrule a 5.x.x code, because servers often send a
generic code with a clear sentence: "550 5.5.0 User unknown" is hard, "550 5.0.0
Mailbox full" is soft.  A sentence about the *sender* ("Sender address rejected:
Domain not found") never makes a failure hard.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["Kind", "enhanced_code", "failure_kind", "refine_status", "status_from_text"]

Kind = Literal["hard", "soft", "none"]

# An enhanced status code: "5.1.1", "4.4.7", "5.7.350" (Office 365); not part of
# a version or an address ("10.5.1.1", "Postfix 3.5.1.2").
_ENHANCED = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\w|\.\d)")
# A basic SMTP reply code as MTAs quote it: "550 ...", "550-...", "#550 ...",
# "554: delivery error" (Yahoo), "said: 550".
_BASIC = re.compile(r"(?<![\w.])([245])[0-5]\d(?=[ \t:-]|$)", re.MULTILINE)

_SOFT_PERMANENT = frozenset({"5.1.7", "5.1.8", "5.2.2", "5.2.3", "5.2.4"})
_HARD_EXCEPTIONS = frozenset({"5.4.4"})

# Sentences that mean "this mailbox does not exist", in the words MTAs use:
#   550 5.1.1 <ann@example.net>: Recipient address rejected: User unknown  (Postfix)
#   550 5.1.1 The email account that you tried to reach does not exist     (Gmail)
#   550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found         (Exchange)
#   Sorry, no mailbox here by that name. (#5.1.1)                          (qmail)
#   554 delivery error: dd This user doesn't have a yahoo.com account      (Yahoo)
_NO_SUCH_USER = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address)"
    r"|unknown (?:recipient|mailbox|address)|(?:recipient|user|mailbox) not found"
    r"|recip(?:ient)?notfound|account (?:that you tried to reach )?does not exist"
    r"|mailbox (?:does not|doesn't) exist|address (?:does not|doesn't) exist"
    r"|no mailbox here by that name|doesn't have an? [\w.-]{1,60} account"
    r"|invalid recipient|unrouteable address",
    re.IGNORECASE,
)
# Sentences that mean "the mailbox is full":
#   552 5.2.2 The email account that you tried to reach is over quota  (Gmail)
#   550 5.0.0 Mailbox full                                              (generic)
_MAILBOX_FULL = re.compile(
    r"mailbox (?:is )?full|over ?quota|quota exceeded|exceeded (?:its |the )?(?:storage|quota)"
    r"|out of storage|insufficient (?:system )?storage|mailbox size limit",
    re.IGNORECASE,
)
# "Sender address rejected", "sender domain", "your sender": about us, not them.
_ABOUT_SENDER = re.compile(r"\bsender\b", re.IGNORECASE)


def enhanced_code(text: str) -> str | None:
    """The first enhanced status code in ``text`` ("5.1.1"), if any."""
    found = _ENHANCED.search(text)
    return None if found is None else ".".join(found.groups())


def status_from_text(text: str) -> str:
    """An enhanced status code for ``text``: the one it quotes, else ``X.0.0`` from the
    first basic reply code ("550" -> "5.0.0"), else ``""``."""
    code = enhanced_code(text)
    if code is not None:
        return code
    found = _BASIC.search(text)
    return "" if found is None else f"{found.group(1)}.0.0"


def refine_status(status: str, diagnostic: str) -> str:
    """``status``, or the more specific code its diagnostic quotes.

    Exim writes ``Status: 5.0.0`` with ``Diagnostic-Code: smtp; 550 5.7.1 Blocked``;
    a missing or unreadable Status is read from the diagnostic.
    """
    code = enhanced_code(status)
    quoted = status_from_text(diagnostic)
    if code is None:
        return quoted
    if code.endswith(".0.0") and quoted[:1] == code[:1] and not quoted.endswith(".0.0"):
        return quoted
    return code


def _permanent_kind(status: str) -> Kind:
    if status in _SOFT_PERMANENT:
        return "soft"
    if status in _HARD_EXCEPTIONS:
        return "hard"
    subject = status.split(".")[1] if status.count(".") == 2 else "0"
    return "soft" if subject in ("3", "4", "5", "6", "7") else "hard"


def failure_kind(action: str, status: str, diagnostic: str) -> Kind:
    """Hard, soft or none for one recipient of a delivery report.

    ``action`` is the RFC 3464 Action ("failed", "delayed", "delivered", "relayed",
    "expanded"; "" when the report has none), ``status`` an enhanced code or "".
    """
    action = action.lower()
    if action in ("delivered", "relayed", "expanded"):
        return "none"
    if action == "delayed":
        return "soft"
    klass = status[:1]
    if klass == "2":
        # "Action: failed" with a success code contradicts itself: count it as soft.
        return "soft" if action == "failed" else "none"
    if klass == "4":
        return "soft"
    if klass == "5":
        kind = _permanent_kind(status)
    elif action == "failed":
        kind = "hard"  # a permanent failure without a code ("550 Unrouteable address")
    else:
        return "none"
    if kind == "soft" and _NO_SUCH_USER.search(diagnostic) and not _ABOUT_SENDER.search(diagnostic):
        return "hard"
    if kind == "hard" and _MAILBOX_FULL.search(diagnostic):
        return "soft"
    return kind
