"""The API transport a ``mailgun://``, ``postmark://``, ``sendgrid://`` or ``ses://`` URL
names."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from mailbridge.errors import ConfigError
from mailbridge.outbound.api.config import ApiConfig
from mailbridge.outbound.api.mailgun import MailgunTransport, mailgun_base
from mailbridge.outbound.api.postmark import PostmarkTransport
from mailbridge.outbound.api.sendgrid import SendgridTransport

if TYPE_CHECKING:
    from mailbridge.outbound.api.ses import SesTransport

__all__ = ["api_transport"]


def _query(url: str, allowed: set[str]) -> dict[str, str]:
    parts = urlsplit(url)
    found: dict[str, str] = {}
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        if key not in allowed or len(values) != 1:
            names = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(f"outbound.transport: unknown query '{key}' in '{url}' ({names})")
        found[key] = values[0]
    return found


def api_transport(
    url: str, api: ApiConfig
) -> MailgunTransport | PostmarkTransport | SendgridTransport | SesTransport:
    """The transport for an API transport's URL."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ConfigError(
            "outbound.transport: put the API key in outbound.api_key (or "
            "MAILBRIDGE_OUTBOUND_API_KEY), not in the URL"
        )
    if not api.key and parts.scheme != "ses":  # SES: AWS's own credential chain
        raise ConfigError(
            f"outbound.transport: {parts.scheme}:// needs outbound.api_key "
            "(or MAILBRIDGE_OUTBOUND_API_KEY)"
        )
    if parts.scheme == "mailgun":
        query = _query(url, {"region"})
        domain = (parts.hostname or "").rstrip(".")
        if not domain or "." not in domain or parts.port is not None or parts.path.strip("/"):
            raise ConfigError(
                f"outbound.transport: expected mailgun://YOUR-SENDING-DOMAIN, got '{url}'"
            )
        return MailgunTransport(domain, mailgun_base(query.get("region", "us"), api), api)
    if parts.scheme == "postmark":
        query = _query(url, {"stream"})
        if parts.netloc or parts.path.strip("/"):
            raise ConfigError(f"outbound.transport: expected postmark:// (no host), got '{url}'")
        return PostmarkTransport(query.get("stream", "outbound"), api)
    if parts.scheme == "sendgrid":
        _query(url, set())
        if parts.netloc or parts.path.strip("/"):
            raise ConfigError(
                f"outbound.transport: expected sendgrid:// (no host; an EU subuser's "
                f"outbound.api_url is https://api.eu.sendgrid.com), got '{url}'"
            )
        return SendgridTransport(api)
    if parts.scheme == "ses":
        _query(url, set())
        region = parts.hostname or ""
        if (
            not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region)
            or parts.port
            or parts.path.strip("/")
        ):
            raise ConfigError(
                f"outbound.transport: expected ses://REGION (ses://eu-west-1), got '{url}'"
            )
        from mailbridge.outbound.api.ses import SesTransport

        return SesTransport(region, api)
    raise ConfigError(f"outbound.transport: unsupported transport '{url}'")
