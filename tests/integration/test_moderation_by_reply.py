"""Moderating by replying to the moderation email (issue 10), over real SMTP: accepted
from the authenticated moderator (with their answer published under the comment and
its writer notified), refused from a non-moderator and from an unauthenticated
moderator address. DNS is the only fake: a local zone with the moderator's DKIM key."""

from __future__ import annotations

import email
import email.utils
import re
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import aiosmtplib
import aiosqlite
import pytest
from flows import follow, moderation_email, notification_for, outbox_dir, post_comment
from senderauth.mailkit import new_rsa_key, sign, zone
from support import (
    AUTHOR_EMAIL,
    THREAD,
    mailgun_form,
    read_maildir,
    started,
    text_body,
    wait_for_mail,
)

from mailbridge.app import Running
from mailbridge.inbound.moderation import parse_verdict
from mailbridge.rejections import UnknownVerdict, VerdictNotAlone
from mailbridge.store import threads
from mailbridge.tokens import Action, make_moderation_reply_token

KEY = new_rsa_key().at("example.org")
DMARC = {"_dmarc.example.org": "v=DMARC1; p=none"}


def answer(
    moderation: EmailMessage, first_line: str, more: str = "", sender: str = AUTHOR_EMAIL
) -> bytes:
    reply = EmailMessage()
    reply["From"] = f"Joseph Burgo <{sender}>"
    reply["To"] = str(moderation["Reply-To"])
    reply["Subject"] = "Re: " + str(moderation["Subject"])
    reply["Message-ID"] = email.utils.make_msgid(domain="example.org")
    reply["In-Reply-To"] = str(moderation["Message-ID"])
    reply["Date"] = email.utils.formatdate()
    quoted = "\n".join("> " + line for line in text_body(moderation).splitlines())
    body = first_line + (f"\n\n{more}" if more else "")
    reply.set_content(
        f"{body}\n\n-- \nJoseph\n\nOn Thu, 3 Dec 2026, Example Blog wrote:\n{quoted}\n"
    )
    return reply.as_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")


async def send(daemon: Running, raw: bytes, rcpt: str, sender: str) -> str:
    host, port = daemon.smtp_address
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) as client:
        await client.mail(sender)
        await client.rcpt(rcpt)
        response = await client.data(raw)
    return f"{response.code} {response.message}"


async def pending(daemon: Running) -> tuple[int, EmailMessage, str]:
    """A pending comment under comment 2, its moderation email and that email's reply
    address."""
    comment_id = await post_comment(daemon, parent=2, body="Pending words.")
    moderation = await moderation_email(daemon, "Ann")
    return comment_id, moderation, moderation["Reply-To"].addresses[0].addr_spec


async def status_of(daemon: Running, comment_id: int) -> str:
    async def work(conn: aiosqlite.Connection) -> str:
        async with conn.execute("SELECT status FROM comments WHERE id = ?", (comment_id,)) as c:
            row = await c.fetchone()
        assert row is not None
        return str(row[0])

    return await daemon.store.read(work)


def test_the_verdict_is_the_first_word_and_the_answer_follows_a_blank_line() -> None:
    assert parse_verdict("Approve.\n\nThanks, Ann!") == (Action.APPROVE, "Thanks, Ann!")
    assert parse_verdict("  SPAM  ") == (Action.SPAM, "")
    assert parse_verdict("trust\n\nAnswer\n\nmore") == (Action.TRUST, "Answer\n\nmore")
    for bad in ("", "yes please", "approval pending", "Don't approve", "not spam"):
        with pytest.raises(UnknownVerdict):
            parse_verdict(bad)


def test_the_verdict_is_read_as_clients_write_it() -> None:
    # Bold in a client's text part, a zero-width space or byte order mark first,
    # full-width letters from an East Asian keyboard.
    for first in ("*Approve*", "**Approve**", "\u200bApprove", "\ufeffapprove", "\uff41pprove"):
        assert parse_verdict(first) == (Action.APPROVE, "")


def test_words_right_under_the_verdict_are_asked_about_not_dropped() -> None:
    # Typed on a phone with one Return: an answer, or a note to us? Not guessed.
    for under in ("Thanks Ann, good question.", "looks fine to me"):
        with pytest.raises(VerdictNotAlone):
            parse_verdict(f"Approve\n{under}\n\nmore")
    # A sign-off or a signature block there is no question.
    joseph = "Joseph Burgo <j@example.org>"
    assert parse_verdict("Approve\nJoseph", joseph) == (Action.APPROVE, "")
    signature = "Approve\nJoseph Burgo, PhD\nPsychotherapist\n+1 555 123 4567"
    assert parse_verdict(signature, joseph) == (Action.APPROVE, "")


