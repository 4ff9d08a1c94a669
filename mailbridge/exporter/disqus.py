"""A Disqus-style export: ``<thread>`` elements first, then every ``<post>`` naming its
thread and parent by ``dsq:id``, as a Disqus export is laid out.

Disqus has no "pending": a comment waiting for a moderator carries
``<isApproved>false</isApproved>`` (the field Disqus's API uses); a rejected one is
``<isDeleted>true</isDeleted>`` (what a moderator's Delete does there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from mailbridge.exporter.source import ExportThread, comments_of
from mailbridge.exporter.xmltext import as_html_text, cdata, text, utc
from mailbridge.store import Store

__all__ = ["write_disqus"]

_HEAD = """<?xml version="1.0" encoding="utf-8"?>
<!-- A Disqus-style export written by mailbridge export. -->
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <category dsq:id="1"><forum>mailbridge</forum><title>General</title>
    <isDefault>true</isDefault></category>
"""


def _when(iso_moment: str) -> str:
    return utc(iso_moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _flag(value: bool) -> str:
    return "true" if value else "false"


async def write_disqus(
    out: TextIO, store: Store, threads: list[ExportThread], site_url: str,
    counted: Callable[[int], None],
) -> None:  # fmt: skip
    out.write(_HEAD)
    for t in threads:
        out.write(
            f'  <thread dsq:id="t{t.id}"><id>{text(t.key)}</id><forum>mailbridge</forum>'
            f'<category dsq:id="1"/><link>{text(t.url)}</link><title>{cdata(t.title)}</title>'
            f"<message/><createdAt>{_when(t.created_at)}</createdAt>"
            f"<author><name>{text(t.author)}</name><email>{text(t.author_email)}</email>"
            "<isAnonymous>false</isAnonymous></author>"
            f"<isClosed>{_flag(t.closed)}</isClosed><isDeleted>false</isDeleted></thread>\n"
        )
    for t in threads:
        async for chunk in comments_of(store, t.id):
            for c in chunk:
                parent = f'<parent dsq:id="p{c.parent_id}"/>' if c.parent_id else ""
                out.write(
                    f'  <post dsq:id="p{c.id}"><id/>'
                    f"<message>{cdata(as_html_text(c.body))}</message>"
                    f"<createdAt>{_when(c.created_at)}</createdAt>"
                    f"<isDeleted>{_flag(c.status == 'rejected')}</isDeleted>"
                    f"<isSpam>{_flag(c.status == 'spam')}</isSpam>"
                    f"<isApproved>{_flag(c.status != 'pending')}</isApproved>"
                    f"<author><name>{text(c.author)}</name><email>{text(c.email)}</email>"
                    "<isAnonymous>false</isAnonymous></author>"
                    f'<thread dsq:id="t{t.id}"/>{parent}</post>\n'
                )
            counted(len(chunk))
    out.write("</disqus>\n")
