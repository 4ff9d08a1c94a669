"""When WordPress's count of approved comments says a decision was taken there unseen
(mailbridge/bridges/wordpress/tally.py)."""

from mailbridge.bridges.wordpress.tally import moved


def test_a_gap_moved_for_two_polls_is_a_decision_unseen() -> None:
    assert moved("3", "2", 2)  # trashed in wp-admin: one fewer approved there, twice


def test_a_gap_moved_for_one_poll_is_a_comment_read_meanwhile() -> None:
    assert not moved("3", "3", 4)  # approved there as the poll read: mirrored next poll
    assert not moved("3", "4", 3)  # and so it was


def test_the_gap_the_full_sync_left_is_no_news() -> None:
    assert not moved("3", "3", 3)
    assert not moved(None, None, 5)  # the first count: nothing to compare with
