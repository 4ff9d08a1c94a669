"""The sentences of the moderation pages, and how a long cut is shortened for the email."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mailbridge.models import Channel, Comment, CommentStatus, Decision, Source
from mailbridge.moderate.explain import effect, outcome, state, undone_already
from mailbridge.notify.mail import cut_short
from mailbridge.tokens import Action

PENDING = Comment(1, 1, None, None, "Ann", "Hi", CommentStatus.PENDING, Source.WEB, False, "")
PUBLISHED = replace(
    PENDING, status=CommentStatus.APPROVED, published_at="2026-11-25T10:00:00+00:00"
)


@pytest.mark.parametrize(
    ("comment", "action", "expected"),
    [
        (PENDING, Action.APPROVE, "Approving it will publish it on the page and email"),
        (PENDING, Action.REJECT, "Rejecting it keeps it off the page; nobody is told."),
        (PUBLISHED, Action.REJECT, "Rejecting it will remove it from the page."),
        (PUBLISHED, Action.SPAM, "Marking it as spam will remove it from the page."),
        (
            replace(PUBLISHED, status=CommentStatus.REJECTED),
            Action.APPROVE,
            "Approving it will put it back on the page. Nobody is emailed about it a second",
        ),
        (
            replace(PENDING, status=CommentStatus.SPAM),
            Action.APPROVE,
            "Approving it will publish it on the page and email",
        ),
    ],
)
def test_each_button_says_what_it_changes(comment: Comment, action: Action, expected: str) -> None:
    said = effect(comment, action)
    assert said is not None and said.startswith(expected)


def test_a_button_that_changes_nothing_says_nothing() -> None:
    assert effect(PUBLISHED, Action.APPROVE) is None
    assert state(PUBLISHED) == "This comment is published."


def test_outcomes() -> None:
    approved, rejected = CommentStatus.APPROVED, CommentStatus.REJECTED
    assert "are told" in outcome(CommentStatus.PENDING, approved, True)
    assert "second time" in outcome(rejected, approved, False)
    assert outcome(approved, rejected, False) == "It is no longer on the page."
    assert outcome(CommentStatus.PENDING, rejected, False) == "It is not shown publicly."


def test_cut_short_keeps_short_text_and_cuts_long_text_at_a_line_end() -> None:
    assert cut_short("\n\nquoted\n\n", 100) == ("quoted", 0)
    text = "\n".join(f"line {n:03d}" for n in range(100))  # 100 lines of 8 + newline
    shown, more = cut_short(text, 50)
    assert shown == "\n".join(f"line {n:03d}" for n in range(5))
    assert len(shown) + more == len(text)
    one_line = "x" * 120
    assert cut_short(one_line, 50) == ("x" * 50, 70)


def _decision(decision_id: int, previous: CommentStatus, status: CommentStatus) -> Decision:
    return Decision(7, "2026-12-01T10:00:00+00:00", previous, status, Channel.LINK, 1, None,
                    decision_id)  # fmt: skip


def test_an_undo_pressed_again_is_told_it_worked_not_that_someone_decided() -> None:
    P, A, R = CommentStatus.PENDING, CommentStatus.APPROVED, CommentStatus.REJECTED
    approved, undone = _decision(1, P, A), _decision(2, A, P)
    assert undone_already((approved, undone), 1)
    assert not undone_already((approved,), 1)  # nothing undone yet
    assert not undone_already((approved, _decision(2, A, R)), 1)  # decided since
    assert not undone_already((approved, undone, _decision(3, P, A)), 1)  # and again
    assert not undone_already((approved, undone), None)  # an old link names none
