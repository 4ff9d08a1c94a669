"""/metrics read as Prometheus reads it: through prometheus-client's own parser."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


async def scrape(daemon: Any) -> tuple[int, str, str]:
    host, port = daemon.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{host}:{port}/metrics") as resp,
    ):
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def samples(text: str) -> Samples:
    """Every sample by name, then by its labels (sorted pairs)."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[key] = sample.value
    return found