def test_a_sign_off_alone_is_not_an_answer() -> None:
    joseph = "Joseph Burgo <joseph@example.org>"
    for signed in ("Joseph", "Thanks,\nJoseph", "Thanks!", "J.", "- Joseph", "Cheers, JB"):
        assert parse_verdict(f"approve\n\n{signed}", joseph) == (Action.APPROVE, "")
    # Anything more is their answer, their sign-off included.
    for kept in ("Thanks Ann, good question.", "Good point.\n\nBest,\nJoseph", "Welcome Ann"):
        assert parse_verdict(f"approve\n\n{kept}", joseph) == (Action.APPROVE, kept)
    # Without a From name, a lone initial is kept.
    assert parse_verdict("approve\n\nX", "joseph@example.org") == (Action.APPROVE, "X")


@pytest.mark.asyncio
async def test_an_authenticated_moderator_approves_and_answers_by_reply(tmp_path: Path) -> None:
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id = await post_comment(daemon, parent=2, body="Ann asks a question?", notify=True)
        moderation = await moderation_email(daemon, "Ann")
        # Ann confirms she wants to hear about answers (double opt-in).
        [confirm] = [
            m for m in await wait_for_mail(outbox_dir(daemon), 2) if "Confirm" in str(m["Subject"])
        ]
        link = re.search(r"(http\S+/confirm/[a-z0-9]+)", text_body(confirm))
        assert link is not None
        status, _ = await follow(daemon, link.group(1), "POST")
        assert status == 200
        rcpt = moderation["Reply-To"].addresses[0].addr_spec
        assert rcpt.startswith("moderate+") and rcpt.endswith("@reply.example.org")
        raw = sign(answer(moderation, "Approve", "Good question, Ann: here is my answer."), KEY)
        result = await send(daemon, raw, rcpt, AUTHOR_EMAIL)
        assert result.startswith(f"250 2.0.0 Done: comment {comment_id} is approved")
        assert "your answer is published as comment" in result
        assert await status_of(daemon, comment_id) == "approved"

        # The answer is under Ann's comment, by the thread's author, without the quote
        # or the signature; nobody moderates the moderator.
        async def answers(conn: aiosqlite.Connection) -> list[tuple[object, ...]]:
            async with conn.execute(
                "SELECT author, body, status FROM comments WHERE parent_id = ?", (comment_id,)
            ) as cur:
                return [tuple(r) for r in await cur.fetchall()]

        assert await daemon.store.read(answers) == [
            ("Joseph Burgo", "Good question, Ann: here is my answer.", "approved")
        ]
        # Ann is told, with a reply address of her own, as for any approved answer.
        note = await notification_for(daemon, "ann@example.com", 4)
        assert "Good question, Ann: here is my answer." in text_body(note)


def gmail_answer(moderation: EmailMessage, text: str, html: str) -> bytes:
    """A Gmail reply as it sends one: multipart/alternative, quoted-printable."""
    reply = EmailMessage()
    reply["From"] = f"Joseph Burgo <{AUTHOR_EMAIL}>"
    reply["To"] = str(moderation["Reply-To"])
    reply["Subject"] = "Re: " + str(moderation["Subject"])
    reply["Message-ID"] = email.utils.make_msgid(domain="example.org")
    reply["In-Reply-To"] = str(moderation["Message-ID"])
    reply["Date"] = email.utils.formatdate()
    quoted = "\n".join("> " + line for line in text_body(moderation).splitlines())
    attribution = "On Thu, Dec 3, 2026 at 10:00 AM Example Blog <moderate@example.org> wrote:"
    reply.set_content(f"{text}\n\n{attribution}\n\n{quoted}\n", cte="quoted-printable")
    reply.add_alternative(
        f'<div dir="ltr">{html}</div><br><div class="gmail_quote"><div class="gmail_attr">'
        f'{attribution}</div><blockquote class="gmail_quote">quoted</blockquote></div>',
        subtype="html",
        cte="quoted-printable",
    )
    return reply.as_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")


