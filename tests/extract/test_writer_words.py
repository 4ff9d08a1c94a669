"""Issue 13, from whole messages: what mailbridge sent is cut whatever its shape; the
writer's own quotes, pseudo-headers and sign-offs are kept; formatting survives as
Markdown; nothing is "empty" by accident. Several clients and languages."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest

from mailbridge.extract import extract

# What a notification said (the daemon passes the real one: mailbridge.inbound.sent).
NOTE = (
    "Ann replied to your comment on “Attachment and Therapy”:\n\n"
    "I think the dependency is part of the work, not a failure of it.\n\n"
    "----------------------------------------------------------------------\n"
    "You wrote:\n> My therapist says I rely on her too much, and I worry about it.\n\n"
    "See the conversation: https://blog.example.org/threads/attachment#comment-9\n\n"
    "Reply to this email to answer Ann: write above this\nmessage and send. Your reply "
    "is published after the author of the blog\napproves it.\n"
)
SENT = [NOTE]


def plain(body: str) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "Reader <reader@example.net>"
    message["To"] = "reply+t@blog.example.org"
    message["Subject"] = "Re: Ann replied to your comment"
    message.set_content(body)
    return message.as_bytes()


def html(body: str, text: str | None = None) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "Reader <reader@example.net>"
    message["To"] = "reply+t@blog.example.org"
    message["Subject"] = "Re: Ann replied to your comment"
    if text is not None:
        message.set_content(text)
        message.add_alternative(body, subtype="html")
    else:
        message.set_content(body, subtype="html")
    return message.as_bytes()


def quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


# -- What only mailbridge knows -------------------------------------------------------


def test_german_outlook_header_block_and_unquoted_notification_is_cut() -> None:
    body = (
        "Von: meiner Seite aus ist alles gesagt, aber danke.\n\nLiebe Grüße\nEva\n\n"
        "Von: Ann via Example Blog <reply+t@blog.example.org>\n"
        "Gesendet: Mittwoch, 25. November 2026 18:37\nAn: Eva <eva@example.de>\n"
        "Betreff: Ann replied to your comment\n\n" + NOTE
    )
    assert extract(plain(body), SENT).text == (
        "Von: meiner Seite aus ist alles gesagt, aber danke.\n\nLiebe Grüße\nEva"
    )


@pytest.mark.parametrize(
    "attribution",
    [
        "El mié, 25 nov 2026 a las 18:37, Ann via Example Blog (<reply+t@blog.example.org>) "
        "escribió:",
        "2026年11月25日(水) 18:37 Ann via Example Blog <reply+t@blog.example.org>:",
        "W dniu 25.11.2026 o 18:37 Ann via Example Blog pisze:",
        "Dne st 25. 11. 2026 v 18:37 odesílatel Ann via Example Blog napsal:",
    ],
)
def test_an_attribution_in_any_language_above_our_quote_is_cut(attribution: str) -> None:
    body = f"Gracias, lo pensaré.\n\n{attribution}\n{quoted(NOTE)}\n"
    assert extract(plain(body), SENT).text == "Gracias, lo pensaré."


def test_a_writers_own_quote_and_pseudo_header_are_kept_in_gmail_html() -> None:
    page = (
        "<div dir='ltr'><div>Subject: boundaries, again.</div><div>As Rilke put it:</div>"
        "<blockquote>Be patient toward all that is unsolved in your heart.</blockquote>"
        "<div>That is where I am.</div></div><br><div class='gmail_quote'>"
        "<div class='gmail_attr'>On Wed, Nov 25, 2026 at 6:37 PM Ann via Example Blog "
        "&lt;reply+t@blog.example.org&gt; wrote:<br></div><blockquote class='gmail_quote'>"
        + NOTE.replace("\n", "<br>")
        + "</blockquote></div>"
    )
    assert extract(html(page), SENT).text == (
        "Subject: boundaries, again.\nAs Rilke put it:\n\n"
        "> Be patient toward all that is unsolved in your heart.\n\nThat is where I am."
    )


def test_without_the_notification_a_quote_at_the_end_is_still_cut() -> None:
    body = f"Thanks.\n\nOn Wed, Nov 25, 2026 at 6:37 PM Ann wrote:\n{quoted(NOTE)}\n"
    assert extract(plain(body)).text == "Thanks."


# -- Header look-alikes -----------------------------------------------------------------


def test_lines_that_look_like_headers_are_the_writers_without_a_real_block() -> None:
    body = (
        "From: my own experience, this is not how it works.\n"
        "Sent: to my therapist last week, and she agreed.\n\n"
        "I would say the same to anyone.\n\n> an old line\n"
    )
    assert extract(plain(body)).text == (
        "From: my own experience, this is not how it works.\n"
        "Sent: to my therapist last week, and she agreed.\n\nI would say the same to anyone."
    )


def test_a_real_header_block_still_cuts() -> None:
    body = (
        "Agreed.\n\nFrom: Ann <ann@example.org>\nSent: Tuesday, March 3, 2026 5:02 PM\n"
        "To: Reader\nSubject: Re: boundaries\n\nThe old message.\n"
    )
    assert extract(plain(body)).text == "Agreed."


# -- Signatures and sign-offs -----------------------------------------------------------


@pytest.mark.parametrize("signoff", ["-Ann", "— M.", "Thanks, Roman", "xx Jo"])
def test_short_signoffs_are_the_writers(signoff: str) -> None:
    body = f"I will try that next week.\n\n{signoff}\n\n{quoted(NOTE)}\n"
    assert extract(plain(body), SENT).text == f"I will try that next week.\n\n{signoff}"


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nAnn Smith\nSenior Therapist, Example Clinic",
        "Sent from my iPhone",
        "Ann Smith\nSenior Therapist | Example Clinic\nTel: +44 20 7946 0000\nwww.example.org",
    ],
)
def test_real_signature_blocks_are_cut(signature: str) -> None:
    body = f"I will try that next week.\n\nAnn\n\n{signature}\n\n{quoted(NOTE)}\n"
    got = extract(plain(body), SENT).text
    assert got.startswith("I will try that next week.")
    assert "Tel:" not in got and "iPhone" not in got and "Senior" not in got


# -- Formatting ------------------------------------------------------------------------


def test_html_formatting_survives_as_markdown() -> None:
    page = (
        "<p>I <b>really</b> mean it, <em>truly</em>; try <code>pip install x</code>.</p>"
        "<h3>Reading</h3><ul><li>one</li><li>two</li></ul>"
        "<p>See <a href='https://example.org/essay'>this essay</a> or https://example.org.</p>"
        "<p><img src='https://example.org/p.png' alt='a photo'> <img src='cid:x@y'></p>"
        "<div class='gmail_quote'>On Wed, Nov 25, 2026 Ann wrote:<blockquote>"
        + NOTE.replace("\n", "<br>")
        + "</blockquote></div>"
    )
    assert extract(html(page), SENT).text == (
        "I **really** mean it, *truly*; try `pip install x`.\n\n### Reading\n\n- one\n- two\n\n"
        "See [this essay](https://example.org/essay) or https://example.org.\n\n"
        "![a photo](https://example.org/p.png)"
    )


# -- Never empty by accident ---------------------------------------------------------


def test_words_the_rules_would_cut_entirely_are_kept_and_marked() -> None:
    body = (
        "Call me on 020 7946 0000\nor on my mobile 07700 900123\nafter 6pm, any day\n"
        "Tel: 020 7946 0001\n\n" + quoted(NOTE) + "\n"
    )
    got = extract(plain(body), SENT)
    assert got.text.startswith("Call me on 020 7946 0000") and got.text.endswith("0001")
    assert "would have cut all of it" in got.unsure


@pytest.mark.parametrize("body", ["Sent from my iPhone", "Thanks,\nAnn", ""])
def test_a_message_that_says_nothing_is_still_empty(body: str) -> None:
    got = extract(plain(f"{body}\n\n{quoted(NOTE)}\n"), SENT)
    assert got.text in ("", "Thanks,\nAnn") and not got.unsure


# A message can open with what usually closes a reply: a pasted header or attribution,
# a phone's "Sent from". Cutting from there would leave nothing of the writer's text.


@pytest.mark.parametrize(
    ("opening", "sender"),
    [
        (
            "Od: Jan Kowalski <jan.kowalski@example.com>\n"
            "Wysłano: środa, 25 listopada 2026 12:00\nTemat: Ann replied\n",
            "Jan Kowalski <jan.kowalski@example.com>",
        ),
        (
            'On 25 Nov 2026 18:37, "Ann via Example Blog" <reply+t@blog.example.org> wrote:\n',
            "Reader <reader@example.net>",
        ),
        (
            "From: Ann via Example Blog <reply+t@blog.example.org>\n"
            "Sent: Wednesday, November 25, 2026 6:37 PM\nTo: Reader\n",
            "Reader <reader@example.net>",
        ),
    ],
)
def test_text_under_an_opening_header_is_kept_and_marked(opening: str, sender: str) -> None:
    words = "Czesc Anno,\n\nJak się masz? I read it twice.\n\n    code stays indented"
    message = plain(f"{opening}\n{words}\n")
    for got in (extract(message), extract(message, SENT)):
        assert got.text == words
        assert "opens with a quote header" in got.unsure


def test_an_opening_header_over_our_own_notification_is_cut() -> None:
    # An empty Outlook-style reply: the header, then what we sent, unquoted.
    body = (
        "From: Ann via Example Blog <reply+t@blog.example.org>\n"
        "Sent: Wednesday, November 25, 2026 6:37 PM\nTo: Reader\n\n" + NOTE
    )
    got = extract(plain(body), SENT)
    assert got.text == "" and not got.unsure


def test_an_opening_attribution_over_a_quote_is_still_a_bottom_post() -> None:
    body = f"On Wed, 25 Nov 2026 at 18:37, Ann wrote:\n{quoted(NOTE)}\n\nI agree with you.\n"
    got = extract(plain(body))
    assert got.text == "I agree with you." and not got.unsure


@pytest.mark.parametrize("phone", ["Sent from my iPhone", "Enviado desde mi móvil Huawei"])
def test_a_phone_line_above_the_reply_is_dropped_not_a_cut(phone: str) -> None:
    body = f"{phone}\n\nHi,\n\nThis is what I meant all along.\n\n{quoted(NOTE)}\n"
    got = extract(plain(body), SENT)
    assert got.text == "Hi,\n\nThis is what I meant all along." and not got.unsure


def test_a_phone_line_above_only_a_quote_is_still_empty() -> None:
    got = extract(plain(f"Sent from my iPhone\n\n{quoted(NOTE)}\n"))
    assert got.text == ""
