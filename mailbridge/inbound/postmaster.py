"""Mail for postmaster@ the reply domain: accepted, kept, and pointed out to the operator.

RFC 5321 (4.5.1) requires every mail domain to accept "postmaster"; people write
there when something about our mail bothers them (a provider's abuse desk, a
misdirected bounce). It is not a comment and is never answered (no backscatter,
no loops). It stays in the inbound log with the disposition ``postmaster`` (``mailbridge
inbound --status postmaster`` lists it; ``mailbridge inbound ID`` shows it) and
the daemon logs a WARNING line, so it reaches whoever reads the logs.
"""

from __future__ import annotations

import logging

from mailbridge.store import Store, inbound
from mailbridge.store.inbound import Disposition

__all__ = ["KEPT", "keep_for_postmaster"]

log = logging.getLogger(__name__)

KEPT = "250 2.0.0 Received for the postmaster"


async def keep_for_postmaster(
    store: Store, inbound_id: int, mail_from: str, subject: str, where: str
) -> str:
    await store.write(
        lambda c: inbound.set_outcome(
            c, inbound_id, Disposition.POSTMASTER, reason="postmaster", detail=KEPT
        )
    )
    # The subject and sender are the sender's words: repr() keeps the log line one line.
    log.warning(
        "%s: mail for the postmaster from <%s>, subject %r: read it with `mailbridge inbound %d`",
        where,
        mail_from,
        subject[:200],
        inbound_id,
    )
    return KEPT
