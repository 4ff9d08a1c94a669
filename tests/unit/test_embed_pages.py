"""Which page may create which thread (issue 9, threads that create themselves)."""

from __future__ import annotations

import pytest

from mailbridge.embed.pages import clean_title, page_thread
from mailbridge.errors import ThreadRefused

SITE = "https://blog.example.org"
ALLOWED = (SITE,)


def test_a_post_of_an_allowed_site_gets_a_thread_keyed_by_its_path() -> None:
    page = page_thread(f"{SITE}/posts/hello-world/", "Hello, world", SITE, ALLOWED, "/posts/")
    assert page.key == "posts-hello-world-" + page.key.rsplit("-", 1)[1]
    assert page.url == f"{SITE}/posts/hello-world/"
    assert page.title == "Hello, world"
    again = page_thread(
        f"{SITE}/posts/hello-world/?utm_source=x#comments", "Hello, world", SITE, ALLOWED, "/posts/"
    )
    assert again == page  # query strings and fragments never mint another thread


def test_paths_that_fold_to_one_slug_stay_apart() -> None:
    a = page_thread(f"{SITE}/a/b", "A", SITE, ALLOWED, "/")
    b = page_thread(f"{SITE}/a-b", "B", SITE, ALLOWED, "/")
    assert a.key != b.key


@pytest.mark.parametrize(
    ("url", "origin", "status", "field"),
    [
        (f"{SITE}/posts/x/", "https://evil.example", 403, "origin"),
        (f"{SITE}/posts/x/", None, 403, "origin"),
        ("https://evil.example/posts/x/", SITE, 403, "url"),
        (f"{SITE}/about/", SITE, 403, "url"),
        (f"{SITE}/posts/../admin/", SITE, 400, "url"),
        (f"{SITE}/posts//x", SITE, 400, "url"),
        ("javascript:alert(1)", SITE, 400, "url"),
        ("https://user@blog.example.org/posts/x/", SITE, 400, "url"),
        ("https://blog.example.org:99999/posts/x/", SITE, 400, "url"),
        ("", SITE, 400, "url"),
        (42, SITE, 400, "url"),
    ],
)
def test_refusals_say_why(url: object, origin: str | None, status: int, field: str) -> None:
    with pytest.raises(ThreadRefused) as refused:
        page_thread(url, "Title", origin, ALLOWED, "/posts/")
    assert (refused.value.status, refused.value.field) == (status, field)


def test_titles_are_one_line_of_plain_text() -> None:
    assert clean_title("<b>Bold</b>\n  title <script>x</script>") == "Bold title x"
    assert len(clean_title("t" * 1_000)) == 200
    for bad in ("", "<br>", None, "\u202etxt.exe"):
        with pytest.raises(ThreadRefused):
            clean_title(bad)
