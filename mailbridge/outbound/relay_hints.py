"""What to change when the relay cannot be reached as configured: one clause for the
operator, added to the error that every queued message shows (``mailbridge outbox``).

The library's own words ("certificate verify failed", "wrong version number", "Timed
out waiting for server ready message") say what happened, not which setting fixes it.
"""

from __future__ import annotations

import ssl

import aiosmtplib

__all__ = ["connect_hint"]

# OpenSSL's verify codes for a chain that ends in a CA we do not trust: a private CA,
# or a self-signed certificate (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT and the next three).
_UNTRUSTED = frozenset({18, 19, 20, 21})
# X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_NAME_MISMATCH = frozenset({62, 64})


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind ``exc`` (aiosmtplib wraps it when TLS starts on connect)."""
    seen: BaseException | None = exc
    for _ in range(4):  # bounded: a cause chain is short
        if seen is None or isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _refused(exc: BaseException) -> bool:
    """Whether a connection refused is behind ``exc`` (aiosmtplib says only "Connect
    call failed" with errno 111)."""
    seen: BaseException | None = exc
    for _ in range(4):  # bounded: a cause chain is short
        if seen is None or isinstance(seen, ConnectionRefusedError):
            return seen is not None
        seen = seen.__cause__ or seen.__context__
    return False


def connect_hint(exc: BaseException, host: str, implicit: bool) -> str:
    """`` (what to change)`` for a failure to set up the relay connection, or ``""``."""
    if _refused(exc):
        return (
            " (connection refused: nothing listens there; the relay is down, or "
            "outbound.transport names the wrong host or port)"
        )
    cause = _ssl_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        if cause.verify_code in _NAME_MISMATCH:
            return (
                f" (the relay's certificate is not issued for '{host}': name the relay in "
                "outbound.transport as its certificate does)"
            )
        if cause.verify_code in _UNTRUSTED:
            return (
                " (a self-signed certificate or a private CA: to trust it, set "
                "outbound.relay_ca_file to a PEM file holding that CA's certificate)"
            )
        return ""
    if implicit and cause is not None and cause.reason == "WRONG_VERSION_NUMBER":
        return (
            " (the relay does not start TLS on connect on this port: for STARTTLS, as on "
            "ports 587 and 25, use smtp://host:port?tls=required)"
        )
    if (
        not implicit
        and isinstance(exc, aiosmtplib.SMTPConnectTimeoutError)
        and "server ready" in str(exc)
    ):
        return (
            " (connected, but no greeting: a relay that starts TLS on connect, as on port "
            "465, waits for us to begin; use smtps://host:port)"
        )
    return ""
