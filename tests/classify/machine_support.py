"""Helpers shared by the classify tests (importable as ``classify.machine_support``)."""

from __future__ import annotations

from pathlib import Path

from mailbridge.classify.headers import HeaderView, parse_head

MACHINE = Path(__file__).resolve().parents[1] / "fixtures" / "machine"


def fixture(name: str) -> bytes:
    """The raw bytes of ``tests/fixtures/machine/<name>.eml``."""
    return (MACHINE / f"{name}.eml").read_bytes()


def names(prefix: str) -> list[str]:
    """The fixture names starting with ``prefix`` ("auto_", "person_", "bounce_"...)."""
    return sorted(p.stem for p in MACHINE.glob(f"{prefix}*.eml"))


def from_address(raw: bytes) -> str:
    """The message's From address: what a person's envelope sender would be."""
    return HeaderView.of(parse_head(raw)).addresses("from")[0]


def message(headers: dict[str, str], body: str = "Hello.\n") -> bytes:
    """A minimal raw message with ``headers`` (values written as given)."""
    lines = [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")
