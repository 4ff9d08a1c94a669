"""``python -m mailbridge.extract``: one case on standard input, the reply on standard output.

The subprocess mode of ``shared/tools/score_replies.py``: ``CASE_KIND`` is
``message`` (raw bytes), ``body`` or ``html`` (UTF-8 text); ``CASE_SENDER`` is
the From address when the case has one.
"""

from __future__ import annotations

import os
import sys

from mailbridge.extract import extract_reply


def main() -> None:
    kind = os.environ.get("CASE_KIND", "message")
    raw = sys.stdin.buffer.read()
    data: str | bytes = raw if kind == "message" else raw.decode("utf-8", "replace")
    out = extract_reply(data, kind, os.environ.get("CASE_SENDER") or None)
    sys.stdout.buffer.write(out.encode("utf-8"))


if __name__ == "__main__":
    main()
