"""Every variant of the /confirm page reads as a sentence: no words run together.

The templates render with trim_blocks, which drops the newline after a block tag, so a
sentence continued on the next line lost its space ("when someone answers youon").
"""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest

from mailbridge.models import Thread
from mailbridge.templating import Renderer
from mailbridge.tokens import LinkPurpose, SubscriptionLink

THREAD = Thread(1, "post", "Attachment theory", "https://blog.example/post", "Author", None)


def page_text(html: str) -> str:
    body = html.split("<body", 1)[1]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def sentence_of(text: str, start: str) -> str:
    return start + text.split(start, 1)[1].split(".", 1)[0] + "."


ON = " on “Attachment theory”"
# (done, changed) -> how the sentence starts; level -> its middle.
STATES = {
    (False, False): "Someone, hopefully you, asked Example Blog to email this address ",
    (True, True): "Example Blog will email you ",
    (True, False): "Example Blog will email you ",
}
LEVELS = {
    ("replies", False): "when someone answers their comment",
    ("replies", True): "when someone answers you",
    ("thread", False): "every new comment",
    ("thread", True): "every new comment",
}


@pytest.mark.parametrize("with_thread", [True, False], ids=["thread", "site-wide"])
@pytest.mark.parametrize("level", ["replies", "thread"])
@pytest.mark.parametrize("state", list(STATES), ids=["asking", "confirmed", "already"])
def test_every_confirm_page_variant_reads_as_a_sentence(
    state: tuple[bool, bool], level: str, with_thread: bool
) -> None:
    done, changed = state
    link = SubscriptionLink(LinkPurpose.CONFIRM, 7, 1 if with_thread else None, level, date.max)
    html = Renderer().page(
        "confirm",
        site_name="Example Blog",
        link=link,
        thread=THREAD if with_thread else None,
        done=done,
        changed=changed,
        current=level,
    )
    text = page_text(html)

    start = STATES[state]
    expected = start + LEVELS[level, done] + (ON if with_thread else "") + "."
    assert sentence_of(text, start) == expected
    assert not re.search(r"(you|comment)on\b", text), text
