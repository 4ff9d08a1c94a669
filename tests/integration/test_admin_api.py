"""The admin API (issue 11, first part): every route and every error against the real
server, each answer validated against the OpenAPI document the server itself serves
(JSON Schema 2020-12, as OpenAPI 3.1 uses); tokens made with the real CLI."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from flows import post_comment
from jsonschema import Draft202012Validator

from mailbridge.app import Running
from mailbridge.cli import cli


async def mb(*args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def token(daemon: Running, *scopes: str) -> str:
    flags = [f"--scope={s}" for s in scopes]
    made = await mb("token", "create", "--name", "test", *flags,
                    "--data-dir", str(daemon.settings.data_path))  # fmt: skip
    assert made.exit_code == 0, made.output
    found = re.search(r"^(mbt_\S+)$", made.output, re.M)
    assert found
    return found.group(1)


class Api:
    def __init__(self, daemon: Running, session: aiohttp.ClientSession, doc: dict[str, Any]):
        host, port = daemon.http_address
        self.base = f"http://{host}:{port}"
        self.session = session
        self.doc = doc
        self.seen: list[str] = []

    async def call(
        self,
        method: str,
        template: str,
        path: str,
        bearer: str | None,
        expect: int,
        body: object = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        sent = {} if body is None else {"json": body}
        async with self.session.request(method, self.base + path, headers=headers, **sent) as r:
            body = await r.json()
            assert r.status == expect, (path, r.status, body)
            self.seen.append(await r.text())
        answer = self.doc["paths"][template][method.lower()]["responses"][str(expect)]
        schema = answer["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": self.doc["components"]}).validate(body)
        return body


@pytest.mark.asyncio
async def test_every_route_and_error_matches_the_served_document(daemon: Running) -> None:
    full, reader = await token(daemon), await token(daemon, "read")
    revoked = await token(daemon)
    data = ["--data-dir", str(daemon.settings.data_path)]
    listed = await mb("token", "list", *data)
    assert listed.output.count("active") == 3 and "mbt_" not in listed.output  # never shown again
    assert (await mb("token", "revoke", "3", *data)).output.strip() == "Token 3 revoked."
    async with aiohttp.ClientSession() as session:
        host, port = daemon.http_address
        async with session.get(f"http://{host}:{port}/api/admin/openapi.json") as r:
            doc = await r.json()
        Draft202012Validator.check_schema({"components": doc["components"]})
        api = Api(daemon, session, doc)
        comments_t, one_t = "/api/admin/comments", "/api/admin/comments/{id}"
        decide_t = "/api/admin/comments/{id}/{action}"

        # No token, a wrong one, a revoked one: the same 401, nothing says which.
        answers = [
            await api.call("GET", comments_t, "/api/admin/comments", bearer, 401)
            for bearer in (None, "mbt_wrong", revoked, "not-even-a-token")
        ]
        assert all(a == answers[0] for a in answers) and answers[0]["code"] == "unauthorized"

        # Paging through every comment of the seed thread.
        seen_ids: list[int] = []
        path = "/api/admin/comments?limit=100&thread=attachment-theory-healing-relationship"
        while True:
            page = await api.call("GET", comments_t, path, reader, 200)
            seen_ids += [c["id"] for c in page["comments"]]
            if page["next_cursor"] is None:
                break
            path = (
                "/api/admin/comments?limit=100&thread=attachment-theory-healing-relationship"
                f"&cursor={page['next_cursor']}"
            )
        assert len(seen_ids) == len(set(seen_ids)) == 243 and seen_ids == sorted(seen_ids)[::-1]

        new = await post_comment(daemon, parent=2, body="Waiting for the API.")
        pending = await api.call("GET", comments_t, "/api/admin/comments?status=pending", full, 200)
        assert [c["id"] for c in pending["comments"]] == [new]
        for bad in ("status=bogus", "limit=0", "limit=201", "cursor=%%%"):
            await api.call("GET", comments_t, f"/api/admin/comments?{bad}", full, 400)
        await api.call("GET", comments_t, "/api/admin/comments?thread=nope", full, 404)

        one = await api.call("GET", one_t, f"/api/admin/comments/{new}", reader, 200)
        assert one["status"] == "pending" and one["body"] == "Waiting for the API."
        for missing in ("999999", "abc"):
            await api.call("GET", one_t, f"/api/admin/comments/{missing}", reader, 404)

        # Deciding needs the moderate scope; a decision is idempotent.
        await api.call("POST", decide_t, f"/api/admin/comments/{new}/approve", reader, 403)
        done = await api.call("POST", decide_t, f"/api/admin/comments/{new}/approve", full, 200)
        assert done["status"] == "approved" and done["changed"] is True
        again = await api.call("POST", decide_t, f"/api/admin/comments/{new}/approve", full, 200)
        assert again["changed"] is False
        await api.call("POST", decide_t, f"/api/admin/comments/{new}/spam", full, 200)
        await api.call("POST", decide_t, "/api/admin/comments/999999/reject", full, 404)
        await api.call("POST", decide_t, f"/api/admin/comments/{new}/publish", full, 404)
    shown = await mb("comment", str(new), *data)
    assert re.search(r"approved\s+spam\s+\S*\s*api", shown.output), shown.output
    # No answer carries anyone's email address.
    assert not any(re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text) for text in api.seen)


@pytest.mark.asyncio
async def test_threads_are_created_and_closed_to_new_comments(daemon: Running) -> None:
    full, reader = await token(daemon), await token(daemon, "read")
    async with aiohttp.ClientSession() as session:
        host, port = daemon.http_address
        async with session.get(f"http://{host}:{port}/api/admin/openapi.json") as r:
            api = Api(daemon, session, await r.json())
        threads_t, verb_t = "/api/admin/threads", "/api/admin/threads/{key}/{verb}"
        new = {"key": "launch-notes", "title": "Launch notes", "url": "https://blog.example.org/l"}
        await api.call("POST", threads_t, threads_t, None, 401, new)
        await api.call("POST", threads_t, threads_t, reader, 403, new)
        made = await api.call("POST", threads_t, threads_t, full, 201, new)
        assert made == {**new, "closed": False, "created": True}
        again = await api.call("POST", threads_t, threads_t, full, 200, new)
        assert again["created"] is False
        for bad in (
            {**new, "key": "Not A Key"},
            {**new, "title": ""},
            {**new, "url": "javascript:alert(1)"},
            {**new, "extra": 1},
            ["not", "an", "object"],
        ):
            answer = await api.call("POST", threads_t, threads_t, full, 400, bad)
            assert answer["code"] == "invalid_thread"
        async with session.post(
            api.base + threads_t, data=b"\xff{", headers={"Authorization": f"Bearer {full}"}
        ) as r:
            assert r.status == 400 and (await r.json())["code"] == "invalid_json"

        key = "attachment-theory-healing-relationship"
        closed = await api.call("POST", verb_t, f"/api/admin/threads/{key}/close", full, 200)
        assert closed["closed"] is True
        form = {"author": "Ann", "email": "ann@example.com", "body": "Too late?", "parent": 2}
        async with session.post(f"{api.base}/api/threads/{key}/comments", json=form) as r:
            assert r.status == 403 and "closed" in (await r.json())["error"]
        await api.call("POST", verb_t, f"/api/admin/threads/{key}/open", full, 200)
        assert await post_comment(daemon, parent=2, body="Open again.") > 0
        await api.call("POST", verb_t, "/api/admin/threads/nope/close", full, 404)
        await api.call("POST", verb_t, f"/api/admin/threads/{key}/lock", full, 404)
        await api.call("POST", verb_t, f"/api/admin/threads/{key}/close", reader, 403)


@pytest.mark.asyncio
async def test_an_edit_keeps_the_text_before_it(daemon: Running) -> None:
    full, reader = await token(daemon), await token(daemon, "read")
    async with aiohttp.ClientSession() as session:
        host, port = daemon.http_address
        async with session.get(f"http://{host}:{port}/api/admin/openapi.json") as r:
            api = Api(daemon, session, await r.json())
        one_t, history_t = "/api/admin/comments/{id}", "/api/admin/comments/{id}/history"
        before = await api.call("GET", one_t, "/api/admin/comments/2", reader, 200)
        await api.call("PATCH", one_t, "/api/admin/comments/2", reader, 403, {"body": "x"})
        fixed = {"body": before["body"] + "\n\n*Edited: a typo fixed.*"}
        edited = await api.call("PATCH", one_t, "/api/admin/comments/2", full, 200, fixed)
        assert edited["changed"] is True and edited["body"] == fixed["body"].strip()
        assert [e["body"] for e in edited["history"]] == [before["body"]]
        assert edited["history"][0]["by"].startswith("api token 1")
        same = await api.call("PATCH", one_t, "/api/admin/comments/2", full, 200, fixed)
        assert same["changed"] is False and len(same["history"]) == 1
        for bad in ({"body": ""}, {"body": "a\u202eb"}, {"body": 1}, {"text": "x"}):
            answer = await api.call("PATCH", one_t, "/api/admin/comments/2", full, 400, bad)
            assert answer["code"] == "invalid_body"
        await api.call("PATCH", one_t, "/api/admin/comments/999999", full, 404, fixed)
        history = await api.call("GET", history_t, "/api/admin/comments/2/history", reader, 200)
        assert history["edits"] == edited["history"]
        await api.call("GET", history_t, "/api/admin/comments/999999/history", reader, 404)
        # The published thread shows the new text.
        async with session.get(
            f"{api.base}/api/threads/attachment-theory-healing-relationship/comments?per_page=5"
        ) as r:
            assert "Edited: a typo fixed." in await r.text()


@pytest.mark.asyncio
async def test_people_routes_match_the_document(daemon: Running) -> None:
    people, full = await token(daemon, "people"), await token(daemon)
    async with aiohttp.ClientSession() as session:
        host, port = daemon.http_address
        async with session.get(f"http://{host}:{port}/api/admin/openapi.json") as r:
            api = Api(daemon, session, await r.json())
        t = "/api/admin/people/{verb}"
        who = {"email": "reader002.4a549d@example.org"}
        await api.call("POST", t, "/api/admin/people/export", full, 403, who)  # not by default
        await api.call("POST", t, "/api/admin/people/export", None, 401, who)
        got = await api.call("POST", t, "/api/admin/people/export", people, 200, who)
        assert got["comments"]
        unknown = {"email": "nobody@example.org"}
        empty = await api.call("POST", t, "/api/admin/people/export", people, 200, unknown)
        assert empty["address"] is None and empty["comments"] == []
        for bad in ({"email": "no-at-sign"}, {"email": 5}, {"mail": "a@b.org"}):
            answer = await api.call("POST", t, "/api/admin/people/erase", people, 400, bad)
            assert answer["code"] == "invalid_email"
        await api.call("POST", t, "/api/admin/people/forget", people, 404, who)
        await api.call("POST", t, "/api/admin/people/erase", people, 202, unknown)


@pytest.mark.asyncio
async def test_a_comment_nobody_answered_is_deleted(daemon: Running) -> None:
    full, reader = await token(daemon), await token(daemon, "read")
    new = await post_comment(daemon, parent=2, body="Delete me, please.")
    async with aiohttp.ClientSession() as session:
        host, port = daemon.http_address
        async with session.get(f"http://{host}:{port}/api/admin/openapi.json") as r:
            api = Api(daemon, session, await r.json())
        t = "/api/admin/comments/{id}"
        await api.call("DELETE", t, f"/api/admin/comments/{new}", reader, 403)
        answered = await api.call("DELETE", t, "/api/admin/comments/2", full, 409)
        assert answered["code"] == "has_replies"
        gone = await api.call("DELETE", t, f"/api/admin/comments/{new}", full, 200)
        assert gone == {"id": new, "deleted": True}
        await api.call("GET", t, f"/api/admin/comments/{new}", full, 404)
        await api.call("DELETE", t, f"/api/admin/comments/{new}", full, 404)
