"""What moderation reads from a new comment's words alone, worked out in one place.

The spam rules' features, the trained filter's words and the personal-details check
are pure functions of the text and most of the CPU that filing a reply costs on the
event loop (issue 14; docs/performance.md). An emailed reply's text is first known in
a worker process (extraction runs there), so that process works these out too and
sends them back with it; :meth:`CommentService.submit` uses them only for the very
text it stores (``body`` equal), and works them out itself otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailbridge.moderate.private import private_findings
from mailbridge.spam.bayes import tokens
from mailbridge.spam.rules import TextFeatures, text_features
from mailbridge.text_rules import strip_blank_edges, strip_spoofing

__all__ = ["TextAnalysis", "analyse", "comment_body"]


@dataclass(frozen=True)
class TextAnalysis:
    body: str  # the text these were worked out for
    features: TextFeatures  # mailbridge.spam.rules
    words: frozenset[str]  # the trained filter's (mailbridge.spam.bayes.tokens)
    private: tuple[str, ...]  # what looks like personal details (mailbridge.moderate.private)


def analyse(body: str) -> TextAnalysis:
    return TextAnalysis(body, text_features(body), tokens(body), tuple(private_findings(body)))


def comment_body(extracted: str) -> str:
    """The comment an emailed reply's extracted text becomes: bidi overrides and mark
    stacks dropped (it cannot be sent back as a question, as the web form does), every
    word kept (mailbridge.text_rules), no blank lines around it."""
    return strip_blank_edges(strip_spoofing(extracted))