@pytest.mark.asyncio
async def test_a_bold_verdict_signed_off_from_gmail_approves_without_an_answer(
    tmp_path: Path,
) -> None:
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        raw = gmail_answer(
            moderation,
            "*Approve*\n\nThanks,\nJoseph",
            "<b>Approve</b><div><br></div><div>Thanks,</div><div>Joseph</div>",
        )
        result = await send(daemon, sign(raw, KEY), rcpt, AUTHOR_EMAIL)
        assert result.startswith(f"250 2.0.0 Done: comment {comment_id} is approved (inbound ")
        assert await status_of(daemon, comment_id) == "approved"
        rows = await daemon.store.read(lambda c: _children(c, comment_id))
        assert rows == []  # "Thanks, Joseph" was to us, not an answer to Ann


async def _children(
    conn: aiosqlite.Connection, comment_id: int, also: str = ""
) -> list[tuple[object, ...]]:
    sql = f"SELECT {also}body FROM comments WHERE parent_id = ? ORDER BY id"
    async with conn.execute(sql, (comment_id,)) as c:
        return [tuple(r) for r in await c.fetchall()]


@pytest.mark.asyncio
async def test_an_answer_typed_right_under_the_verdict_is_refused_not_lost(
    tmp_path: Path,
) -> None:
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        raw = sign(answer(moderation, "Approve\nThanks Ann, good question."), KEY)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send(daemon, raw, rcpt, AUTHOR_EMAIL)
        assert refused.value.code == 550 and "leave a blank line" in refused.value.message
        assert await status_of(daemon, comment_id) == "pending"
        # Over SMTP the author's own server bounces that reason to them: no email of ours.
        assert not [m for m in read_maildir(outbox_dir(daemon)) if _notice(m)]


def _notice(message: EmailMessage) -> bool:
    return "was not posted" in str(message["Subject"]) and AUTHOR_EMAIL in str(message["To"])


@pytest.mark.asyncio
async def test_a_refused_moderation_reply_read_from_a_webhook_is_explained_by_email(
    tmp_path: Path,
) -> None:
    """Read from a mailbox or posted by a mail service, a refusal bounces to nobody: the
    moderator, authenticated, is told by email (threaded under their reply)."""
    key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
    async with started(
        tmp_path, zone(KEY, records=DMARC), inbound_webhooks={"mailgun_signing_key": key}
    ) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        raw = sign(answer(moderation, "Approve\nThanks Ann, good question."), KEY)
        form = mailgun_form(raw, rcpt, key, sender=AUTHOR_EMAIL)
        host, port = daemon.http_address
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://{host}:{port}/inbound/mailgun", data=form) as resp,
        ):
            assert resp.status == 406  # refused for good: Mailgun does not retry
        assert await status_of(daemon, comment_id) == "pending"
        [notice] = [m for m in await wait_for_mail(outbox_dir(daemon), 2) if _notice(m)]
        assert "leave a blank line" in " ".join(text_body(notice).split())
        assert str(notice["In-Reply-To"]) == str(email.message_from_bytes(raw)["Message-ID"])
        files = sorted((outbox_dir(daemon) / "new").iterdir())
        sent = [f.read_bytes() for f in files if b"was not posted" in f.read_bytes()]
        assert len(sent) == 1 and b"\nTo: " + AUTHOR_EMAIL.encode() in sent[0].replace(b"\r", b"")


