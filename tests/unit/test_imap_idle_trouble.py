"""What ends an IMAP session while idling (mailbridge/imap/inbox.py: _idle_trouble):
aioimaplib hands over each wait's untagged lines without their "* "."""

from __future__ import annotations

from mailbridge.imap.inbox import _idle_trouble


def test_news_of_mail_a_keepalive_or_nothing_is_no_trouble() -> None:
    assert _idle_trouble([b"1 EXISTS", b"1 RECENT"], ("NO", "BAD")) == ""
    assert _idle_trouble([b"OK Still here"], ("NO", "BAD", "BYE")) == ""
    assert _idle_trouble(None, ("NO",)) == ""  # the wait timed out
    assert _idle_trouble("stop_wait_server_push", ("NO",)) == ""  # aioimaplib's own stop


def test_a_no_bad_or_bye_is_said_with_its_words() -> None:
    said = [b"1 EXISTS", b"NO Internal error occurred. Refer to server log for more information."]
    assert _idle_trouble(said, ("NO", "BAD")) == (
        "NO Internal error occurred. Refer to server log for more information."
    )
    assert _idle_trouble(said, ("BYE",)) == ""
    bye = [bytearray(b"BYE IMAP session state is inconsistent, please relogin.")]
    assert _idle_trouble(bye, ("BYE",)) == "BYE IMAP session state is inconsistent, please relogin."
    assert _idle_trouble([b"bad " + b"x" * 400], ("BAD",)) == "bad " + "x" * 296  # bounded
