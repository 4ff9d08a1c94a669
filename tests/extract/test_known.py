"""Extraction that uses what mailbridge sent (issue 13): for any reply built as the
writer's text plus the notification mailbridge really sent, quoted the way a client
quotes it, the writer's text comes back whole -- including writers' texts that begin
with or contain lines that look like headers.

The notification is a real one: a daemon runs once for this module, Ann's answer to a
seed comment is approved, and the notification mailed to that comment's author is
read from the outbox Maildir; what the extractor is told was sent comes from the same
function the daemon uses (mailbridge.inbound.sent)."""

from __future__ import annotations

import asyncio
import email.policy
import json
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support import SEED_JSON, started, text_body

from mailbridge.extract import extract, known
from mailbridge.extract.known import Known, our_lines
from mailbridge.inbound.sent import sent_texts

READER = "reader002.4a549d@example.org"
SEED = [c["body"] for c in json.loads(SEED_JSON.read_text())["comments"]]
# Lines a writer may well write that look like the start of a header or attribution.
LOOKALIKES = [
    "From: my own experience, this is not how it works.",
    "Sent: to my therapist last week, and she agreed.",
    "Date: still not set, but soon.",
    "Subject: transference, again.",
    "Von: meiner Seite aus ist alles gesagt.",
    "To: whom it may concern -- thank you.",
    "On Tuesday my therapist wrote: you are doing well.",
    "Original message: I never meant to offend anyone.",
    "Re: your point about boundaries",
]


def normal(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


@pytest.fixture(scope="module")
def notification(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """(the notification's plain text, what the daemon would tell the extractor)."""
    from flows import reply_notification

    async def main() -> tuple[str, list[str]]:
        async with started(tmp_path_factory.mktemp("known")) as daemon:
            note = await reply_notification(daemon)
            comment_id = int(str(note["Message-ID"]).split(".")[0].removeprefix("<c"))
            sent = await daemon.store.read(lambda c: sent_texts(c, READER, comment_id))
            return text_body(note), sent

    return asyncio.run(main())


def reply(body: str) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = f"Reader <{READER}>"
    message["To"] = "reply+token@example.org"
    message["Subject"] = "Re: Ann replied to your comment"
    message.set_content(body)
    return message.as_bytes()


def quoted(text: str) -> str:
    return "\n".join(("> " + line) if line else ">" for line in text.split("\n"))


STYLES = {
    "gmail": lambda note: (
        "On Wed, 25 Nov 2026 at 18:37, Ann via Example Blog <reply+x@example.org> wrote:\n"
        + quoted(note)
    ),
    "outlook": lambda note: (
        "________________________________\nFrom: Ann via Example Blog <reply+x@example.org>\n"
        "Sent: Wednesday, November 25, 2026 6:37 PM\nTo: Reader <reader@example.org>\n"
        "Subject: Ann replied to your comment\n\n" + note
    ),
    "czech": lambda note: (
        "Dne st 25. 11. 2026 v 18:37 odesílatel Ann via Example Blog napsal:\n" + quoted(note)
    ),
    "bare quote": quoted,
}


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    writer=st.sampled_from(SEED),
    lookalike=st.one_of(st.none(), st.sampled_from(LOOKALIKES)),
    where=st.sampled_from(["top", "middle"]),
    style=st.sampled_from(sorted(STYLES)),
)
def test_the_writers_text_comes_back_whole(
    notification: tuple[str, list[str]], writer: str, lookalike: str | None, where: str, style: str
) -> None:
    note, sent = notification
    known = Known.of(sent)
    assert known is not None
    # The one seed comment the notification quotes (the reader's own, answered by Ann)
    # is what we sent: filed again word for word, it would be ours to cut.
    assume(not our_lines(known, writer.split("\n")))
    text = writer.strip()
    if lookalike is not None:
        paragraphs = text.split("\n\n")
        at = 0 if where == "top" else max(1, len(paragraphs) // 2)
        paragraphs.insert(at, lookalike)
        text = "\n\n".join(paragraphs)
    raw = reply(f"{text}\n\n{STYLES[style](note)}\n")
    got = extract(raw, sent).text
    assert normal(got) == normal(text)


def test_without_what_was_sent_the_rules_still_cut(notification: tuple[str, list[str]]) -> None:
    note, _sent = notification
    raw = reply("Thank you, that helps.\n\n" + STYLES["gmail"](note) + "\n")
    assert extract(raw).text == "Thank you, that helps."


def test_a_writers_own_quote_is_kept_and_ours_is_cut(notification: tuple[str, list[str]]) -> None:
    note, sent = notification
    poem = (
        "> Do not go gentle into that good night,\n> Old age should burn and rave at close of day"
    )
    body = f"As the poem says:\n\n{poem}\n\nThat is how I feel.\n\n{STYLES['gmail'](note)}\n"
    assert normal(extract(reply(body), sent).text) == normal(
        f"As the poem says:\n\n{poem}\n\nThat is how I feel."
    )


@settings(max_examples=800, deadline=None)
@given(st.text(max_size=60) | st.text(alphabet="aB1_ .>|'\u0130\u00e9\u212a", max_size=30))
def test_words_are_lowered_as_word_by_word(text: str) -> None:
    # known._words lowers an ASCII text once instead of word by word: same words.
    assert known._words(text) == [w.lower() for w in known._WORD.findall(text)]
