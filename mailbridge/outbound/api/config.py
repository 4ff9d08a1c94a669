"""The API transports' names and settings, importable without aiohttp (the CLI shows
the transport without loading the HTTP client)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailbridge.errors import ConfigError

__all__ = ["API_SCHEMES", "ApiConfig", "masked_key"]

API_SCHEMES = ("mailgun", "postmark", "sendgrid", "ses")


def masked_key(key: str) -> str:
    """A key as it may be shown: its last four characters when it is long enough that
    they give nothing away (every service's keys are), so the operator can tell
    which key is in use."""
    return f"***{key[-4:]}" if len(key) >= 20 else "***"


@dataclass(frozen=True)
class ApiConfig:
    """The settings every API transport takes. ``key`` never appears in a repr."""

    key: str = field(default="", repr=False)
    base_url: str = ""  # the service's own URL unless set (outbound.api_url)
    ca_file: Path | None = None  # trust this CA (PEM) instead of the system's
    timeout: float = 60.0  # one whole request, connecting included
    max_connections: int = 4
    # After the service refused our key, sends fail at once for this long instead
    # of each asking again with the same wrong key.
    auth_hold_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.base_url and not self.base_url.startswith("https://"):
            raise ConfigError(
                f"outbound.api_url: expected https://..., got '{self.base_url}' (the key "
                "is sent with every request: never over plain HTTP)"
            )
        if "@" in self.base_url.partition("://")[2].partition("/")[0]:
            # aiohttp would send it as Basic auth to whatever answers there (Mailgun's
            # own Authorization makes it refuse the request), and every "cannot reach"
            # error, logged and shown by `status`, would print it.
            raise ConfigError(
                "outbound.api_url: no user:password@ in it (the key goes in outbound.api_key)"
            )
        if self.timeout <= 0 or self.max_connections <= 0:
            raise ConfigError("outbound.relay_timeout_seconds, concurrency: must be above zero")
