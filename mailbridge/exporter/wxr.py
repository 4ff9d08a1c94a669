"""WordPress eXtended RSS 1.2: what WordPress's own export writes and its importer reads.

One ``<item>`` per thread (a post named by the thread's key), one ``<wp:comment>`` per
comment with its status (1, 0, spam, trash) and parent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TextIO

from mailbridge.exporter.source import ExportThread, comments_of
from mailbridge.exporter.xmltext import as_html_text, cdata, text, utc
from mailbridge.store import Store

__all__ = ["write_wxr"]

_APPROVED = {"approved": "1", "pending": "0", "spam": "spam", "rejected": "trash"}
_HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<!-- A WordPress eXtended RSS file written by mailbridge export. -->
<rss version="2.0"
\txmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
\txmlns:content="http://purl.org/rss/1.0/modules/content/"
\txmlns:wfw="http://wellformedweb.org/CommentAPI/"
\txmlns:dc="http://purl.org/dc/elements/1.1/"
\txmlns:wp="http://wordpress.org/export/1.2/"
>
<channel>
"""


def _login(name: str, n: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or f"author-{n}"


def _dates(prefix: str, iso_moment: str) -> str:
    moment = utc(iso_moment).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"<wp:{prefix}_date>{moment}</wp:{prefix}_date>"
        f"<wp:{prefix}_date_gmt>{moment}</wp:{prefix}_date_gmt>"
    )


async def write_wxr(
    out: TextIO, store: Store, threads: list[ExportThread], site_url: str,
    counted: Callable[[int], None],
) -> None:  # fmt: skip
    out.write(_HEAD)
    out.write(f"\t<title>{text(site_url)}</title>\n\t<link>{text(site_url)}</link>\n")
    out.write("\t<description></description>\n\t<language>en</language>\n")
    out.write("\t<wp:wxr_version>1.2</wp:wxr_version>\n")
    out.write(f"\t<wp:base_site_url>{text(site_url)}</wp:base_site_url>\n")
    out.write(f"\t<wp:base_blog_url>{text(site_url)}</wp:base_blog_url>\n")
    logins: dict[tuple[str, str], str] = {}
    for thread in threads:
        if thread.author and (thread.author, thread.author_email) not in logins:
            login = _login(thread.author, len(logins) + 1)
            while login in logins.values():
                login += "-2"
            logins[(thread.author, thread.author_email)] = login
            out.write(
                f"\t<wp:author><wp:author_id>{len(logins)}</wp:author_id>"
                f"<wp:author_login>{cdata(login)}</wp:author_login>"
                f"<wp:author_email>{cdata(thread.author_email)}</wp:author_email>"
                f"<wp:author_display_name>{cdata(thread.author)}</wp:author_display_name>"
                "</wp:author>\n"
            )
    for thread in threads:
        login = logins.get((thread.author, thread.author_email), "")
        out.write("\t<item>\n")
        out.write(
            f"\t\t<title>{cdata(thread.title)}</title>\n\t\t<link>{text(thread.url)}</link>\n"
        )
        out.write(f"\t\t<dc:creator>{cdata(login)}</dc:creator>\n")
        out.write(f'\t\t<guid isPermaLink="false">{text(thread.url or thread.key)}</guid>\n')
        out.write("\t\t<description></description>\n")
        out.write("\t\t<content:encoded><![CDATA[]]></content:encoded>\n")
        out.write(f"\t\t<wp:post_id>{thread.id}</wp:post_id>{_dates('post', thread.created_at)}\n")
        status = "closed" if thread.closed else "open"
        out.write(f"\t\t<wp:comment_status>{status}</wp:comment_status>")
        out.write("<wp:ping_status>closed</wp:ping_status>\n")
        out.write(f"\t\t<wp:post_name>{cdata(thread.key)}</wp:post_name>")
        out.write("<wp:status>publish</wp:status><wp:post_parent>0</wp:post_parent>")
        out.write("<wp:post_type>post</wp:post_type>\n")
        async for chunk in comments_of(store, thread.id):
            for c in chunk:
                out.write(
                    f"\t\t<wp:comment><wp:comment_id>{c.id}</wp:comment_id>"
                    f"<wp:comment_author>{cdata(c.author)}</wp:comment_author>"
                    f"<wp:comment_author_email>{text(c.email)}</wp:comment_author_email>"
                    f"{_dates('comment', c.created_at)}"
                    f"<wp:comment_content>{cdata(as_html_text(c.body))}</wp:comment_content>"
                    f"<wp:comment_approved>{_APPROVED[c.status]}</wp:comment_approved>"
                    "<wp:comment_type>comment</wp:comment_type>"
                    f"<wp:comment_parent>{c.parent_id or 0}</wp:comment_parent>"
                    "<wp:comment_user_id>0</wp:comment_user_id></wp:comment>\n"
                )
            counted(len(chunk))
        out.write("\t</item>\n")
    out.write("</channel>\n</rss>\n")
