"""Real-world and broken exports of every format, through `mailbridge import`: what is
stored (read back from the store) and what the summary says. The rule: bad input gets
a one-line error naming the file (exit 1, no traceback), and nothing is lost or stored
half-read without being said."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner
from support import command_env, data_rows

from mailbridge.cli import cli
from mailbridge.importer.records import safe_url, utc_date

DISQUS_HEAD = (
    '<?xml version="1.0"?>\n<disqus xmlns="http://disqus.com" '
    'xmlns:dsq="http://disqus.com/disqus-internals">\n<thread dsq:id="t"><id>page</id>'
    "<link>https://blog.example.org/page/</link><title>Page</title></thread>\n"
)


def disqus(path: Path, posts: list[dict[str, str]]) -> Path:
    """A Disqus export of one thread; each post {id, date?, name?, body?}."""
    body = "".join(
        f'<post dsq:id="{p["id"]}"><message>{p.get("body", "Text " + p["id"])}</message>'
        + (f"<createdAt>{p['date']}</createdAt>" if "date" in p else "")
        + f"<author><name>{p.get('name', 'Ann')}</name></author>"
        '<thread dsq:id="t"/></post>\n'
        for p in posts
    )
    path.write_text(DISQUS_HEAD + body + "</disqus>\n", encoding="utf-8")
    return path


def commento(path: Path, posts: list[dict[str, str]]) -> Path:
    comments = [
        {"commentHex": p["id"], "domain": "blog.example.org", "url": "/page/",
         "commenterHex": "c" + p["id"], "markdown": p.get("body", "Text " + p["id"]),
         "parentHex": "root", "state": "approved",
         **({"creationDate": p["date"]} if "date" in p else {})}
        for p in posts
    ]  # fmt: skip
    people = [{"commenterHex": "c" + p["id"], "name": p.get("name", "Ann")} for p in posts]
    path.write_text(json.dumps({"version": 1, "comments": comments, "commenters": people}))
    return path


def remark42(path: Path, posts: list[dict[str, str]]) -> Path:
    lines = [{"version": 1, "users": [], "posts": []}] + [
        {"id": p["id"], "pid": "", "text": p.get("body", "Text " + p["id"]),
         "user": {"name": p.get("name", "Ann")},
         "locator": {"url": "https://blog.example.org/page/"},
         **({"time": p["date"]} if "date" in p else {})}
        for p in posts
    ]  # fmt: skip
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def isso(path: Path, posts: list[dict[str, str]]) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE threads (id INTEGER PRIMARY KEY, uri VARCHAR(256) UNIQUE, title VARCHAR);"
        "CREATE TABLE comments (tid REFERENCES threads(id), id INTEGER PRIMARY KEY, "
        "parent INTEGER, created FLOAT NOT NULL, modified FLOAT, mode INTEGER, "
        "remote_addr VARCHAR, text VARCHAR, author VARCHAR, email VARCHAR, website VARCHAR, "
        "voters BLOB NOT NULL);"
        "INSERT INTO threads VALUES (1, '/page/', 'Page');"
    )
    conn.executemany(
        "INSERT INTO comments (tid, id, created, mode, text, author, voters) "
        "VALUES (1, ?, ?, 1, ?, ?, x'00')",
        [(int(p["id"]), p.get("date", 0), p.get("body", "Text " + p["id"]), p.get("name", "Ann"))
         for p in posts],
    )  # fmt: skip
    conn.commit()
    conn.close()
    return path


WRITERS: dict[str, Callable[[Path, list[dict[str, str]]], Path]] = {
    "disqus": disqus, "commento": commento, "remark42": remark42, "isso": isso,
}  # fmt: skip


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, list(args), env=command_env(list(args)))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert (result.exit_code == 0) == ok, result.output
    return result.output


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("2020-01-01T10:00:00Z", "2020-01-01T10:00:00+00:00"),
        ("2020-01-01T10:00:00.123456789Z", "2020-01-01T10:00:00+00:00"),  # nanoseconds
        ("2020-01-01T10:00:00+05:30", "2020-01-01T04:30:00+00:00"),
        ("2020-01-01 10:00:00", "2020-01-01T10:00:00+00:00"),  # no zone: UTC
        ("1577872800", "2020-01-01T10:00:00+00:00"),  # Unix time, as digits
        (1577872800.5, "2020-01-01T10:00:00+00:00"),
        ("2020", None),  # a year is no moment, nor Unix time 2020
        (12345, None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (True, None),
        (1e20, None),  # past year 9999
        (-1e12, None),
        ("1969-12-31T23:59:59Z", None),
        ("9999-12-31T23:00:00-05:00", None),  # past year 9999 in UTC
    ],
)
def test_dates_become_utc_or_nothing(value: object, stored: str | None) -> None:
    assert utc_date(value) == stored


@pytest.mark.parametrize("fmt", ["disqus", "commento", "remark42", "isso"])
def test_dates_of_every_form_are_stored_as_utc_and_unreadable_ones_said(
    tmp_path: Path, fmt: str
) -> None:
    if fmt == "isso":  # Unix time, a float; Isso writes nothing else
        dates = [1577872800.0, 1e20, -1e12, "yesterday"]
        expected = ["2020-01-01T10:00:00+00:00"] + ["1970-01-01T00:00:00+00:00"] * 3
    else:
        dates = ["2020-01-01T10:00:00.123+05:00", "garbage", "1577872800"]
        expected = ["2020-01-01T05:00:00+00:00", "1970-01-01T00:00:00+00:00",
                    "2020-01-01T10:00:00+00:00"]  # fmt: skip
    posts = [{"id": str(n + 1), "date": d} for n, d in enumerate(dates)]  # type: ignore[misc]
    if fmt != "isso":
        posts.append({"id": str(len(posts) + 1)})  # no date at all
        expected.append("1970-01-01T00:00:00+00:00")
    file = WRITERS[fmt](tmp_path / f"export.{fmt}", posts)
    data = tmp_path / "var"
    out = run("import", "--data-dir", str(data), str(file))
    undated = expected.count("1970-01-01T00:00:00+00:00")
    assert f"{len(posts)} comment(s) added" in out
    assert f"Dated 1970-01-01: {undated} comment(s) whose date is missing or cannot be read" in out
    got = data_rows(data, "SELECT source_ref, created_at FROM comments")
    assert sorted(got) == sorted(
        (f"{fmt}:{p['id']}", when) for p, when in zip(posts, expected, strict=True)
    )


def wxr(path: Path, ids: list[str]) -> Path:
    comments = "".join(
        f"<wp:comment><wp:comment_id>{cid}</wp:comment_id><wp:comment_author>Ann"
        "</wp:comment_author><wp:comment_date_gmt>2020-01-01 10:00:00</wp:comment_date_gmt>"
        f"<wp:comment_content>Text {n}</wp:comment_content><wp:comment_approved>1"
        "</wp:comment_approved></wp:comment>"
        for n, cid in enumerate(ids)
    )
    path.write_text(
        '<?xml version="1.0"?>\n<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/">'
        "<channel><item><title>Page</title><link>https://blog.example.org/page/</link>"
        "<wp:post_id>1</wp:post_id><wp:post_name>page</wp:post_name>"
        f"<wp:post_type>post</wp:post_type>{comments}</item></channel></rss>\n"
    )
    return path


def native(path: Path, ids: list[str]) -> Path:
    comments = [
        {"id": cid, "author": "Ann", "created": "2020-01-01T10:00:00Z", "body": f"Text {n}"}
        for n, cid in enumerate(ids)
    ]
    path.write_text(json.dumps({"post": {"key": "page", "title": "Page"}, "comments": comments}))
    return path


@pytest.mark.parametrize("fmt", ["wxr", "json", "disqus", "commento", "remark42"])
def test_a_comment_id_used_twice_in_the_file_is_said_not_dropped(tmp_path: Path, fmt: str) -> None:
    """The second comment with an id was lost without a word (WXR, JSON), or counted as
    "already present" in a first import (Disqus, Commento, Remark42)."""
    ids = ["1", "2", "1", "3", "3"]
    if fmt in ("wxr", "json"):
        file = (wxr if fmt == "wxr" else native)(tmp_path / f"export.{fmt}", ids)
    else:
        file = WRITERS[fmt](tmp_path / f"export.{fmt}", [{"id": i} for i in ids])
    data = tmp_path / "var"
    out = run("import", "--data-dir", str(data), str(file))
    assert "3 comment(s) added, 0 already present" in out
    assert "Not imported: 2 the same id as a comment before it." in out
    prefix = "" if fmt in ("wxr", "json") else f"{fmt}:"
    assert sorted(data_rows(data, "SELECT source_ref FROM comments")) == [
        (f"{prefix}{i}",) for i in ("1", "2", "3")
    ]


COMMENTO = json.dumps(
    {"version": 1, "comments": [{"commentHex": "a", "url": "/p/", "commenterHex": "anonymous",
                                 "markdown": "Caf\u00e9", "parentHex": "root"}],
     "commenters": []}, ensure_ascii=False,
)  # fmt: skip
RSS = '<?xml version="1.0"?><rss version="2.0"><channel><item><title>News</title></item>'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        ((DISQUS_HEAD + "</disqus>").encode("utf-16"), "encoded in UTF-16, not UTF-8"),
        (COMMENTO.encode("utf-16-le"), "encoded in UTF-16, not UTF-8"),  # no byte order mark
        (COMMENTO.encode("utf-32"), "encoded in UTF-32, not UTF-8"),
        (COMMENTO.encode("utf-32-be"), "encoded in UTF-32, not UTF-8"),
        # a zip's NUL bytes are not UTF-32 text
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40, "not a WordPress export (WXR XML)"),
        (
            b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>',
            "not a WordPress export (WXR, an <rss>) or a Disqus export (<disqus>), though",
        ),
        ((RSS + "</channel></rss>").encode(), "an RSS feed, not a WordPress export"),
        # yajl's messages are several lines, the first one says it
        (
            COMMENTO.encode("latin-1"),
            "not valid JSON: lexical error: invalid bytes in UTF8 string.",
        ),
        (COMMENTO.encode()[:-30], "not valid JSON: parse error: premature EOF"),
        (
            b'{"post": {"key": "k", "title": "\xe9t\xe9"}, "comments": []}',
            "not valid JSON: lexical error: invalid bytes in UTF8 string.",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "utf16-bom",
        "utf16",
        "utf32",
        "utf32-be",
        "zip",
        "atom",
        "rss",
        "latin1-commento",
        "truncated-commento",
        "latin1-json",
    ],
)
def test_a_file_that_cannot_be_read_is_refused_in_one_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    file = tmp_path / "export"
    file.write_bytes(content)
    data = tmp_path / "var"
    out = run("import", "--data-dir", str(data), str(file), ok=False)
    assert out == f"Error: {file}: {message}\n" or (
        out.startswith(f"Error: {file}: {message}") and out.count("\n") == 1
    ), out
    assert data_rows(data, "SELECT count(*) FROM comments") == [(0,)]


def test_a_byte_order_mark_is_read_past_in_every_text_format(tmp_path: Path) -> None:
    for name, text in [("commento.json", COMMENTO), ("disqus.xml", DISQUS_HEAD + "</disqus>")]:
        file = tmp_path / name
        file.write_bytes(b"\xef\xbb\xbf" + text.encode())
        run("import", "--data-dir", str(tmp_path / f"var-{name}"), str(file))


def test_an_isso_column_of_another_type_is_read_not_a_traceback(tmp_path: Path) -> None:
    """SQLite keeps whatever it is given: a mode as text, a text as a blob."""
    file = isso(tmp_path / "comments.db", [{"id": "1", "date": 1577872800.0}])
    conn = sqlite3.connect(file)
    conn.execute("UPDATE comments SET mode = 'x', text = CAST('Blob text' AS BLOB)")
    conn.commit()
    conn.close()
    data = tmp_path / "var"
    assert "1 comment(s) added" in run("import", "--data-dir", str(data), str(file))
    assert data_rows(data, "SELECT body, status FROM comments") == [("Blob text", "pending")]


@pytest.mark.parametrize("fmt", ["json", "commento", "remark42", "isso"])
def test_control_characters_never_reach_the_store(tmp_path: Path, fmt: str) -> None:
    """NUL (which PostgreSQL refuses), an escape sequence, a bidi override, a CR: dropped
    or made a line break. XML cannot carry most of them; these formats can."""
    name = "Ann\x00\u202e\r\nBcc: x@example.org"
    body = "one\x00 \x1b[31mred\x1b[0m\u202e\rtwo\x7f"
    if fmt == "json":
        file = tmp_path / "export.json"
        file.write_text(json.dumps({
            "post": {"key": "page", "title": "Ti\x00tle\r\nX", "author": "Own\x07er"},
            "comments": [{"id": 1, "author": name, "created": "2020-01-01T10:00:00Z",
                          "body": body}],
        }))  # fmt: skip
    else:
        file = WRITERS[fmt](tmp_path / f"export.{fmt}", [{"id": "1", "name": name, "body": body}])
    data = tmp_path / "var"
    run("import", "--data-dir", str(data), str(file))
    assert data_rows(data, "SELECT author, body FROM comments") == [
        ("Ann Bcc: x@example.org", "one [31mred[0m\ntwo")
    ]
    if fmt == "json":
        assert data_rows(data, "SELECT title, author FROM threads") == [("Title X", "Owner")]


def test_two_wordpress_pages_with_one_slug_stay_two_threads(tmp_path: Path) -> None:
    """Child pages of different parents share a post_name: their comments were merged
    into the first one's thread ("1 already present" in a first import)."""
    one = wxr(tmp_path / "one.xml", ["1"]).read_text()
    item = one[one.index("<item>") : one.index("</item>") + len("</item>")]
    other = item.replace("<wp:post_id>1<", "<wp:post_id>7<").replace(
        "<wp:comment_id>1<", "<wp:comment_id>2<"
    )
    file = tmp_path / "two.xml"
    file.write_text(one.replace("</item>", "</item>" + other, 1))
    data = tmp_path / "var"
    out = run("import", "--data-dir", str(data), str(file))
    assert "2 thread(s) created, 0 already present; 2 comment(s) added" in out
    got = data_rows(
        data, "SELECT t.key, c.source_ref FROM comments c JOIN threads t ON t.id = c.thread_id"
    )
    assert sorted(got) == [("page", "1"), ("page-7", "2")]
    assert "0 comment(s) added, 2 already present" in run(
        "import", "--data-dir", str(data), "--again", str(file)
    )


