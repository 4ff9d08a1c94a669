"""Importing a Disqus export (issue 12): Isso's own test fixture, a file out of order
with deleted and spam posts, the same file twice, hostile XML, and a reader whose
memory does not grow with the file."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import command_env, data_rows

from mailbridge.cli import cli
from mailbridge.errors import ImportFormatError
from mailbridge.importer.disqus import read_posts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
HEAD = (
    '<?xml version="1.0"?>\n<disqus xmlns="http://disqus.com" '
    'xmlns:dsq="http://disqus.com/disqus-internals">\n'
)


def post(n: int, thread: str = "1", parent: int | None = None, **flags: str) -> str:
    extra = "".join(f"<{k}>{v}</{k}>" for k, v in flags.items())
    reply = f'<parent dsq:id="{parent}"/>' if parent is not None else ""
    return (
        f'<post dsq:id="{n}"><message><![CDATA[<p>Post <b>{n}</b></p>]]></message>'
        f"<createdAt>2020-01-0{1 + n % 9}T10:00:00Z</createdAt>{extra}"
        f"<author><name>Writer {n}</name><email>w{n}@example.org</email></author>"
        f'<thread dsq:id="{thread}"/>{reply}</post>\n'
    )


def thread(dsq_id: str = "1", link: str = "https://blog.example.org/2020/hello-world/") -> str:
    return (
        f'<thread dsq:id="{dsq_id}"><id></id><link>{link}</link><title>Hello</title>'
        "<isClosed>false</isClosed></thread>\n"
    )


def run(*args: str) -> str:
    env = command_env(list(args), {"MAILBRIDGE_SITE_NAME": "Blog"})
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def rows(data: Path, sql: str) -> list[tuple[object, ...]]:
    return data_rows(data, sql)  # on the suite's engine


def test_isso_fixture_imports_and_says_what_it_skipped(tmp_path: Path) -> None:
    data = tmp_path / "var"
    fixture = str(FIXTURES / "disqus-isso.xml")
    first = run("import", "--data-dir", str(data), fixture)
    assert "(disqus): 1 thread(s) created" in first and "2 comment(s) added" in first
    assert "Not imported: 1 its thread is not in the file." in first
    again = run("import", "--data-dir", str(data), "--again", fixture)
    assert "0 comment(s) added, 2 already present" in again
    got = rows(data, "SELECT c.source_ref, p.source_ref, c.body, c.author FROM comments c "
                     "LEFT JOIN comments p ON p.id = c.parent_id ORDER BY c.id")  # fmt: skip
    assert got == [("disqus:4", None, "...", "peter"),
                   ("disqus:5", "disqus:4", "Hello, World.", "user")]  # fmt: skip
    assert rows(data, "SELECT key, title, url FROM threads") == [
        ("some-id", "Hello, World!", "http://example.org/")
    ]


def test_out_of_order_deleted_spam_and_waiting_posts(tmp_path: Path) -> None:
    export = tmp_path / "disqus.xml"
    export.write_text(
        HEAD + thread() + post(11, parent=10) + post(10) + post(12, isDeleted="true")
        + post(13, parent=12) + post(14, isSpam="true") + post(15, thread="99")
        + post(16, parent=13) + post(17, isApproved="false") + "</disqus>\n"
    )  # fmt: skip
    data = tmp_path / "var"
    out = run("import", "--data-dir", str(data), str(export))
    assert "7 comment(s) added" in out
    assert "Not imported: 1 its thread is not in the file." in out
    got = dict(
        (str(ref), (parent, status))
        for ref, parent, status in rows(
            data,
            "SELECT c.source_ref, p.source_ref, c.status FROM comments c "
            "LEFT JOIN comments p ON p.id = c.parent_id",
        )
    )
    assert got == {
        "disqus:10": (None, "approved"),
        "disqus:11": ("disqus:10", "approved"),  # its parent came later
        # Deleted by a moderator there: kept, off the page (rejected), and its
        # replies stay its replies.
        "disqus:12": (None, "rejected"),
        "disqus:13": ("disqus:12", "approved"),
        "disqus:16": ("disqus:13", "approved"),
        "disqus:14": (None, "spam"),
        "disqus:17": (None, "pending"),  # waiting for a moderator there
    }
    assert rows(data, "SELECT body FROM comments WHERE source_ref = 'disqus:10'") == [
        ("Post **10**",)
    ]
    assert rows(data, "SELECT key FROM threads") == [("hello-world",)]


def test_hostile_xml_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE disqus [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        '<disqus xmlns="http://disqus.com"><thread><title>&b;</title></thread></disqus>\n'
    )
    with pytest.raises(ImportFormatError, match="unsafe XML"):
        list(read_posts(bomb))
    args = ["import", "--data-dir", str(tmp_path / "v"), str(bomb)]
    result = CliRunner().invoke(cli, args, env=command_env(args))
    assert result.exit_code == 1 and "refused unsafe XML" in result.output


def test_reading_does_not_hold_the_file_in_memory(tmp_path: Path) -> None:
    def peak(posts: int) -> int:
        export = tmp_path / f"big{posts}.xml"
        with export.open("w") as fh:
            fh.write(HEAD + thread())
            for n in range(posts):
                fh.write(post(n, parent=n - 1 if n % 3 else None))
            fh.write("</disqus>\n")
        tracemalloc.start()
        try:
            count = sum(1 for _ in read_posts(export))
            return tracemalloc.get_traced_memory()[1] if count == posts else -1
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(10_000)
    assert small > 0 and large > 0
    assert large < 2 * small  # ten times the posts, not ten times the memory


def test_a_commento_export_is_imported_streaming(tmp_path: Path) -> None:
    """Remark42's Commento fixture: an anonymous comment, a named one, a reply."""
    data = tmp_path / "var"
    fixture = str(FIXTURES / "commento-remark42.json")
    first = run("import", "--data-dir", str(data), fixture)
    assert "(commento): 1 thread(s) created" in first and "3 comment(s) added" in first
    assert "0 comment(s) added, 3 already present" in run(
        "import", "--data-dir", str(data), "--again", fixture
    )
    got = rows(
        data,
        "SELECT c.author, c.body, p.body, a.email FROM comments c "
        "LEFT JOIN comments p ON p.id = c.parent_id "
        "LEFT JOIN addresses a ON a.id = c.address_id ORDER BY c.id",
    )
    assert got == [
        ("Anonymous", "Example comment created by user.", None, None),
        ("User5276", "Example 2 comment created by user.", None, "somegreatmail@gmail.com"),
        ("Saturnin Uf", "Great reply!", "Example 2 comment created by user.",
         "moregreatmail@gmail.com"),
    ]  # fmt: skip
    assert rows(data, "SELECT key, url FROM threads") == [("1", "https://example.com/blog/post/1")]
    # mailbridge's own JSON is still read as such.
    seed = Path(__file__).resolve().parents[2] / "examples" / "thread.json"
    assert "(json)" in run("import", "--data-dir", str(tmp_path / "v2"), str(seed))