@pytest.mark.asyncio
async def test_the_quoted_moderation_email_is_never_published_as_the_answer(
    tmp_path: Path,
) -> None:
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        first = await post_comment(daemon, parent=2, body="Ann asks a question?", notify=True)
        moderation = await moderation_email(daemon, "Ann")
        [confirm] = [
            m for m in await wait_for_mail(outbox_dir(daemon), 2) if "Confirm" in str(m["Subject"])
        ]
        link = re.search(r"(http\S+/confirm/[a-z0-9]+)", text_body(confirm))
        assert link is not None and (await follow(daemon, link.group(1), "POST"))[0] == 200
        rcpt = moderation["Reply-To"].addresses[0].addr_spec
        # Some clients quote with no "> " and no "On ... wrote:" line.
        bare = f"Thanks Ann.\n\n{text_body(moderation)}"
        result = await send(
            daemon, sign(answer(moderation, "approve", bare), KEY), rcpt, AUTHOR_EMAIL
        )
        assert "your answer is published" in result
        assert await daemon.store.read(lambda c: _children(c, first)) == [("Thanks Ann.",)]
        note = await notification_for(daemon, "ann@example.com", 4)
        [raw] = [
            p.read_bytes()
            for p in (outbox_dir(daemon) / "new").iterdir()
            if str(note["Message-ID"]).encode() in p.read_bytes()
        ]
        # The bytes Ann gets (quoted-printable, soft breaks joined): the answer alone.
        unfolded = re.sub(rb"=\r?\n", b"", raw)
        assert re.search(rb":\r?\n\r?\nThanks Ann\.\r?\n\r?\n-{20}", unfolded)
        assert b"wrote a new comment" not in unfolded and b"/moderate" not in unfolded

        # "approve" on top, the quote, then words under it: the quote stays out.
        second = await post_comment(daemon, parent=2, author="Bob", body="Bob's words.")
        moderation = await moderation_email(daemon, "Bob")
        rcpt = moderation["Reply-To"].addresses[0].addr_spec
        quoted = "\n".join("> " + line for line in text_body(moderation).splitlines())
        under = f"{quoted}\n\nWelcome, Bob."
        result = await send(
            daemon, sign(answer(moderation, "approve", under), KEY), rcpt, AUTHOR_EMAIL
        )
        assert "your answer is published" in result
        assert await daemon.store.read(lambda c: _children(c, second)) == [("Welcome, Bob.",)]


@pytest.mark.asyncio
async def test_the_same_answer_sent_twice_is_published_once(tmp_path: Path) -> None:
    # Nothing tells a moderator their reply worked: some send it again.
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        first = await send(
            daemon, sign(answer(moderation, "approve", "Hi Ann."), KEY), rcpt, AUTHOR_EMAIL
        )
        again = await send(
            daemon, sign(answer(moderation, "approve", "Hi Ann."), KEY), rcpt, AUTHOR_EMAIL
        )
        [(answer_id, _body)] = await daemon.store.read(lambda c: _children(c, comment_id, "id, "))
        assert f"your answer is published as comment {answer_id} (inbound " in first
        assert f"your answer was published before, as comment {answer_id} (inbound " in again
        # Different words are a new answer.
        await send(
            daemon, sign(answer(moderation, "approve", "And more."), KEY), rcpt, AUTHOR_EMAIL
        )
        assert len(await daemon.store.read(lambda c: _children(c, comment_id))) == 2


@pytest.mark.asyncio
async def test_an_expired_moderation_address_points_to_the_queue_page(tmp_path: Path) -> None:
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id = await post_comment(daemon, parent=2, body="Pending words.")
        moderation = await moderation_email(daemon, "Ann")
        token = make_moderation_reply_token(
            daemon.keyring.moderation, comment_id, 1, date.today() - timedelta(days=2)
        )
        raw = sign(answer(moderation, "approve"), KEY)
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await send(daemon, raw, f"moderate+{token}@reply.example.org", AUTHOR_EMAIL)
        queue = daemon.settings.site.public_url.rstrip("/") + "/moderate"
        assert refused.value.code == 550 and f"the queue page, {queue}" in refused.value.message
        assert await status_of(daemon, comment_id) == "pending"


@pytest.mark.asyncio
async def test_a_reply_about_a_deleted_comment_is_refused_not_retried(tmp_path: Path) -> None:
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        assert await daemon.service.delete(comment_id)
        raw = sign(answer(moderation, "approve", "An answer."), KEY)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send(daemon, raw, rcpt, AUTHOR_EMAIL)
        assert refused.value.code == 550 and "no longer exists" in refused.value.message


@pytest.mark.asyncio
async def test_a_reply_from_someone_else_changes_nothing(tmp_path: Path) -> None:
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        raw = sign(answer(moderation, "approve", sender="mallory@example.org"), KEY)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send(daemon, raw, rcpt, "mallory@example.org")
        assert refused.value.code == 550 and "Only the blog's moderators" in refused.value.message
        assert await status_of(daemon, comment_id) == "pending"


@pytest.mark.asyncio
async def test_an_unauthenticated_moderator_address_is_refused(tmp_path: Path) -> None:
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        unsigned = answer(moderation, "approve")  # a From anyone could have written
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send(daemon, unsigned, rcpt, AUTHOR_EMAIL)
        assert refused.value.code == 550 and "DKIM/DMARC" in refused.value.message
        assert await status_of(daemon, comment_id) == "pending"
        # A forged token is refused at RCPT.
        with pytest.raises(aiosmtplib.SMTPRecipientRefused):
            await send(
                daemon, unsigned, "moderate+" + "a" * 32 + "@reply.example.org", AUTHOR_EMAIL
            )


