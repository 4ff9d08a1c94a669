"""Properties that hold for any input: no exception, no invented words, linear time.

The linear-time check runs hostile 5 MB inputs in a subprocess under a generous
wall-clock guard: it detects a hang (catastrophic backtracking, quadratic
loops), it is not a benchmark.  Each input is one that broke an earlier
version or a classic regex trap: one 5 MB line, a line of ">" or "-", a line
of "On ... <a@b.c>" fragments, thousands of header-looking lines, deeply
nested HTML.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from mailbridge.extract import extract, trim_text
from mailbridge.extract.mime import parse_mail

EMAILS = Path(__file__).resolve().parents[1] / "fixtures" / "emails"
FIXTURES = sorted(EMAILS.glob("*.eml"))
ROOT = Path(__file__).resolve().parents[2]
WORD = re.compile(r"\w+")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Lines that exercise every matcher, to be shuffled into generated bodies.
PIECES = [
    "On Tue, Mar 3, 2026 at 5:02 PM Ann <ann@example.org> wrote:",
    "> quoted line",
    ">> deeper",
    "-- ",
    "Sent from my iPhone",
    "From: Ann <ann@example.org>",
    "Sent: Tuesday",
    "Subject: x",
    "-----Original Message-----",
    "---------- Forwarded message ---------",
    "Thanks,",
    "-Ann",
    "Tel: +44 20 7946 0000",
    "```",
    "",
    "Am 03.03.2026 um 17:02 schrieb Ann <ann@example.org>:",
    "2026年3月3日(火) 17:02 Ann <ann@example.org>:",
]
line_strategy = st.one_of(st.sampled_from(PIECES), st.text(max_size=60))


def _reference_words(raw: bytes) -> set[str]:
    """Every word of the decoded message: raw bytes, decoded parts, HTML text, links."""
    chunks = [raw.decode("latin-1"), raw.decode("utf-8", "replace")]
    mail = parse_mail(raw)
    for body in mail.plain + mail.html:
        chunks.append(body.text)
    for body in mail.html:
        tree = LexborHTMLParser(body.text)
        chunks.append(tree.text(separator=""))
        chunks.append(tree.text(separator=" "))
        chunks.extend(n.attributes.get("href") or "" for n in tree.css("a"))
    return set(WORD.findall("\n".join(chunks)))


def _assert_no_invented_words(raw: bytes) -> None:
    result = extract(raw)
    words = set(WORD.findall(result.text))
    # Ordered-list numbers ("1.", "2.") are the only text the renderer makes up.
    invented = {w for w in words - _reference_words(raw) if not w.isdigit()}
    assert not invented, invented


@SETTINGS
@given(st.binary(max_size=4000))
def test_arbitrary_bytes(raw: bytes) -> None:
    result = extract(raw)
    assert isinstance(result.text, str)
    # No blank lines around it, no trailing whitespace; a first line's indentation
    # stays (an indented first line is a Markdown code block).
    assert result.text == result.text.rstrip()
    assert not result.text or result.text.split("\n", 1)[0].strip()


@SETTINGS
@given(st.lists(line_strategy, max_size=40), st.sampled_from(["plain", "html", "flowed"]))
def test_generated_messages_invent_no_words(lines: list[str], kind: str) -> None:
    body = "\n".join(lines)
    if kind == "html":
        ctype = "text/html; charset=utf-8"
        body = "".join(
            f"<div>{x}</div>" if i % 3 else f"<blockquote>{x}</blockquote>"
            for i, x in enumerate(lines)
        )
    else:
        ctype = "text/plain; charset=utf-8" + ("; format=flowed" if kind == "flowed" else "")
    raw = f"From: Ann <ann@example.org>\nContent-Type: {ctype}\n\n".encode() + body.encode(
        "utf-8", "surrogatepass"
    )
    _assert_no_invented_words(raw)


@SETTINGS
@given(st.sampled_from(FIXTURES), st.randoms(use_true_random=False), st.integers(1, 20))
def test_mutated_fixtures(path: Path, rnd: random.Random, edits: int) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(edits):
        op = rnd.randrange(3)
        at = rnd.randrange(len(data) + 1)
        if op == 0:
            data[at:at] = rnd.choice([b"\n", b">", b"--", b"=", b"<", b"\xff", b"\r\n", b"<div>"])
        elif op == 1 and data:
            del data[at : at + rnd.randrange(1, 40)]
        elif data:
            data[min(at, len(data) - 1)] = rnd.randrange(256)
    _assert_no_invented_words(bytes(data))


@SETTINGS
@given(st.lists(line_strategy, max_size=60))
def test_trim_only_removes_lines(lines: list[str]) -> None:
    text = "\n".join(lines).replace("\r", "")
    kept, elided = trim_text(text)
    source = [x.rstrip() for x in text.split("\n")]
    for line in kept.split("\n"):
        # a kept line is a line of the input, or the reply half of a line whose
        # "On ... wrote:" was split off, or a blank line
        assert not line.strip() or any(s.startswith(line) for s in source), line
    assert isinstance(elided, str)


HOSTILE = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from mailbridge.extract import extract
    M = 5_000_000
    head = b"From: a@example.org\\nContent-Type: text/plain; charset=utf-8\\n\\n"
    html = b"From: a@example.org\\nContent-Type: text/html; charset=utf-8\\n\\n"
    bodies = [
        head + b"a" * M,
        head + b"word " * (M // 5),
        head + b">" * M,
        head + b"-" * M,
        head + b"On 1 Mar 2026 12:00 <a@example.org> " * (M // 36),
        head + b"[x](" * (M // 4),
        head + b"From: x\\nTo: y\\n" * 70_000,
        head + b"On 1 Mar 2026 12:00 <a@example.org>\\n" * 30_000,
        head + b"> q\\nt\\n" * 100_000,
        html + b"<p>" + b"a" * M + b"</p>",
        html + b"<div>" * 200_000,
        html + b"<blockquote>" * 100_000 + b"x",
        html + b"<p>" + b"<b>x</b> " * 400_000 + b"</p>",
        html + b'<div style="border-top:solid #E1E1E1 1.0pt">x' * 19_000,
        b'From: a@example.org\\nContent-Type: multipart/mixed; boundary="b"\\n\\n'
        + b"--b\\nContent-Type: text/plain\\n\\nx\\n" * 50_000,
        b"From: a@example.org\\n"
        + b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\\n\\n--b%d\\n' % (i, i)
                   for i in range(3_000)),
    ]
    for body in bodies:
        extract(body)
    print("done")
    """
)


def test_hostile_inputs_finish(tmp_path: Path) -> None:
    script = tmp_path / "hostile.py"
    script.write_text(HOSTILE)
    proc = subprocess.run(
        [sys.executable, str(script), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,  # hang detection only; all of this takes seconds
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "done"
