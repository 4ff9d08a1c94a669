"""The SMTP service's STARTTLS certificate and key, loaded by ``serve`` as it starts
the service and by ``check-config``, which must refuse what ``serve`` would."""

from __future__ import annotations

import ssl
from pathlib import Path

from mailbridge.errors import ConfigError
from mailbridge.settings import Settings

__all__ = ["smtp_tls_context"]


def smtp_tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server-side TLS context for STARTTLS, or None when no certificate is set.

    A file that is not PEM, a key that is not the certificate's (a renewal half done)
    or an encrypted key is a ConfigError naming both settings: one line and exit 1,
    where it was two tracebacks (ssl.SSLError) or a pass phrase prompt."""
    smtp = settings.smtp
    if not smtp.tls_cert:
        return None
    base = settings.data_path
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(
            base / Path(smtp.tls_cert).expanduser(),
            base / Path(smtp.tls_key).expanduser(),
            password=lambda: b"",  # an encrypted key is refused, never asked for
        )
    except ssl.SSLError as exc:
        raise ConfigError(
            f"smtp.tls_cert: '{smtp.tls_cert}' with smtp.tls_key '{smtp.tls_key}' cannot "
            f"serve STARTTLS ({exc.reason or exc}): a PEM certificate chain and its own "
            "private key, unencrypted, are needed"
        ) from None
    except OSError as exc:
        raise ConfigError(f"smtp.tls_cert or smtp.tls_key: cannot read: {exc.strerror}") from None
    return context
