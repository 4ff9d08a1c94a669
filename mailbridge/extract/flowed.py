"""RFC 3676 format=flowed: join soft-wrapped lines back into paragraphs.

A line ending in a space is "flowed": it continues on the next line of the same
quote depth.  With ``delsp=yes`` that trailing space was added by the wrapper and
is removed when joining.  Leading ">" characters give the quote depth; one
space after them (or at the start of an unquoted line) is space-stuffing and is
removed.  The signature separator "-- " is never flowed.
"""

from __future__ import annotations

__all__ = ["decode_flowed"]


def _render(depth: int, content: str) -> str:
    return (">" * depth + " " + content) if depth else content


def decode_flowed(text: str, delsp: bool = False) -> str:
    out: list[str] = []
    para: list[str] = []
    para_depth = 0
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        flowed = content.endswith(" ") and content != "-- "
        if para and depth != para_depth:
            out.append(_render(para_depth, "".join(para)))
            para = []
        if flowed and delsp:
            content = content[:-1]
        para.append(content)
        para_depth = depth
        if not flowed:
            out.append(_render(depth, "".join(para)))
            para = []
    if para:
        out.append(_render(para_depth, "".join(para)))
    return "\n".join(out)
