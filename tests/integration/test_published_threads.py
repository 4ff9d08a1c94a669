"""Published threads read fast and safely (issue 9): sanitised HTML in the API and pages,
ETag/Last-Modified/Cache-Control with 304s, gzip, paging of big threads, and the same
formatting in the HTML part of emails. Real daemon, real HTTP client, real SQLite."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from flows import approve, moderation_email, notification_for, post_comment
from multidict import CIMultiDict
from support import THREAD, import_seed

from mailbridge.app import Running
from mailbridge.settings import Settings

BIG = "big-thread"


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
    reads = []
    read_tree = daemon.service.published_tree

    async def counted(key: str) -> Any:
        reads.append(key)
        return await read_tree(key)

    monkeypatch.setattr(daemon.service, "published_tree", counted)
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


def big_thread(path: Path, top: int = 300, replies: int = 3) -> Path:
    comments = []
    next_id = 1
    for t in range(top):
        parent = next_id
        comments.append(
            {
                "id": parent,
                "parent": None,
                "author": f"Reader {t}",
                "email": f"r{t}@example.org",
                "created": f"2020-01-01T00:{t // 60:02d}:{t % 60:02d}+00:00",
                "body": f"Top {t}",
            }
        )
        next_id += 1
        for r in range(replies):
            comments.append(
                {
                    "id": next_id,
                    "parent": parent,
                    "author": f"Replier {r}",
                    "email": f"x{t}.{r}@example.org",
                    "created": f"2020-01-02T00:{t // 60:02d}:{t % 60:02d}+00:00",
                    "body": f"Reply {r} to {t}",
                }
            )
            next_id += 1
    document = {
        "post": {
            "key": BIG,
            "title": "A big thread",
            "author": "Author",
            "email": "author@example.org",
            "url": "https://blog.example.org/big/",
            "published": "2020-01-01T00:00:00+00:00",
            "body": "...",
        },
        "comments": [{**c, "depth": 0} for c in comments],
    }
    file = path / "big.json"
    file.write_text(json.dumps(document))
    return file


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
