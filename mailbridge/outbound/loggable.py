"""What the delivery worker's log lines may show of an email's addresses and of an
endpoint: the log goes where the operator's go (journald, a collector, a pasted
excerpt), kept where no erasure reaches; the outbox row keeps everything whole
(`mailbridge outbox ID`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from mailbridge.inbound.recipients import masked

__all__ = ["masked", "site_of"]


def site_of(url: str) -> str:
    """An endpoint's scheme and host: its path or query may be its key (a capability
    URL, ``?token=``), and every event sent is logged."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"
