"""An API transport never follows a redirect: the key and the message stay with the
service named (outbound.api_url or its own URL).

aiohttp follows a 307/308 for a POST with the same body and every header it was
given but Authorization: Postmark's X-Postmark-Server-Token, the SES signature and
the whole message went on to whatever host the Location named (over plain HTTP too).
A mail API never answers a send with a redirect; one is a proxy or a captive portal
in the way, or a misconfigured api_url: the message stays queued, said why."""

from __future__ import annotations

from pathlib import Path

import pytest
from delivery.apifakes import TOKEN, serving
from support import local_http

from mailbridge.errors import TemporaryDeliveryError
from mailbridge.outbound.api import ApiConfig
from mailbridge.outbound.api.choose import api_transport

MESSAGE = (
    b"From: Example Blog <comments@example.org>\r\nTo: Ann <ann@example.net>\r\n"
    b"Subject: hello\r\nMessage-ID: <n1.abc@example.org>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\n\r\nThe words of a reply.\r\n'
)


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [307, 308, 302])
async def test_a_redirect_is_not_followed_and_nothing_leaves_for_its_host(
    tmp_path: Path, status: int
) -> None:
    from aiohttp import web

    seen: list[dict[str, str]] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append({**request.headers, "body": (await request.read()).decode()})
        return web.json_response({"ErrorCode": 0, "MessageID": "x", "Message": "OK"})

    async with local_http("/email", elsewhere) as other, serving(tmp_path) as fake:
        fake.script.append((status, "Moved", {"Location": f"{other}/email"}))
        transport = api_transport(
            "postmark://", ApiConfig(key=TOKEN, base_url=fake.url, ca_file=fake.ca.ca_file)
        )
        try:
            with pytest.raises(TemporaryDeliveryError) as refused:
                await transport.send("bounce@example.org", "ann@example.net", MESSAGE)
        finally:
            await transport.aclose()
    assert seen == []  # neither the token nor the words went to the other host
    said = str(refused.value)
    assert f"HTTP {status}" in said and "redirect" in said, said
    assert TOKEN not in said and f"to {other}" in said  # where: to fix api_url
