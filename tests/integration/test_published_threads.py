"""Published threads read fast and safely (issue 9): sanitised HTML in the API and pages,
ETag/Last-Modified/Cache-Control with 304s, gzip, paging of big threads, and the same
formatting in the HTML part of emails. Real daemon, real HTTP client, real SQLite."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from flows import approve, moderation_email, notification_for, post_comment
from multidict import CIMultiDict
from support import BIG, THREAD, big_thread, import_seed

from mailbridge.app import Running
from mailbridge.settings import Settings
from mailbridge.store import published as published_rows


def url(daemon: Running, path: str) -> str:
    host, port = daemon.http_address
    return f"http://{host}:{port}{path}"


async def get(
    daemon: Running, path: str, headers: dict[str, str] | None = None
) -> tuple[int, CIMultiDict[str], bytes]:
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(
            url(daemon, path), headers={"Accept-Encoding": "identity", **(headers or {})}
        ) as resp,
    ):
        return resp.status, CIMultiDict(resp.headers), await resp.read()


@pytest.mark.asyncio
async def test_thread_json_carries_etag_last_modified_and_cache_control(daemon: Running) -> None:
    status, headers, body = await get(daemon, f"/api/threads/{THREAD}/comments")
    assert status == 200
    etag = headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "Last-Modified" in headers and headers["Last-Modified"].endswith("GMT")
    assert headers["Cache-Control"] == "public, max-age=30, stale-while-revalidate=300"
    document = json.loads(body)
    assert document["total"] == 243 and document["next"] is None
    assert b"@example.org" not in body  # no address anywhere in the bytes
    # Revalidation is a 304 with no body, by ETag and by date.
    status, again, body = await get(
        daemon, f"/api/threads/{THREAD}/comments", {"If-None-Match": etag}
    )
    assert (status, body, again["ETag"]) == (304, b"", etag)
    status, _, _ = await get(
        daemon,
        f"/api/threads/{THREAD}/comments",
        {"If-Modified-Since": headers["Last-Modified"]},
    )
    assert status == 304


@pytest.mark.asyncio
async def test_a_pending_comment_never_shows_nor_changes_the_etag_approval_does(
    daemon: Running,
) -> None:
    _, before, _ = await get(daemon, f"/api/threads/{THREAD}/comments")
    await post_comment(daemon, parent=2, body="Some *emphasis* and <b>markup</b>.")
    moderation = await moderation_email(daemon, "Ann")
    _, pending_headers, body = await get(daemon, f"/api/threads/{THREAD}/comments")
    assert b"emphasis" not in body
    # What readers see did not change: the cached answer, its ETag and 304s stay valid.
    assert pending_headers["ETag"] == before["ETag"]
    status, _, _ = await get(
        daemon, f"/api/threads/{THREAD}/comments", {"If-None-Match": before["ETag"]}
    )
    assert status == 304
    await approve(daemon, moderation)
    status, after, body = await get(
        daemon, f"/api/threads/{THREAD}/comments", {"If-None-Match": before["ETag"]}
    )
    assert status == 200 and after["ETag"] not in (before["ETag"], pending_headers["ETag"])
    document = json.loads(body)
    assert document["total"] == 244
    [mine] = [c for c in _walk(document["comments"]) if "emphasis" in c["body"]]
    assert mine["html"] == "<p>Some <em>emphasis</em> and &lt;b&gt;markup&lt;/b&gt;.</p>\n"
    # The page shows the same rendering, and revalidates too.
    status, page_headers, page = await get(daemon, f"/threads/{THREAD}")
    assert status == 200 and "<em>emphasis</em> and &lt;b&gt;markup&lt;/b&gt;" in page.decode()
    status, _, _ = await get(daemon, f"/threads/{THREAD}", {"If-None-Match": page_headers["ETag"]})
    assert status == 304
    # The notification's HTML part has the formatting; its text part the writer's text.
    note = await notification_for(daemon, "reader002.4a549d@example.org", 2)
    raw = note.as_bytes()
    assert b"<em>emphasis</em>" in raw.replace(b"=\n", b"")
    assert b"Some *emphasis* and <b>markup</b>." in raw.replace(b"=\n", b"")


def _walk(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for node in nodes:
        found.append(node)
        found.extend(_walk(node["replies"]))
    return found


@pytest.mark.asyncio
async def test_answers_are_gzipped_when_the_client_accepts_it(daemon: Running) -> None:
    status, headers, body = await get(
        daemon, f"/api/threads/{THREAD}/comments", {"Accept-Encoding": "gzip"}
    )
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert body[:2] == b"\x1f\x8b"
    # Gzipped once per version and kept: the next reader gets the very same bytes,
    # and they are the identity answer's, compressed.
    _s, again_headers, again = await get(
        daemon, f"/api/threads/{THREAD}/comments", {"Accept-Encoding": "gzip, deflate, br"}
    )
    assert again == body and again_headers["ETag"] == headers["ETag"]
    _s, plain_headers, plain = await get(daemon, f"/api/threads/{THREAD}/comments")
    assert "Content-Encoding" not in plain_headers and gzip.decompress(body) == plain
    assert plain_headers["Vary"] == headers["Vary"] == "Accept-Encoding"
    for refusing in ("gzip;q=0", "deflate", "x-gzip; q=0.0, identity"):
        _s, other, raw = await get(
            daemon, f"/api/threads/{THREAD}/comments", {"Accept-Encoding": refusing}
        )
        assert "Content-Encoding" not in other and raw == plain, refusing


@pytest.mark.asyncio
async def test_the_thread_page_is_rendered_once_per_version(
    daemon: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = []  # each making of a page counts the thread's published comments once
    real_count = published_rows.published_count

    async def counted(conn: Any, thread_id: int) -> int:
        reads.append(thread_id)
        return await real_count(conn, thread_id)

    monkeypatch.setattr(published_rows, "published_count", counted)
    page = f"/threads/{THREAD}"
    status, headers, first = await get(daemon, page)
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Content-Encoding" not in headers
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    _s, zipped_headers, zipped = await get(daemon, page, {"Accept-Encoding": "gzip"})
    assert zipped_headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped) == first
    _s, _h, again = await get(daemon, page)
    assert again == first and len(reads) == 1  # rendered once, gzipped once, kept
    # A pending comment changes nothing readers see: the same page, not rendered again.
    await post_comment(daemon, parent=2, body="A pending *thought*.")
    moderation = await moderation_email(daemon, "Ann")
    _s, pending_headers, pending = await get(daemon, page)
    assert pending == first and pending_headers["ETag"] == headers["ETag"] and len(reads) == 1
    await approve(daemon, moderation)
    _s, after_headers, after = await get(daemon, page)
    assert after_headers["ETag"] != headers["ETag"] and len(reads) == 2
    assert b"A pending <em>thought</em>." in after and b"A pending" not in first


@pytest.mark.asyncio
async def test_big_threads_are_paged_by_top_level_comment(
    daemon: Running, settings: Settings, tmp_path: Path
) -> None:
    await import_seed(settings, big_thread(tmp_path))
    status, _, body = await get(daemon, f"/api/threads/{BIG}/comments")
    first = json.loads(body)
    assert status == 200 and first["total"] == 1_200
    assert len(first["comments"]) == 50
    assert all(len(c["replies"]) == 3 for c in first["comments"])  # whole conversations
    seen = [c["id"] for c in first["comments"]]
    link = first["next"]
    for _ in range(10):  # bounded: 300 top-level comments are 6 pages
        if link is None:
            break
        status, _, body = await get(daemon, link)
        page = json.loads(body)
        seen += [c["id"] for c in page["comments"]]
        link = page["next"]
    assert len(seen) == 300 and len(set(seen)) == 300
    status, _, body = await get(daemon, f"/api/threads/{BIG}/comments?limit=7")
    assert len(json.loads(body)["comments"]) == 7
    # The small thread stays one page.
    status, _, body = await get(daemon, f"/api/threads/{THREAD}/comments")
    assert json.loads(body)["next"] is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "limit=abc", "after=-1", "after=999999", "limit=1e3"]
)
async def test_bad_paging_is_a_400_with_a_reason(daemon: Running, query: str) -> None:
    status, headers, body = await get(daemon, f"/api/threads/{THREAD}/comments?{query}")
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"]


@pytest.mark.asyncio
async def test_a_big_threads_page_is_paged_for_readers_without_scripts(
    daemon: Running, settings: Settings, tmp_path: Path
) -> None:
    """Every reader downloads the page's <noscript> comments: a big thread's page held
    them all. Now it holds the API's first page, with links through the rest."""

    await import_seed(settings, big_thread(tmp_path))
    _s, _h, whole = await get(daemon, f"/api/threads/{BIG}/comments?limit=500")
    comment = re.compile(rb'<article class="comment" id="comment-(\d+)"')
    link = re.compile(rb'<a href="([^"]+)" rel="(prev|next)">')
    seen: list[int] = []
    path: str | None = f"/threads/{BIG}"
    pages: list[tuple[str, dict[str, str], bytes]] = []
    for _ in range(10):  # bounded: 300 top-level comments are 6 pages of 50
        if path is None:
            break
        status, _headers, body = await get(daemon, path)
        assert status == 200 and b"1200 comments" in body
        ids = [int(i) for i in comment.findall(body)]
        assert len(ids) == 50 * 4  # 50 conversations, each with its 3 replies
        seen += ids
        links = {r.decode(): href.decode().replace("&amp;", "&") for href, r in link.findall(body)}
        pages.append((path, links, body))
        path = links.get("next")

    def ids_of(nodes: list[dict[str, Any]]) -> list[int]:
        return [i for c in nodes for i in (c["id"], *ids_of(c["replies"]))]

    assert len(pages) == 6 and seen == ids_of(json.loads(whole)["comments"])
    assert len(set(seen)) == 1_200
    assert "prev" not in pages[0][1] and "next" not in pages[-1][1]
    # Each "Earlier comments" leads to the page before it, the first without a query.
    for (before, _links, _body), (_path, links, _b) in itertools.pairwise(pages):
        assert links["prev"] == before
    assert pages[1][1]["prev"] == f"/threads/{BIG}"
    # The first page is a sixth of the thread, not all of it (its HTML, with each
    # comment's markup and dir="auto", is heavier per comment than the JSON).
    assert len(pages[0][2]) < len(whole) / 2
    # Each page has its own ETag, revalidated like the JSON's.
    _s, first_headers, _b = await get(daemon, pages[0][0])
    _s, second_headers, _b = await get(daemon, pages[1][0])
    assert first_headers["ETag"] != second_headers["ETag"]
    status, _h, _b = await get(daemon, pages[1][0], {"If-None-Match": second_headers["ETag"]})
    assert status == 304
    # A small thread stays one page, without links.
    _s, _h, small = await get(daemon, f"/threads/{THREAD}")
    assert len(comment.findall(small)) == 243 and not link.findall(small)


