"""The trained filter (issue 10): Robinson's chi-square combination over counted words."""

from __future__ import annotations

from collections import Counter

from mailbridge.spam.bayes import (
    MIN_DOCS,
    Counts,
    Judgement,
    spam_probability,
    tokens,
    weight,
    with_filter,
)
from mailbridge.spam.rules import RuleScore, rule_score

SPAM = [f"win cash prizes now at casino {n} http://prize.example/{n}" for n in range(12)]
HAM = [f"my therapist and I talked about attachment in session {n}" for n in range(12)]


def trained(spam: list[str], ham: list[str]) -> Counts:
    counted: dict[str, list[int]] = {}
    for label, texts in ((0, spam), (1, ham)):
        for word, seen in Counter(w for t in texts for w in tokens(t)).items():
            counted.setdefault(word, [0, 0])[label] += seen
    return Counts(len(spam), len(ham), {w: (s, h) for w, (s, h) in counted.items()})


def test_tokens_are_words_once_and_linked_hosts() -> None:
    found = tokens("Win WIN win&#39;s at <b>http://www.Prize.example/x</b> a")
    assert {"win", "win's", "host:prize.example", "host:*"} <= found
    assert "a" not in found  # one letter says nothing


def test_it_learns_both_ways() -> None:
    counts = trained(SPAM, HAM)
    spammy = spam_probability(counts, tokens("cash prizes at the casino http://prize.example"))
    hammy = spam_probability(counts, tokens("my therapist talked about attachment"))
    assert spammy is not None and spammy.probability > 0.9
    assert hammy is not None and hammy.probability < 0.1
    assert (
        spammy.known == 7 / 8
    )  # of cash, prizes, at, the, casino, http, prize, example: "the" is new


def test_it_says_nothing_untrained_or_about_unknown_words() -> None:
    assert spam_probability(trained(SPAM[: MIN_DOCS - 1], HAM), tokens(SPAM[0])) is None
    assert spam_probability(trained(SPAM, HAM), tokens("entirely different vocabulary")) is None


def test_its_say_is_capped_and_grows_with_what_it_knows() -> None:
    half_known, all_known = Judgement(1.0, 0.5), Judgement(1.0, 1.0)
    assert weight(half_known) == -weight(Judgement(0.0, 0.5)) == 1.5
    assert 3.4 < weight(all_known) <= 4.0
    rules = RuleScore(0.5, ("links:1",))
    assert with_filter(rules, None) is rules
    nudged = with_filter(rules, Judgement(0.99, 0.5))
    assert 0.5 < nudged.score < 0.85 and nudged.signals[-1] == "trained filter 0.99"
    assert with_filter(RuleScore(0.12, ()), Judgement(0.99, 1.0)).score > 0.5


def test_it_clears_what_the_rules_flag_only_if_it_saw_those_words_approved() -> None:
    flagged = RuleScore(0.55, ("promotion:1",), ("subscribing",))
    hammy = Judgement(0.05, 0.9, {"subscribing": 0.8, "great": 0.1})
    # trained elsewhere, where "subscribing" was spam: a nudge, never below the threshold
    assert 0.5 < with_filter(flagged, hammy).score < 0.55
    # unseen words are not approved either
    unseen = Judgement(0.05, 0.9, {"great": 0.1})
    assert with_filter(flagged, unseen).score > 0.5
    # the author approved comments saying it (a blog about newsletters): cleared
    approved = Judgement(0.05, 0.9, {"subscribing": 0.2, "great": 0.1})
    assert with_filter(flagged, approved).score < 0.3
    # and nothing changes for raising a comment, or for one the rules found nothing in
    assert with_filter(flagged, Judgement(0.95, 0.9, {"subscribing": 0.8})).score > 0.55
    assert with_filter(RuleScore(0.3, ()), hammy).score < 0.2


def test_a_blogs_own_approvals_teach_it_that_a_flagged_word_is_conversation() -> None:
    newsletters = [f"I subscribe to your newsletter {n} and read every issue" for n in range(12)]
    counts = trained(SPAM, newsletters)
    text = "I subscribe to the newsletter, and this issue was the best"
    scored = rule_score(text)
    assert scored.score >= 0.5 and "subscribe" in " ".join(scored.evidence)
    assert with_filter(scored, spam_probability(counts, tokens(text))).score < 0.5


def test_equally_strong_clues_at_the_cut_do_not_depend_on_the_words_order() -> None:
    # Forty words as strong as each other (each seen in two documents of one kind, as
    # many of each kind learnt), twenty for spam and twenty for ham: only thirty are
    # kept, and which ones must not follow the order they come in (a frozenset's order
    # changes with each process's string hashing).
    spammy = {f"s{i:02d}": (2, 0) for i in range(20)}
    hammy = {f"h{i:02d}": (0, 2) for i in range(20)}
    counts = Counts(spam_docs=20, ham_docs=20, words={**spammy, **hammy})
    words = [*spammy, *hammy]
    forward = spam_probability(counts, words)
    backward = spam_probability(counts, list(reversed(words)))
    assert forward is not None and backward is not None
    assert forward.probability == backward.probability
