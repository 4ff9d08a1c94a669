"""explain.placed_by: the decision that put a comment where it is, for the spam
folder's "why". An Undo and the decision it took back cancel out; a person's own
decision (one that taught the filter) stands, even where it reverses the one before."""

from __future__ import annotations

from mailbridge.models import Channel, CommentStatus, Decision
from mailbridge.moderate.explain import placed_by

P, A, S = CommentStatus.PENDING, CommentStatus.APPROVED, CommentStatus.SPAM


def d(n: int, previous: CommentStatus, status: CommentStatus, channel: Channel) -> Decision:
    return Decision(n, f"2026-12-0{n}T10:00:00+00:00", previous, status, channel, None, None, n)


CAUGHT = d(1, P, S, Channel.AUTO)


def test_a_publish_and_its_undo_leave_the_filters_catch() -> None:
    history = (CAUGHT, d(2, S, A, Channel.QUEUE), d(3, A, S, Channel.QUEUE))
    assert placed_by(history, learnt=False) == CAUGHT


def test_a_persons_own_spam_after_a_rescue_stands() -> None:
    # Rescued to the queue, then marked Spam there: it taught the filter (learnt).
    history = (CAUGHT, d(2, S, P, Channel.QUEUE), d(3, P, S, Channel.QUEUE))
    assert placed_by(history, learnt=True) == history[-1]


def test_a_rescue_alone_and_an_empty_history() -> None:
    rescued = (CAUGHT, d(2, S, P, Channel.QUEUE))
    assert placed_by(rescued, learnt=False) == rescued[-1]
    assert placed_by((), learnt=False) is None
    assert placed_by((CAUGHT,), learnt=False) == CAUGHT
