"""Which addresses mailbridge accepts, their one spelling, and every door they enter by
(issue 8, finding 2): settings, import files, command-line arguments."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aiosqlite
import pytest
from click.testing import CliRunner

from mailbridge.addresses import NON_ASCII_LOCAL_PART, normalise, parse_mailbox, same_mailbox
from mailbridge.cli import cli
from mailbridge.clock import SystemClock
from mailbridge.errors import ConfigError, InvalidAddress
from mailbridge.importer import import_file
from mailbridge.settings import load_settings
from mailbridge.store import Store

BAD = [
    "änn@example.org",  # non-ASCII before the @ (without SMTPUTF8)
    "a@b.org, c@d.org",  # a list
    "x@y.org\r\nBcc: z@w.org",  # a header of one's own
    "",
    "no-at-sign",
    "ann@localhost",  # not deliverable for a person
    '"quoted local"@example.org',
    "ann@[192.0.2.1]",
]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Ann@Example.COM", "Ann@example.com"),  # the domain lower-cased, the local part kept
        ("ann@exämple.org", "ann@xn--exmple-cua.org"),
        ("ann@EXÄMPLE.org", "ann@xn--exmple-cua.org"),
        ("ann@xn--exmple-cua.org", "ann@xn--exmple-cua.org"),
        ("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"),
    ],
)
def test_one_spelling(given: str, stored: str) -> None:
    assert normalise(given, smtputf8=False) == stored


@pytest.mark.parametrize("bad", BAD)
def test_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(InvalidAddress) as refused:
        normalise(bad, smtputf8=False)
    assert refused.value.reason


def test_non_ascii_local_part_only_with_smtputf8() -> None:
    with pytest.raises(InvalidAddress, match=NON_ASCII_LOCAL_PART):
        normalise("änn@exämple.org", smtputf8=False)
    assert normalise("änn@exämple.org", smtputf8=True) == "änn@xn--exmple-cua.org"


def test_operator_addresses_may_be_local() -> None:
    assert normalise("me@localhost", smtputf8=False, operator=True) == "me@localhost"
    assert normalise("me@intranet", smtputf8=False, operator=True) == "me@intranet"
    assert parse_mailbox("Blog <Comments@Blög.example>", smtputf8=False) == (
        "Blog",
        "Comments@xn--blg-tna.example",
    )
    for bad in ("a@b.org, c@d.org", "Blog", "Blog <a b@x.org>"):
        with pytest.raises(InvalidAddress):
            parse_mailbox(bad, smtputf8=False)


def test_same_mailbox_compares_normal_forms() -> None:
    assert same_mailbox("Ann@EXÄMPLE.org", "ann@xn--exmple-cua.org")
    assert same_mailbox("ann@exämple.org", "ANN@exämple.ORG")
    assert not same_mailbox("ann@example.org", "bob@example.org")
    assert not same_mailbox("a@b.org, c@d.org", "a@b.org, c@d.org")  # not an address


@pytest.mark.parametrize(
    "moderator", ["a@b.org, c@d.org", "boss", "änn@example.org", "x@y.org\nBcc: z@w.org"]
)
def test_a_bad_moderator_is_a_config_error(moderator: str) -> None:
    with pytest.raises(ConfigError, match="moderation.moderators"):
        load_settings(None, environ={}, overrides={"moderation": {"moderators": [moderator]}})


def test_moderators_may_have_non_ascii_local_parts_with_smtputf8() -> None:
    settings = load_settings(
        None,
        environ={},
        overrides={
            "moderation": {"moderators": ["änn@example.org"]},
            "outbound": {"smtputf8": True},
        },
    )
    assert settings.moderation.moderators == ("änn@example.org",)


def test_an_idn_reply_domain_is_refused_with_its_ascii_form() -> None:
    with pytest.raises(ConfigError, match="xn--antwrt-zxa.example"):
        load_settings(None, environ={}, overrides={"smtp": {"reply_domain": "antwört.example"}})


def thread_file(path: Path, post_email: str, emails: list[str]) -> Path:
    comments = [
        {"id": n, "author": f"R{n}", "email": e, "created": "2026-01-01T00:00:00Z", "body": "x"}
        for n, e in enumerate(emails, 1)
    ]
    path.write_text(
        json.dumps({"post": {"key": "k", "title": "T", "email": post_email}, "comments": comments})
    )
    return path


def wxr_file(path: Path, post_email: str, emails: list[str]) -> Path:
    from xml.sax.saxutils import escape

    items = "".join(
        f"<wp:comment><wp:comment_id>{n}</wp:comment_id><wp:comment_author>R{n}"
        f"</wp:comment_author><wp:comment_author_email>{escape(e)}</wp:comment_author_email>"
        "<wp:comment_date_gmt>2026-01-01 00:00:00</wp:comment_date_gmt>"
        "<wp:comment_content>x</wp:comment_content><wp:comment_approved>1"
        "</wp:comment_approved><wp:comment_parent>0</wp:comment_parent></wp:comment>"
        for n, e in enumerate(emails, 1)
    )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:wp="http://wordpress.org/export/1.2/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        "<wp:author><wp:author_login>owner</wp:author_login><wp:author_email>"
        f"{escape(post_email)}</wp:author_email><wp:author_display_name>Owner"
        "</wp:author_display_name></wp:author>"
        "<item><title>T</title><dc:creator>owner</dc:creator><wp:post_name>k</wp:post_name>"
        f"<wp:post_type>post</wp:post_type>{items}</item></channel></rss>",
        encoding="utf-8",
    )
    return path


@pytest.mark.asyncio
@pytest.mark.parametrize("writer", [thread_file, wxr_file], ids=["json", "wxr"])
async def test_import_keeps_comments_and_drops_bad_addresses(
    tmp_path: Path, writer: Callable[[Path, str, list[str]], Path]
) -> None:
    good = ["ann@exämple.org", "Bob@Example.NET"]
    path = writer(tmp_path / "t.data", "x@y.org\r\nBcc: z@w.org", [*BAD[:5], *good])
    store = await Store.open(tmp_path / "mb.sqlite3")
    try:
        report = await import_file(store, path, SystemClock())

        async def rows(conn: aiosqlite.Connection) -> list[tuple[str, str | None]]:
            async with conn.execute(
                "SELECT c.author, a.email FROM comments c LEFT JOIN addresses a "
                "ON a.id = c.address_id ORDER BY c.id"
            ) as cur:
                return [(r[0], r[1]) for r in await cur.fetchall()]

        found = await store.read(rows)
        owner = await store.read(
            lambda c: c.execute_fetchall("SELECT author_address_id FROM threads")
        )
        every = await store.read(lambda c: c.execute_fetchall("SELECT email FROM addresses"))
    finally:
        await store.close()
    assert report.comments_added == 7  # every comment, with or without its address
    assert found == [
        ("R1", None),
        ("R2", None),
        ("R3", None),
        ("R4", None),  # "" is no address at all: not counted as refused
        ("R5", None),
        ("R6", "ann@xn--exmple-cua.org"),
        ("R7", "Bob@example.net"),
    ]
    assert [tuple(r) for r in owner] == [(None,)]
    assert sorted(r[0] for r in every) == ["Bob@example.net", "ann@xn--exmple-cua.org"]
    assert report.addresses_refused == 5  # the post's and four comments'
    assert report.refusals[0].startswith("post k: ")
    assert report.refusals[1].startswith("post k, comment 1: ")
    assert NON_ASCII_LOCAL_PART in report.refusals[1]


def test_import_summary_counts_refused_addresses(tmp_path: Path) -> None:
    path = thread_file(tmp_path / "t.json", "owner@example.org", ["a@b.org, c@d.org", "ok@x.org"])
    result = CliRunner().invoke(cli, ["import", "--data-dir", str(tmp_path / "var"), str(path)])
    assert result.exit_code == 0, result.output
    assert "2 comment(s) added" in result.output
    assert "1 email address(es) could not be used" in result.output
    assert "post k, comment 1: " in result.output


def test_cli_address_arguments_are_checked_and_normalised(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    path = thread_file(tmp_path / "t.json", "owner@example.org", ["ann@exämple.org"])
    assert CliRunner().invoke(cli, ["import", "--data-dir", data, str(path)]).exit_code == 0
    # Typed with the Unicode domain, found under its stored A-label form.
    revoked = CliRunner().invoke(cli, ["revoke", "--data-dir", data, "Ann@EXÄMPLE.org"])
    assert revoked.exit_code == 0, revoked.output
    assert "ann@xn--exmple-cua.org" in revoked.output.lower()
    resumed = CliRunner().invoke(
        cli, ["bounces", "--data-dir", data, "--resume", "ann@exämple.org"]
    )
    assert resumed.exit_code == 0, resumed.output
    for command in (
        ["revoke", "--data-dir", data, "a@b.org, c@d.org"],
        ["bounces", "--data-dir", data, "--resume", "no-at-sign"],
    ):
        refused = CliRunner().invoke(cli, command)
        assert refused.exit_code == 2 and "is not an email address" in refused.output, command
    missing = CliRunner().invoke(cli, ["revoke", "--data-dir", data, "nobody@example.org"])
    assert missing.exit_code == 1 and "no address nobody@example.org" in missing.output