@pytest.mark.parametrize("fmt", ["disqus", "remark42"])
def test_html_nested_too_deep_or_too_long_is_kept_as_it_came(tmp_path: Path, fmt: str) -> None:
    """markdownify ran out of recursion on HTML nested a few hundred deep (a traceback,
    after earlier batches were stored), and took minutes on a few megabytes."""
    deep = "<b>" * 2000 + "deep" + "</b>" * 2000
    long = "<p><b>x</b> &amp; y</p>\n" * 2500  # 60,000 characters: 0.6 s converted
    if fmt == "disqus":  # in XML, the HTML is escaped text
        bodies = [escape(deep), escape(long)]
    else:
        bodies = [deep, long]
    posts = [{"id": "1", "body": bodies[0]}, {"id": "2", "body": bodies[1]}]
    file = WRITERS[fmt](tmp_path / f"export.{fmt}", posts)
    data = tmp_path / "var"
    assert "2 comment(s) added" in run("import", "--data-dir", str(data), str(file))
    assert data_rows(data, "SELECT body FROM comments ORDER BY source_ref") == [
        (deep,),
        (long.strip(),) if fmt == "disqus" else (long,),
    ]


def test_empty_comments_and_pingbacks_are_counted_not_dropped_silently(tmp_path: Path) -> None:
    """WordPress's empty comments and pingbacks vanished without a word (a post with
    nothing else vanished whole); mailbridge JSON stored an empty comment."""
    base = wxr(tmp_path / "one.xml", ["1", "2", "3"]).read_text()
    base = base.replace("<wp:comment_content>Text 0<", "<wp:comment_content> <", 1)
    base = base.replace(
        "<wp:comment_id>2<", "<wp:comment_type>pingback</wp:comment_type><wp:comment_id>2<"
    )
    item = base[base.index("<item>") : base.index("</item>") + len("</item>")]
    only_empty = (
        item[: item.index("<wp:comment>")]
        + item[item.index("<wp:comment>") :].split("</wp:comment>")[0]
        + "</wp:comment></item>"
    )
    only_empty = (
        only_empty.replace("<wp:post_id>1<", "<wp:post_id>2<")
        .replace(">page<", ">other<")
        .replace("<wp:comment_id>1<", "<wp:comment_id>9<")
    )
    file = tmp_path / "export.xml"
    file.write_text(base.replace("</item>", "</item>" + only_empty, 1))
    data = tmp_path / "var"
    out = run("import", "--data-dir", str(data), str(file))
    assert "1 thread(s) created, 0 already present; 1 comment(s) added" in out
    assert "Not imported: 1 a pingback or trackback; 2 empty message." in out
    assert data_rows(data, "SELECT key FROM threads") == [("page",)]
    json_file = native(tmp_path / "export.json", ["1", "2"])
    json_file.write_text(json_file.read_text().replace('"Text 0"', '"  "'))
    out = run("import", "--data-dir", str(tmp_path / "var2"), str(json_file))
    assert "1 comment(s) added" in out and "Not imported: 1 empty message." in out


