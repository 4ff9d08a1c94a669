"""How many comments a moderation digest lists (mailbridge.notify.digest_fit): pure."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from mailbridge.models import Comment, CommentStatus, Source
from mailbridge.notify.digest_fit import fit_digest, wire_size
from mailbridge.templating import RenderedEmail


def comments(*sizes: int) -> list[Comment]:
    return [
        Comment(n, 1, None, None, "Ann", "x" * size, CommentStatus.PENDING, Source.WEB, False, "")
        for n, size in enumerate(sizes)
    ]


def renderer(listed: list[Comment]) -> tuple[list[int], Callable[[int], RenderedEmail]]:
    """A digest whose HTML is each comment's text plus 500 bytes of buttons; the counts
    it was asked for."""
    asked: list[int] = []

    def render(count: int) -> RenderedEmail:
        asked.append(count)
        html = "".join(c.body + "b" * 500 for c in listed[:count])
        return RenderedEmail("s", "t", html)

    return asked, render


def test_everything_is_listed_when_it_fits() -> None:
    listed = comments(100, 200, 300)
    asked, render = renderer(listed)
    count, rendered = fit_digest(render, listed, budget=10_000)
    assert count == 3 and asked == [3] and wire_size(rendered.html) <= 10_000


def test_the_most_that_fit_and_never_none() -> None:
    listed = comments(*[1_000] * 50)
    _asked, render = renderer(listed)
    count, rendered = fit_digest(render, listed, budget=10_000)
    assert count == 6  # 6 x 1,500 fit, 7 do not
    assert wire_size(rendered.html) <= 10_000 < wire_size(render(7).html)
    huge = comments(50_000, 10)
    _asked, render = renderer(huge)
    assert fit_digest(render, huge, budget=10_000)[0] == 1


def test_wire_size_counts_the_part_as_sent_with_its_line_ends() -> None:
    assert wire_size("abc") == len("abc\r\n")
    assert wire_size("é") == len("=C3=A9\r\n")
    assert wire_size("a\nb") == len("a\r\nb\r\n")
    # Mostly Cyrillic: base64 (of the text with CRLF line ends), not quoted-printable.
    text = "Привет, мир\n" * 100
    b64 = base64.encodebytes(text.replace("\n", "\r\n").encode()).replace(b"\n", b"\r\n")
    assert wire_size(text) == len(b64)
    assert wire_size(text) < len(binascii.b2a_qp(text.encode(), istext=True)) * 0.6
