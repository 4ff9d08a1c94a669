"""mailbridge's own JSON: the thread format ``mailbridge import`` reads
(``{"post": ..., "comments": [...]}``), or for several threads
``{"threads": [{"post": ..., "comments": [...]}, ...]}``; every status kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO

from mailbridge.exporter.source import ExportThread, comments_of
from mailbridge.store import Store

__all__ = ["write_json"]


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


async def write_json(
    out: TextIO, store: Store, threads: list[ExportThread], site_url: str,
    counted: Callable[[int], None], *, several: bool,
) -> None:  # fmt: skip
    if several:
        out.write('{"threads": [\n')
    for n, t in enumerate(threads):
        post = {
            "key": t.key, "title": t.title, "url": t.url, "author": t.author,
            "email": t.author_email, "closed": t.closed, "published": t.created_at,
        }  # fmt: skip
        out.write(("," if n else "") + '{"post": ' + _dump(post) + ',\n "comments": [\n')
        first = True
        async for chunk in comments_of(store, t.id):
            for c in chunk:
                item = {
                    "id": c.id, "parent": c.parent_id, "author": c.author, "email": c.email,
                    "created": c.created_at, "body": c.body, "status": c.status,
                    "notify": c.notify,
                }  # fmt: skip
                out.write(("  " if first else " ,") + _dump(item) + "\n")
                first = False
            counted(len(chunk))
        out.write("]}\n")
    if several:
        out.write("]}\n")
