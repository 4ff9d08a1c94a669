"""A Bayesian spam filter trained by the author's own decisions. Pure functions.

Robinson's method as SpamBayes uses it: each word's spam probability, pulled towards
0.5 when the word is rare, and the strongest clues combined with Fisher's chi-square
test into one number, 0 (ham) to 1 (spam). It is one more signal for the rules, never
a verdict on its own: trained on a few hundred comments it knows the words of those
comments, not the language, so its weight in the sum is capped (:func:`weight`).

Why not a library: scikit-learn's naive Bayes would bring numpy and scipy (a hundred
megabytes) for what is counting words, and it keeps its state in pickles; here the
counts live in SQLite tables that each decision updates in its own transaction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mailbridge.spam.rules import RuleScore, normalise

__all__ = ["MIN_DOCS", "Counts", "Judgement", "spam_probability", "tokens", "weight", "with_filter"]

# Below this many decisions of each kind the filter says nothing.
MIN_DOCS = 10
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_HOST = re.compile(r"(?i)(?:https?://|www\.)([^/\s?#]+)")
_STRENGTH = 0.45  # Robinson's s: how much a word needs to be seen to count
_MIN_SEEN = 2  # a word seen once in training says nothing
_CLUES = 30
_MIN_CLUES = 3
_GAIN = 0.5  # how much of the filter's log-odds enters the sum
_CAP = 1.5  # and at most this much, either way, for a comment of words it half knows,
_CAP_KNOWN = 4.0  # up to this much for one whose words it has all seen before
_KNOWN_FROM = 0.8  # (the share of known words where the cap starts to rise)
_KNOWN_WORDS = 8  # a share of fewer words says little: "love this video" is known anywhere
# How far it may lower a comment the rules flagged for words it has not seen approved.
_UNPROVEN = 0.15


@dataclass(frozen=True)
class Counts:
    """What training saw: documents of each kind, and per word (spam, ham) documents."""

    spam_docs: int
    ham_docs: int
    words: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.spam_docs >= MIN_DOCS and self.ham_docs >= MIN_DOCS


def tokens(text: str) -> frozenset[str]:
    """The words of a comment (lower case, each once) and the hosts it links to."""
    body = normalise(text)
    if body.isascii():
        # Lowered once, not word by word; and no host without a scheme or "www.".
        # (In ASCII text lower case changes no word's bounds.)
        low = body.lower()
        found = {w for w in set(_WORD.findall(low)) if len(w) > 1 or w.isdigit()}
        linked = "http" in low or "www." in low
    else:
        found = {w.lower() for w in set(_WORD.findall(body)) if len(w) > 1 or w.isdigit()}
        linked = True
    hosts = (
        {"host:" + m.group(1).lower().removeprefix("www.") for m in _HOST.finditer(body)}
        if linked
        else set()
    )
    if hosts:
        found.add("host:*")
    return frozenset(found | hosts)


def _chi2q(x2: float, dof: int) -> float:
    """P(chi-square with ``dof`` (even) degrees of freedom >= x2)."""
    m = x2 / 2.0
    term = total = math.exp(-m)
    for i in range(1, dof // 2):
        term *= m / i
        total += term
    return min(total, 1.0)


@dataclass(frozen=True)
class Judgement:
    probability: float  # 0 ham .. 1 spam
    known: float  # the share of the comment's words the filter has seen before (0 when
    # the comment has too few words for a share to mean anything)
    # each word it has seen: how much it leans to spam (0..1, 0.5 neutral)
    leanings: Mapping[str, float] = field(default_factory=dict)


def spam_probability(counts: Counts, words: Iterable[str]) -> Judgement | None:
    """The filter's view, or None when it is not trained enough or knows too few words."""
    if not counts.ready:
        return None
    clues: list[float] = []
    leanings: dict[str, float] = {}
    plain = known = 0
    for word in words:
        spam, ham = counts.words.get(word, (0, 0))
        seen = spam + ham
        if not word.startswith("host:"):
            plain += 1
            known += seen >= _MIN_SEEN
        if seen < _MIN_SEEN:
            continue
        in_spam = spam / counts.spam_docs
        in_ham = ham / counts.ham_docs
        p = in_spam / (in_spam + in_ham)
        f = (_STRENGTH * 0.5 + seen * p) / (_STRENGTH + seen)
        leanings[word] = f
        if abs(f - 0.5) > 0.1:
            clues.append(min(max(f, 0.01), 0.99))
    # The strongest clues, in an order of their own values: the words come from a set,
    # whose order Python's string hashing changes with each process. Clues as strong
    # as the last one kept are all kept (a word seen twice in spam only is exactly as
    # strong as one seen twice in ham only, when as many of each were learnt), so no
    # order picks among them and the same comment scores the same after a restart.
    clues.sort(key=lambda f: (-abs(f - 0.5), f))
    if len(clues) > _CLUES:
        weakest = abs(clues[_CLUES - 1] - 0.5)
        clues = [f for f in clues if abs(f - 0.5) >= weakest]
    if len(clues) < _MIN_CLUES:
        return None
    n = len(clues)
    spamminess = 1.0 - _chi2q(-2.0 * sum(math.log(1.0 - f) for f in clues), 2 * n)
    hamminess = 1.0 - _chi2q(-2.0 * sum(math.log(f) for f in clues), 2 * n)
    share = known / plain if plain >= _KNOWN_WORDS else 0.0
    return Judgement((spamminess - hamminess + 1.0) / 2.0, share, leanings)


def weight(judgement: Judgement) -> float:
    """The filter's say in the rules' sum: a capped share of its log-odds.

    The cap rises with how much of the comment the filter knows: trained on the
    author's decisions, it has seen comments like this one and may overrule the rules;
    trained on other people's comments (a video's, another blog's), most words of a
    new comment are strangers to it, and it only nudges. Without this, a filter
    trained on YouTube comments called long blog comments spam (bench/spam_bench.py).
    """
    p = min(max(judgement.probability, 1e-3), 1.0 - 1e-3)
    rise = max(0.0, judgement.known - _KNOWN_FROM) / (1.0 - _KNOWN_FROM)
    cap = _CAP + (_CAP_KNOWN - _CAP) * rise
    return max(-cap, min(cap, _GAIN * math.log(p / (1.0 - p))))


def approved_evidence(scored: RuleScore, judgement: Judgement) -> bool:
    """Whether the words the rules object to lean to ham in training: the author has
    approved comments saying them ("subscribe" on a blog about newsletters)."""
    seen = [
        judgement.leanings[w] for w in tokens(" ".join(scored.evidence)) if w in judgement.leanings
    ]
    return bool(seen) and max(seen) < 0.5


def with_filter(scored: RuleScore, judgement: Judgement | None) -> RuleScore:
    """The rules' score with the trained filter's say added (unchanged without one).

    The filter may raise any comment, but lower one the rules found a link, promotion or
    a phone number in only as far as ``_UNPROVEN``, unless it saw those very words
    approved: trained on other people's comments, it knows that "this comment" and
    "subscribing" came in conversation there, which is no reason to publish them here.
    """
    if judgement is None:
        return scored
    say = weight(judgement)
    if say < 0 and scored.evidence and not approved_evidence(scored, judgement):
        say = max(say, -_UNPROVEN)
    s = min(max(scored.score, 1e-9), 1.0 - 1e-9)
    logit = math.log(s / (1.0 - s)) + say
    signal = f"trained filter {judgement.probability:.2f}"
    return RuleScore(1.0 / (1.0 + math.exp(-logit)), (*scored.signals, signal), scored.evidence)