@pytest.mark.asyncio
async def test_an_unknown_verdict_is_explained(tmp_path: Path) -> None:
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        raw = sign(answer(moderation, "Looks fine to me"), KEY)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send(daemon, raw, rcpt, AUTHOR_EMAIL)
        assert (
            refused.value.code == 550 and "approve, reject, spam or trust" in refused.value.message
        )
        assert await status_of(daemon, comment_id) == "pending"


@pytest.mark.asyncio
async def test_a_reply_about_an_erased_comment_is_refused_not_retried(tmp_path: Path) -> None:
    """Erased in "remove" mode while pending: an "approve" reply must not publish it
    (empty, by "a former commenter"), and says why."""
    from mailbridge.people import data as people

    writer = "erased.writer@example.net"
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id = await post_comment(daemon, parent=2, body="Take me down.", email=writer)
        moderation = await moderation_email(daemon, "Ann")
        rcpt = moderation["Reply-To"].addresses[0].addr_spec
        await daemon.store.write(lambda c: people.erase(c, writer, True, datetime.now(UTC)))
        raw = sign(answer(moderation, "approve", "An answer."), KEY)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send(daemon, raw, rcpt, AUTHOR_EMAIL)
        assert refused.value.code == 550
        assert "erased at its writer's request" in refused.value.message
        assert await status_of(daemon, comment_id) == "rejected"


@pytest.mark.asyncio
async def test_an_answer_that_looks_private_is_held_not_published(tmp_path: Path) -> None:
    # The author answers from their phone; their number came along with the words (a
    # signature the extractor did not know). Their verdict stands; the answer waits
    # for them to see it as it would be published, with what was seen.
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        words = "So sorry, Ann. Call me any time: 0151 496 0123"
        raw = sign(answer(moderation, "Approve", words), KEY)
        result = await send(daemon, raw, rcpt, AUTHOR_EMAIL)
        assert result.startswith(f"250 2.0.0 Done: comment {comment_id} is approved")
        [(answer_id, status, body)] = await daemon.store.read(
            lambda c: _children(c, comment_id, "id, status, ")
        )
        assert (status, body) == ("pending", words)
        assert f"your answer is held as comment {answer_id}, since it may reveal" in result
        assert "(a phone number)" in result and "0151" not in result
        # Its moderation email says why, in both parts, as the author will read it.
        held = await moderation_email(daemon, "Joseph Burgo", 2)
        path = next(
            p
            for p in (outbox_dir(daemon) / "new").iterdir()
            if str(held["Message-ID"]).encode() in p.read_bytes()
        )
        seen = path.read_bytes().replace(b"=\r\n", b"").replace(b"=\n", b"")
        assert seen.count(b"it may reveal personal details: a phone number") == 2
        # Not on the page, and the same reply sent again stores nothing more.
        host, port = daemon.http_address
        url = f"http://{host}:{port}/api/threads/{THREAD}/comments"
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            assert "0151 496 0123" not in await resp.text()
        again = await send(
            daemon, sign(answer(moderation, "Approve", words), KEY), rcpt, AUTHOR_EMAIL
        )
        assert f"held as comment {answer_id} (as sent before)" in again
        assert len(await daemon.store.read(lambda c: _children(c, comment_id))) == 1


@pytest.mark.asyncio
async def test_an_answer_on_a_thread_closed_since_is_not_published(tmp_path: Path) -> None:
    # Comments close while one waits (by hand, or by WordPress: by age, "Automatically
    # close comments on posts older than"): the verdict stands, the answer is no new
    # comment there. It was published all the same, and told so, though the thread takes
    # no comment: on a bridged post WordPress refused it at every push, never on the blog.
    async with started(tmp_path, zone(KEY, records=DMARC)) as daemon:
        comment_id, moderation, rcpt = await pending(daemon)
        await daemon.store.write(lambda c: threads.set_closed(c, THREAD, True))
        raw = sign(answer(moderation, "approve", "Thank you, Ann."), KEY)
        result = await send(daemon, raw, rcpt, AUTHOR_EMAIL)
        assert result.startswith(f"250 2.0.0 Done: comment {comment_id} is approved;")
        assert "your answer was not published: this conversation is closed" in result
        assert await status_of(daemon, comment_id) == "approved"
        assert await daemon.store.read(lambda c: _children(c, comment_id)) == []
