"""The reply extractor as the daemon calls it: in a worker process when it can be."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from mailbridge.extract import Extraction, Extractor, extract
from mailbridge.moderate.analysis import TextAnalysis
from mailbridge.outbound.dkim import DkimSigner
from mailbridge.outbound.worker import Signer
from mailbridge.workers import tasks
from mailbridge.workers.pool import CpuPool, WorkerLost

__all__ = ["AsyncExtractor", "Reading", "offloaded", "signing"]

# A reply's extraction, and what moderation reads from its words when the worker
# worked that out too (mailbridge.moderate.analysis).
Reading = tuple[Extraction, TextAnalysis | None]
AsyncExtractor = Callable[[bytes, Sequence[str]], Awaitable[Reading]]


def offloaded(
    extractor: Extractor,
    pool: CpuPool | None,
    observe: Callable[[float], object] = lambda seconds: None,
) -> AsyncExtractor:
    """``extractor`` off the event loop: the workers run mailbridge's own extractor (a
    module function, so it crosses to them by name), and the reply's analysis for
    moderation with it (:func:`tasks.read_reply`); any other extractor runs in a
    thread, and the analysis is left to the comment service. ``observe`` gets each
    call's seconds (the /metrics histogram)."""

    async def run(raw: bytes, sent: Sequence[str]) -> Reading:
        started = time.perf_counter()
        try:
            if pool is not None and pool.processes and extractor is extract:
                return await pool.run(tasks.read_reply, raw, tuple(sent))
            return await asyncio.to_thread(extractor, raw, sent), None
        except WorkerLost as exc:
            # Answered like any failure of ours: 451, the raw message kept, retried.
            return Extraction(text="", part="", defects=(f"extraction failed: {exc}",)), None
        finally:
            observe(time.perf_counter() - started)

    return run


def signing(signer: DkimSigner | None, pool: CpuPool | None) -> Signer | None:
    """``signer`` off the event loop: in the worker processes when there are some (they
    were started with the same keys: ``CpuPool(initargs=(..., signer))``), where the
    parsing and canonicalization do not hold this process's GIL; else in a thread.
    A worker that dies takes the message with it: the send is retried like any
    temporary failure (DeliveryWorker)."""
    if signer is None:
        return None
    sign = signer.sign

    async def run(message: bytes) -> bytes:
        if pool is not None and pool.processes:
            return await pool.run(tasks.dkim_signatures, message) + message
        return await asyncio.to_thread(sign, message)

    return run
