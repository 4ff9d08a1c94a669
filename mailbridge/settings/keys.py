"""How a setting is declared: its default and its help, which docs/configuration.md and
`mailbridge check-config` print."""

from __future__ import annotations

from dataclasses import field
from typing import Any

__all__ = ["key"]


def key(default: Any, help: str, *, name: str | None = None) -> Any:
    """A dataclass field with its default and help (``name``: its name in TOML, when
    it differs from the attribute's)."""
    return field(default=default, metadata={"help": help, "name": name})