@pytest.mark.asyncio
@pytest.mark.parametrize("query", ["limit=0", "limit=501", "after=abc", "after=999999"])
async def test_bad_paging_of_a_page_is_a_400_page(daemon: Running, query: str) -> None:
    status, headers, body = await get(daemon, f"/threads/{THREAD}?{query}")
    assert status == 400 and headers["Content-Type"].startswith("text/html")
    assert b"limit" in body or b"after" in body


@pytest.mark.asyncio
async def test_through_reaches_the_conversation_holding_a_comment(
    daemon: Running, settings: Settings, tmp_path: Path
) -> None:
    await import_seed(settings, big_thread(tmp_path))
    _s, _h, body = await get(daemon, f"/api/threads/{BIG}/comments?limit=500")
    conversations = json.loads(body)["comments"]
    reply = conversations[119]["replies"][1]["id"]  # a reply in the 120th conversation
    status, headers, body = await get(daemon, f"/api/threads/{BIG}/comments?through={reply}")
    page = json.loads(body)
    assert status == 200 and [c["id"] for c in page["comments"]] == [
        c["id"] for c in conversations[:120]
    ]
    # Asked for without a limit: its next page too (bounded in comments, docs/api.md).
    assert page["next"] == f"/api/threads/{BIG}/comments?after={conversations[119]['id']}"
    status, _h, _b = await get(
        daemon, f"/api/threads/{BIG}/comments?through={reply}", {"If-None-Match": headers["ETag"]}
    )
    assert status == 304
    # From a later page on; and a comment on the page anyway changes nothing.
    after = conversations[49]["id"]
    _s, _h, body = await get(
        daemon, f"/api/threads/{BIG}/comments?limit=50&after={after}&through={reply}"
    )
    assert [c["id"] for c in json.loads(body)["comments"]] == [
        c["id"] for c in conversations[50:120]
    ]
    early = conversations[3]["id"]
    _s, _h, body = await get(daemon, f"/api/threads/{BIG}/comments?through={early}")
    assert len(json.loads(body)["comments"]) == 50
    # Not a published comment of this thread: a 400 saying so, as for after.
    pending = await post_comment(
        daemon, BIG, parent=conversations[0]["id"], body="Pending, so not linkable."
    )
    for wrong in (999_999, 1, pending):  # 1 is a comment of the sample thread
        status, _h, body = await get(daemon, f"/api/threads/{BIG}/comments?through={wrong}")
        assert status == 400 and "through" in json.loads(body)["error"]
