"""The shell commands of README.md, read mechanically so that README, tests and CI
cannot drift apart.

``python3 tests/readme.py "Try it" 1`` prints the first fenced ``sh`` block under the
heading ``## Try it`` (dedented: blocks may sit in a list item); .ci/run runs what it
prints. Standard library only: CI calls it before any virtualenv exists.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```sh\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S)


def section(heading: str, text: str | None = None) -> str:
    """The text under ``## heading``, up to the next ``## `` heading."""
    text = README.read_text(encoding="utf-8") if text is None else text
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if match is None:
        raise LookupError(f"README.md has no '## {heading}' section")
    return match.group(1)


def sh_blocks(heading: str, text: str | None = None) -> list[str]:
    """Each fenced sh block under ``## heading``, dedented, in order."""
    return [
        textwrap.dedent(m.group("body")).strip() for m in _FENCE.finditer(section(heading, text))
    ]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit('usage: readme.py "HEADING" N   (prints the Nth sh block under ## HEADING)')
    blocks = sh_blocks(sys.argv[1])
    number = int(sys.argv[2])
    if not 1 <= number <= len(blocks):
        sys.exit(f"README.md: '## {sys.argv[1]}' has {len(blocks)} sh block(s), not {number}")
    print(blocks[number - 1])