@pytest.mark.parametrize("cut", ["truncated", "page"])
def test_a_damaged_isso_database_is_said_to_be_damaged(tmp_path: Path, cut: str) -> None:
    """A truncated Isso file was "an SQLite database, but not Isso's"."""
    posts = [{"id": str(n), "date": 1577872800.0, "body": "text " * 200} for n in range(1, 200)]
    whole = isso(tmp_path / "whole.db", posts).read_bytes()
    damaged = bytearray(whole[: len(whole) // 2] if cut == "truncated" else whole)
    if cut == "page":  # a page near the end overwritten
        page = len(whole) // 4096 - 3
        damaged[page * 4096 : (page + 1) * 4096] = b"\xff" * 4096
    file = tmp_path / "comments.db"
    file.write_bytes(bytes(damaged))
    data = tmp_path / "var"
    out = run("import", "--data-dir", str(data), str(file), ok=False)
    assert out.startswith(f"Error: {file}: a damaged SQLite database: ") and out.count("\n") == 1
    assert data_rows(data, "SELECT count(*) FROM comments") == [(0,)]


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (" https://blog.example.org/a/ ", "https://blog.example.org/a/"),
        ("HTTP://blog.example.org/", "HTTP://blog.example.org/"),
        ("javascript:alert(1)", ""),
        ("https://blog.example.org/\r\nBcc: x@example.org", ""),  # was kept whole
        ("https://blog.example.org/a b", ""),
        ("https://blog.example.org/\x00", ""),
    ],
)
def test_only_a_plain_http_link_is_kept(url: str, kept: str) -> None:
    assert safe_url(url) == kept


def test_a_wordpress_export_with_a_long_prologue_is_still_one(tmp_path: Path) -> None:
    """The root element is looked for past the first 4 KB before a file is refused."""
    text = wxr(tmp_path / "one.xml", ["1"]).read_text()
    file = tmp_path / "long.xml"
    file.write_text(text.replace("\n", "\n<!-- " + "x" * 8000 + " -->\n", 1))
    assert "1 comment(s) added" in run("import", "--data-dir", str(tmp_path / "var"), str(file))


def test_a_wordpress_slug_that_cannot_be_a_key_gives_way_to_the_post_id(tmp_path: Path) -> None:
    """A hand-edited export's "a b/c" became a thread key, and so part of its links."""
    file = wxr(tmp_path / "one.xml", ["1"])
    file.write_text(file.read_text().replace(">page<", ">a b/c\n<"))
    data = tmp_path / "var"
    run("import", "--data-dir", str(data), str(file))
    assert data_rows(data, "SELECT key FROM threads") == [("1",)]
