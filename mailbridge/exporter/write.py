"""``mailbridge export``: one thread or all of them, in the format asked for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TextIO

from mailbridge.exporter.disqus import write_disqus
from mailbridge.exporter.json_format import write_json
from mailbridge.exporter.source import ExportThread, threads_to_export
from mailbridge.exporter.wxr import write_wxr
from mailbridge.store import Store

__all__ = ["FORMATS", "ExportSummary", "export"]

FORMATS = ("wxr", "json", "disqus")
Writer = Callable[[TextIO, Store, list[ExportThread], str, Callable[[int], None]], Awaitable[None]]


@dataclass(frozen=True)
class ExportSummary:
    threads: int
    comments: int
    keys: tuple[str, ...] = ()  # the threads' keys, as exported (a renamed one's now)


async def export(
    store: Store,
    fmt: str,
    key: str | None,
    out: TextIO,
    site_url: str,
    progress: Callable[[int], None] = lambda n: None,
) -> ExportSummary:
    """Write the thread ``key`` (or every thread, with None) to ``out``."""
    threads = await threads_to_export(store, key)
    total = 0

    def counted(n: int) -> None:
        nonlocal total
        total += n
        progress(n)

    writers: dict[str, Writer] = {
        "wxr": write_wxr,
        "disqus": write_disqus,
        "json": partial(write_json, several=key is None),
    }
    writer = writers[fmt]
    await writer(out, store, threads, site_url, counted)
    return ExportSummary(len(threads), total, tuple(t.key for t in threads))
