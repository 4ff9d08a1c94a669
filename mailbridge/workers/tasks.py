"""What the worker processes run. Each worker builds its template renderer once, at
start (:func:`start`); the functions take and return plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailbridge.notify.drafts import Draft, build
from mailbridge.templating import Renderer

__all__ = ["build_email", "start"]

_renderer: Renderer | None = None  # this worker's, set by start()


def start(override_dir: str | None, site: dict[str, Any]) -> None:
    """The pool's initializer: the same templates as the daemon's own renderer."""
    global _renderer  # one renderer per worker process, built once
    _renderer = Renderer(Path(override_dir) if override_dir else None, site)


def build_email(draft: Draft) -> bytes:
    if _renderer is None:
        raise RuntimeError("worker not started: CpuPool(initializer=start) builds the renderer")
    return build(_renderer, draft)
