"""Machine mail and delivery reports: pure functions on headers and raw bytes.

* :func:`classify_automated` -- headers + envelope sender -> :class:`MachineVerdict`
  (an auto-reply, bounce, bulk or list mail, with the evidence) or ``None`` (a person);
* :func:`classify_raw` -- the same on raw bytes (only the header section is parsed);
* :func:`may_auto_reply` -- whether an automatic answer may go to the sender;
* :func:`parse_bounce` -- raw bytes -> :class:`Bounce` (per-recipient hard/soft
  failures, the returned Message-ID) or ``None`` when it is not a delivery report.

No I/O, no state, nothing raises on malformed input.  What each reason code and
bounce kind means, and why, is in ``docs/machine-mail.md``.
"""

from __future__ import annotations

from mailbridge.classify.automated import (
    MachineReason,
    MachineVerdict,
    Signal,
    classify_automated,
    classify_raw,
    is_machine_address,
    may_auto_reply,
)
from mailbridge.classify.bounces import Bounce, BounceRecipient, parse_bounce
from mailbridge.classify.status import Kind, failure_kind

__all__ = [
    "Bounce",
    "BounceRecipient",
    "Kind",
    "MachineReason",
    "MachineVerdict",
    "Signal",
    "classify_automated",
    "classify_raw",
    "failure_kind",
    "is_machine_address",
    "may_auto_reply",
    "parse_bounce",
]
