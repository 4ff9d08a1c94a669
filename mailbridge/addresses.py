"""Email addresses: which ones mailbridge accepts, and the one spelling it keeps.

Every address that enters (the web form, an import file, the settings, a command-line
argument) goes through :func:`normalise`; an address already stored is checked again
before each email is composed to it, since databases from before these rules may hold
anything. The rules (docs/subscriptions.md, "Which addresses"):

* the syntax of RFC 5321/5322 as `email-validator` checks it: a dot-atom before the @
  (no quoted local parts, no comments, no display name), a domain name with a dot (no
  IP literal); no DNS lookups;
* the domain is stored and sent in its ASCII form: lower case, an internationalised
  domain as its IDNA A-label (``exämple.org`` → ``xn--exmple-cua.org``), which every
  mail server understands, never as an RFC 2047 encoded word, which none does;
* the local part is kept as written (it may be case-sensitive at its server);
* a local part with non-ASCII characters needs SMTPUTF8 (RFC 6531) on every hop, so it
  is accepted only when ``outbound.smtputf8`` says the outgoing path supports it.
"""

from __future__ import annotations

import functools
from email.headerregistry import Address
from email.utils import getaddresses

from email_validator import EmailNotValidError, validate_email

from mailbridge.errors import InvalidAddress

__all__ = [
    "NON_ASCII_LOCAL_PART",
    "mailbox",
    "matching_key",
    "normalise",
    "parse_mailbox",
    "same_mailbox",
]

NON_ASCII_LOCAL_PART = (
    "addresses with non-ASCII characters before the @ cannot be used on this site"
)


def normalise(value: str, *, smtputf8: bool, operator: bool = False) -> str:
    """``local@domain`` in the form mailbridge stores and sends, or InvalidAddress.

    ``operator`` relaxes one rule for addresses from the settings: a domain need not be
    globally deliverable (``me@intranet``, or ``me@localhost`` for a test instance).
    People's addresses must be.
    """
    local, _at, domain = value.rpartition("@")
    if operator and domain.lower() == "localhost":
        # email-validator refuses this special-use name outright: check the local part
        # with a stand-in domain, keep localhost.
        return normalise(f"{local}@example.com", smtputf8=smtputf8).rpartition("@")[0] + (
            "@localhost"
        )
    try:
        valid = validate_email(
            value,
            allow_smtputf8=True,  # decided below, with our own message
            check_deliverability=False,
            globally_deliverable=not operator,
        )
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    if not valid.local_part.isascii() and not smtputf8:
        raise InvalidAddress(NON_ASCII_LOCAL_PART)
    domain = valid.ascii_domain.lower()
    return f"{valid.local_part}@{domain}"


def parse_mailbox(value: str, *, smtputf8: bool) -> tuple[str, str]:
    """(display name, normalised address) of a configured ``Name <addr>`` or ``addr``.

    One mailbox only: "a@x.org, b@y.org" is refused rather than quietly cut to the first.
    """
    found = getaddresses([value])
    if len(found) != 1 or not found[0][1]:
        raise InvalidAddress("expected one address, as addr@domain or Name <addr@domain>")
    name, addr = found[0]
    return name, normalise(addr, smtputf8=smtputf8, operator=True)


def mailbox(display_name: str, address: str) -> Address:
    """An Address of a normalised address, without the email package re-parsing it
    (it refuses a non-ASCII local part that SMTPUTF8 allows)."""
    local, _at, domain = address.rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


@functools.lru_cache(maxsize=4096)
def matching_key(value: str) -> str | None:
    """What two spellings of one mailbox share (case ignored, domain as A-label), or
    None for something that is not an address. For matching only, never for sending.

    Remembered for the latest few thousand values: every emailed reply compares its
    From with the address its token was sent to, the same few people again and
    again, and email-validator took 3% of the daemon's time doing so under load."""
    try:
        return normalise(value, smtputf8=True, operator=True).lower()
    except InvalidAddress:
        return None


def same_mailbox(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are valid spellings of one mailbox."""
    key = matching_key(a)
    return key is not None and key == matching_key(b)
