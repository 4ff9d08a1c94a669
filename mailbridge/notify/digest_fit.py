"""How many comments one moderation digest lists: as many as fit under Gmail's clip.

Gmail shows the first 102 KB of an email's HTML and hides the rest behind "[Message
clipped]"; Outlook and phone clients slow down long before. A flood digest listed 200
whole comments (several hundred KB), so the count of what else waits and the queue
link, at its end, went unseen. The digest lists the oldest comments that fit, says how
many more wait, and leaves those for the next digest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mailbridge.models import Comment
from mailbridge.outbound.compose import encoded_body
from mailbridge.templating import RenderedEmail

__all__ = ["HTML_BUDGET", "fit_digest", "wire_size"]

# The HTML part as sent, below Gmail's 102 KB with room to spare.
HTML_BUDGET = 100_000


def wire_size(html: str) -> int:
    """Bytes of ``html`` as its part's body is sent (quoted-printable or base64)."""
    return len(encoded_body(html)[1])


def _candidates(comments: Sequence[Comment], budget: int) -> int:
    """How many comments could fit at best: their bodies alone, before any markup."""
    used = 0
    for count, comment in enumerate(comments):
        used += len(comment.body.encode("utf-8"))
        if used > budget:
            return max(1, count)
    return len(comments)


def fit_digest(
    render: Callable[[int], RenderedEmail],
    comments: Sequence[Comment],
    budget: int = HTML_BUDGET,
) -> tuple[int, RenderedEmail]:
    """The most leading ``comments`` (at least one) whose digest ``render(count)`` keeps
    its HTML within ``budget``, and that rendering."""
    low, high = 1, _candidates(comments, budget)
    best = render(high)
    if high == 1 or wire_size(best.html) <= budget:
        return high, best
    best = render(1)  # one comment is listed whatever its size: it is the oldest
    while low < high - 1:  # invariant: low fits, high does not
        middle = (low + high) // 2
        rendered = render(middle)
        if wire_size(rendered.html) <= budget:
            low, best = middle, rendered
        else:
            high = middle
    return low, best
