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
        self, method: str, template: str, path: str, bearer: str | None, expect: int
    ) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        async with self.session.request(method, self.base + path, headers=headers) as r:
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
