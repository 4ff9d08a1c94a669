"""A received message's header section, parsed: what the pipeline reads before the
extractor (which parses the whole message) and what sender authentication reads."""

from __future__ import annotations

import re
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

__all__ = ["header_section", "parse_header_section"]

# A line end followed by another is an empty line, whichever of CRLF, LF or CR the
# message uses: the header section ends there at the latest.
_EMPTY_LINE = re.compile(rb"\n\n|\r\r|\n\r")


def header_section(raw: bytes) -> bytes:
    """``raw`` up to its first empty line (the whole message when it has none).

    The header parser stops at the first line that is not a header, so it reads the
    same headers from this as from the whole message; given the whole message it
    would also split every line of the body before throwing them away."""
    empty = _EMPTY_LINE.search(raw)
    if empty is None:
        return raw
    end = empty.end()
    if raw[end - 1 : end + 1] == b"\r\n":  # the empty line ends in CRLF
        end += 1
    return raw[:end]


def parse_header_section(raw: bytes) -> Message:
    # The fast compat32 policy: the headers are read raw, decoded only where needed.
    return BytesHeaderParser(policy=compat32).parsebytes(header_section(raw))
