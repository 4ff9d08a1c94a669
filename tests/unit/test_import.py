from __future__ import annotations

import json
from pathlib import Path

import aiosqlite
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import SEED_JSON, SEED_WXR, THREAD

from mailbridge.clock import SystemClock
from mailbridge.errors import ImportFormatError
from mailbridge.importer import detect_format, import_file
from mailbridge.importer.load import parents_first
from mailbridge.importer.records import _UNWANTED, ImportedComment, clean_text
from mailbridge.models import CommentStatus
from mailbridge.store import Store
from mailbridge.store.comments import approved_tree


async def rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    async def work(conn: aiosqlite.Connection) -> list[tuple[object, ...]]:
        async with conn.execute(sql) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    return await store.read(work)


@pytest.mark.asyncio
@pytest.mark.parametrize("source", [SEED_WXR, SEED_JSON], ids=["wxr", "json"])
async def test_seed_imports_whole_thread(tmp_path: Path, source: Path) -> None:
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        report = await import_file(store, source, SystemClock())
        assert (report.threads_created, report.comments_added) == (1, 243)
        [(key, title, url)] = await rows(store, "SELECT key, title, url FROM threads")
        assert key == THREAD
        assert title == "Attachment Theory and the Healing Psychotherapy Relationship"
        assert url.startswith("https://blog.example.org/")
        assert await rows(store, "SELECT DISTINCT status FROM comments") == [("approved",)]
        # The post author becomes the thread's moderator; commenters' addresses are kept.
        assert await rows(
            store,
            "SELECT a.email FROM threads t JOIN addresses a ON a.id = t.author_address_id",
        ) == [("author@example.org",)]
        assert await rows(store, "SELECT count(*) FROM comments WHERE address_id IS NULL") == [(0,)]
        tree = await store.read(lambda c: approved_tree(c, 1))
        depth = 0
        level = tree
        while level:
            depth += 1
            level = [reply for node in level for reply in node.replies]
        assert depth == 6  # replies five levels below the top
        assert len(tree) == 111
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_reimport_adds_nothing_twice_across_formats(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await import_file(store, SEED_WXR, SystemClock())
        again = await import_file(store, SEED_WXR, SystemClock(), again=True)
        assert (again.threads_created, again.comments_added, again.comments_existing) == (
            0,
            0,
            243,
        )
        assert again.unchanged_since is None
        other = await import_file(store, SEED_JSON, SystemClock())
        assert other.comments_added == 0
        assert await rows(store, "SELECT count(*) FROM comments") == [(243,)]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_the_same_file_again_is_known_by_its_bytes_and_not_read(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await import_file(store, SEED_WXR, SystemClock())
        seen: list[int] = []
        known = await import_file(
            store, SEED_WXR, SystemClock(), on_total=seen.append, progress=seen.append
        )
        assert seen == []  # neither counted nor read
        assert known.unchanged_since is not None and known.unchanged_since.startswith("20")
        assert (known.threads_existing, known.comments_existing, known.comments_added) == (
            1,
            243,
            0,
        )
        changed = tmp_path / "export.xml"  # one byte more: another file, read again
        changed.write_bytes(SEED_WXR.read_bytes() + b"\n")
        read = await import_file(store, changed, SystemClock(), progress=seen.append)
        assert read.unchanged_since is None and read.comments_existing == 243
        assert sum(seen) == 243
        assert await rows(store, "SELECT count(*) FROM import_files") == [(2,)]
    finally:
        await store.close()


class Interrupted(Exception):
    pass


@pytest.mark.asyncio
async def test_an_interrupted_import_is_not_taken_for_a_finished_one(tmp_path: Path) -> None:
    def interrupt(n: int) -> None:
        raise Interrupted

    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        with pytest.raises(Interrupted):
            await import_file(store, SEED_WXR, SystemClock(), progress=interrupt)
        assert await rows(store, "SELECT count(*) FROM import_files") == [(0,)]
        again = await import_file(store, SEED_WXR, SystemClock())
        assert again.unchanged_since is None
        assert again.comments_added + again.comments_existing == 243
        assert await rows(store, "SELECT count(*) FROM comments") == [(243,)]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_wxr_statuses_types_and_unsafe_urls(tmp_path: Path) -> None:
    wxr = tmp_path / "export.xml"
    wxr.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>B</title>
<wp:author><wp:author_login>me</wp:author_login><wp:author_email>me@blog.example</wp:author_email>
<wp:author_display_name>Me</wp:author_display_name></wp:author>
<item><title>Post &amp; “quotes”</title><link>javascript:alert(1)</link>
<dc:creator>me</dc:creator><wp:post_name>p1</wp:post_name><wp:post_type>post</wp:post_type>
"""
        + "".join(
            f"""<wp:comment><wp:comment_id>{cid}</wp:comment_id>
<wp:comment_author>A{cid}</wp:comment_author><wp:comment_author_email>a{cid}@x.example</wp:comment_author_email>
<wp:comment_date_gmt>2020-01-0{cid} 10:00:00</wp:comment_date_gmt>
<wp:comment_content><![CDATA[Body {cid} <script>x</script> 😀]]></wp:comment_content>
<wp:comment_approved>{approved}</wp:comment_approved><wp:comment_type>{ctype}</wp:comment_type>
<wp:comment_parent>{parent}</wp:comment_parent></wp:comment>"""
            for cid, approved, ctype, parent in [
                (5, "1", "comment", 0),
                (3, "0", "", 5),  # reply listed before a later-id parent would be fine too
                (4, "spam", "comment", 0),
                (6, "trash", "comment", 0),
                (7, "1", "pingback", 0),
            ]
        )
        + "</item></channel></rss>"
    )
    assert detect_format(wxr) == "wxr"
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        report = await import_file(store, wxr, SystemClock())
        assert report.comments_added == 4  # the pingback is not a comment
        assert await rows(store, "SELECT url, title FROM threads") == [("", "Post & “quotes”")]
        got = await rows(
            store, "SELECT source_ref, status, parent_id IS NOT NULL, body FROM comments ORDER BY 1"
        )
        assert got == [
            ("3", "pending", 1, "Body 3 <script>x</script> 😀"),
            ("4", "spam", 0, "Body 4 <script>x</script> 😀"),
            ("5", "approved", 0, "Body 5 <script>x</script> 😀"),
            ("6", "rejected", 0, "Body 6 <script>x</script> 😀"),
        ]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_xml_entity_bombs_are_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><item>'
        "<title>&b;</title></item></channel></rss>"
    )
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        with pytest.raises(ImportFormatError, match="unsafe XML"):
            await import_file(store, bomb, SystemClock())
    finally:
        await store.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("hello", "not a WordPress export"),
        ("{not json", "not valid JSON"),
        ('{"post": {"key": "k", "title": "t"}, "comments": [{"id": 1}]}', "'author'"),
        (
            '{"post": {"key": "k", "title": "t"}, "comments": [{"id": 1, "author": "a",'
            ' "body": "b", "created": "yesterday"}]}',
            "ISO 8601",
        ),
        ('{"post": {"key": "", "title": "t"}, "comments": []}', "'key' must be one word"),
        ('{"threads": 5}', "'threads' must be a list"),  # was: 0 threads imported, exit 0
        ('{"threads": {"post": {}}}', "'threads' must be a list"),
        ('{"post": {"key": "a b", "title": "t"}, "comments": []}', "'key' must be one word"),
        ('{"post": {"key": "../x", "title": "t"}, "comments": []}', "'key' must be one word"),
        (  # once in UTC, before year 1: an OverflowError's traceback
            '{"post": {"key": "k", "title": "t"}, "comments": [{"id": 1, "author": "a",'
            ' "body": "b", "created": "0001-01-01T00:00:00+14:00"}]}',
            "ISO 8601 date from 1970 on",
        ),
        ("<html><body>no</body></html>", "not a WordPress export"),
    ],
)
async def test_bad_files_are_explained(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "in.dat"
    path.write_text(content)
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        with pytest.raises(ImportFormatError, match=message):
            await import_file(store, path, SystemClock())
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_json_status_and_no_notify(tmp_path: Path) -> None:
    data = {
        "post": {"key": "k", "title": "T", "email": "owner@example.org"},
        "comments": [
            {
                "id": 2,
                "parent": 1,
                "author": "B",
                "email": "b@example.org",
                "body": "reply",
                "created": "2024-05-01T10:00:00+02:00",
            },
            {
                "id": 1,
                "author": "A",
                "email": "a@example.org",
                "body": "root",
                "created": "2024-05-01T09:00:00Z",
                "status": "pending",
            },
        ],
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await import_file(store, path, SystemClock(), notify=False)
        got = await rows(
            store,
            "SELECT source_ref, parent_id, status, notify, created_at FROM comments ORDER BY id",
        )
        assert got == [
            ("1", None, "pending", 0, "2024-05-01T09:00:00+00:00"),
            ("2", 1, "approved", 0, "2024-05-01T08:00:00+00:00"),
        ]
    finally:
        await store.close()


def _c(cid: str, parent: str | None) -> ImportedComment:
    return ImportedComment(cid, parent, "a", None, "b", "2020", CommentStatus.APPROVED)


def test_parents_first_handles_order_orphans_and_cycles() -> None:
    items = [_c("3", "2"), _c("2", "1"), _c("1", None), _c("9", "404"), _c("7", "8"), _c("8", "7")]
    order = [c.source_id for c in parents_first(items)]
    assert order.index("1") < order.index("2") < order.index("3")
    assert sorted(order) == sorted(c.source_id for c in items)


@pytest.mark.asyncio
@pytest.mark.parametrize("notify", [True, False])
async def test_imported_commenters_are_confirmed_unless_no_notify(
    tmp_path: Path, notify: bool
) -> None:
    # docs/subscriptions.md: the blog owner vouches for the addresses they import.
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await import_file(store, SEED_JSON, SystemClock(), notify=notify)
        confirmed = await rows(
            store,
            "SELECT count(*) FROM addresses WHERE confirmed_at IS NOT NULL "
            "AND email != 'author@example.org'",
        )
        subscribed = await rows(store, "SELECT DISTINCT level, source FROM subscriptions")
        [(commenters,)] = await rows(
            store, "SELECT count(*) FROM addresses WHERE email != 'author@example.org'"
        )
        assert commenters > 100
        if notify:
            assert confirmed == [(commenters,)]
            assert subscribed == [("replies", "import")]
        else:
            assert confirmed == [(0,)] and subscribed == []
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_an_import_changes_the_threads_version_and_queues_bridged_comments(
    tmp_path: Path,
) -> None:
    # Imported rows skip the per-row insert triggers (migration 0018); the importer
    # does their work once per batch. Their effects must be the same.
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        await import_file(store, SEED_JSON, SystemClock())
        [(version,)] = await rows(store, "SELECT version FROM threads")
        await store.write(lambda c: c.execute("INSERT INTO wp_posts VALUES (77, 1)"))
        seed = json.loads(SEED_JSON.read_text())
        more = {
            "post": seed["post"],
            "comments": [
                {**seed["comments"][0], "id": 9000 + n, "parent": 1 if n else None,
                 "body": f"Imported later, number {n}."}
                for n in range(3)
            ],
        }  # fmt: skip
        later = tmp_path / "later.json"
        later.write_text(json.dumps(more))
        report = await import_file(store, later, SystemClock())
        assert report.comments_added == 3
        [(after,)] = await rows(store, "SELECT version FROM threads")
        assert isinstance(after, int) and isinstance(version, int) and after > version
        queued = await rows(
            store,
            "SELECT c.body FROM wp_push p JOIN comments c ON c.id = p.comment_id ORDER BY c.id",
        )
        assert queued == [(f"Imported later, number {n}.",) for n in range(3)]
        # Not imported: the trigger still does it, row by row (a published comment:
        # a pending one leaves the version alone, migration 0023).
        await store.write(
            lambda c: c.execute(
                "INSERT INTO comments (thread_id, author, body, status, source, created_at) "
                "VALUES (1, 'Web', 'From the web.', 'approved', 'web', '2026-12-04T00:00:00Z')"
            )
        )
        [(last,)] = await rows(store, "SELECT version FROM threads")
        assert isinstance(last, int) and last == after + 1
        assert len(await rows(store, "SELECT comment_id FROM wp_push")) == 4
    finally:
        await store.close()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, max_codepoint=0x20FF)))
def test_clean_text_drops_what_its_pattern_names_and_nothing_else(text: str) -> None:
    """The quick return for printable texts gives what the regular expression gives."""
    expected = _UNWANTED.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    assert clean_text(text) == expected
    for kept in ("a\tb\nc", "caf\u00e9 \u00a0\u200d", "\U0001f468\u200d\U0001f469"):
        assert clean_text(kept) == kept
    assert clean_text("a\x00b\x1b[31m\u202ec\r\nd\ud800") == "ab[31mc\nd"
