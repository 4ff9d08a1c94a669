"""What the worker processes run. Each worker builds its template renderer once, at
start (:func:`start`); the functions take and return plain data."""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path
from typing import Any

from mailbridge.extract import Extraction, extract
from mailbridge.moderate.analysis import TextAnalysis, analyse, comment_body
from mailbridge.notify.drafts import Draft, build
from mailbridge.outbound.dkim import DkimSigner
from mailbridge.templating import Renderer

__all__ = ["build_email", "dkim_signatures", "read_reply", "ready", "start"]

_renderer: Renderer | None = None  # this worker's, set by start()
_signer: DkimSigner | None = None  # this worker's DKIM keys, set by start()


def start(
    override_dir: str | None,
    site: dict[str, Any],
    daemon_pid: int = 0,
    signer: DkimSigner | None = None,
) -> None:
    """The pool's initializer: the same templates as the daemon's own renderer and
    the same DKIM keys as its signer; and, in a worker process, an end of its own
    when the daemon ends."""
    global _renderer, _signer  # built once per worker process
    _renderer = Renderer(Path(override_dir) if override_dir else None, site)
    _signer = signer
    if daemon_pid and daemon_pid != os.getpid():
        threading.Thread(target=_exit_with, args=(daemon_pid,), daemon=True).start()


def _exit_with(daemon_pid: int) -> None:
    # A daemon that is SIGKILLed (or dies of OOM) never shuts its pool down, and a
    # worker of a fork server is not its child: without this it would live on, idle.
    try:
        handle = os.pidfd_open(daemon_pid)
    except (OSError, AttributeError):  # no pidfd (old kernel): look every few seconds
        while _alive(daemon_pid):
            time.sleep(2.0)
    else:
        select.select([handle], [], [])  # readable once the daemon has ended
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ready() -> tuple[int, bool]:
    """This worker's process id, and whether :func:`start` has run in it."""
    return os.getpid(), _renderer is not None


def build_email(draft: Draft) -> bytes:
    if _renderer is None:
        raise RuntimeError("worker not started: CpuPool(initializer=start) builds the renderer")
    return build(_renderer, draft)


def dkim_signatures(message: bytes) -> bytes:
    """``message``'s DKIM-Signature headers (:meth:`DkimSigner.signatures`): only they
    cross back, the caller puts them on top of the message it has."""
    if _signer is None:
        raise RuntimeError("worker started without DKIM keys: CpuPool(initargs=(..., signer))")
    return _signer.signatures(message)


def read_reply(raw: bytes, sent: tuple[str, ...]) -> tuple[Extraction, TextAnalysis]:
    """An emailed reply's words (:func:`mailbridge.extract.extract`) and what moderation
    reads from them (:mod:`mailbridge.moderate.analysis`), both worked out here, on
    the worker's core: the spam rules and the personal-details check were a quarter of
    the event loop's work per reply."""
    extraction = extract(raw, sent)
    return extraction, analyse(comment_body(extraction.text))
