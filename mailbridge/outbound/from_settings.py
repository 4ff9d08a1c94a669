"""The outgoing side built from the settings, as ``serve`` builds it at start: the DKIM
signer (reading the key files) and the transport (reading the relay URL).

``mailbridge check-config`` runs the same code (:func:`startup_problems`), so a
setting that would stop the daemon at start (a missing or unreadable DKIM key, a
typo in the relay URL's query) is reported there too, not only by ``serve``.
"""

from __future__ import annotations

from pathlib import Path

from mailbridge.errors import ConfigError
from mailbridge.outbound.api import ApiConfig
from mailbridge.outbound.dkim import DkimSigner, signer_from_config
from mailbridge.outbound.relay import RelayConfig, relay_tls_mode
from mailbridge.outbound.transport import Transport, transport_from_url
from mailbridge.settings import Settings

__all__ = [
    "api_config",
    "in_data_dir",
    "relay_config",
    "signer_from_settings",
    "startup_problems",
    "transport_from_settings",
]


def in_data_dir(settings: Settings, path: str) -> str:
    """Key paths are relative to the data directory, where `mailbridge dkim keygen` writes."""
    if not path:
        return ""
    return str(settings.data_path / Path(path).expanduser())


def signer_from_settings(settings: Settings) -> DkimSigner | None:
    """The DKIM signer, its keys read now; None when DKIM is not configured."""
    d = settings.dkim
    return signer_from_config(
        d.domain,
        d.selector,
        in_data_dir(settings, d.private_key),
        d.ed25519_selector,
        in_data_dir(settings, d.ed25519_private_key),
    )


def relay_config(settings: Settings) -> RelayConfig:
    """The relay options from settings; an smtp:// URL's own options win over these."""
    out = settings.outbound
    return RelayConfig(
        "",
        tls=relay_tls_mode(out.relay_tls),
        username=out.relay_username or None,
        password=out.relay_password or None,
        ca_file=Path(out.relay_ca_file).expanduser() if out.relay_ca_file else None,
        timeout=out.relay_timeout_seconds,
        idle_seconds=out.relay_idle_seconds,
        max_connections=out.concurrency,
        allow_plaintext_auth=out.relay_allow_plaintext_auth,
    )


def api_config(settings: Settings) -> ApiConfig:
    """A mail service API's settings: the key, and what the relay settings say of TLS,
    timeouts and connections."""
    out = settings.outbound
    return ApiConfig(
        key=out.api_key,
        base_url=out.api_url,
        ca_file=Path(out.relay_ca_file).expanduser() if out.relay_ca_file else None,
        timeout=out.relay_timeout_seconds,
        max_connections=out.concurrency,
    )


def transport_from_settings(settings: Settings) -> Transport:
    return transport_from_url(settings.transport_url, relay_config(settings), api_config(settings))


def startup_problems(settings: Settings) -> list[str]:
    """What ``serve`` would refuse at start beyond the settings' own checks, one line
    each; nothing is started, connected or written."""
    problems = []
    for build in (signer_from_settings, transport_from_settings):
        try:
            build(settings)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems
