"""Spam never reaches the moderator's inbox (issue 10): a spammy comment goes to the spam
folder with why and without a moderation email, even from a trusted writer; the
operator lists and rescues it; `mailbridge spam score` scores JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from flows import moderation_email, outbox_dir
from support import (
    THREAD,
    command_env,
    db_rows,
    db_value,
    read_maildir,
    started,
    text_body,
    until,
)

from mailbridge.app import Running
from mailbridge.cli import cli
from mailbridge.models import Channel, Decider
from mailbridge.tokens import Action

SPAMMY = "Check out my channel!!! http://spam.example/watch subscribe please"


async def post(daemon: Running, body: str, author: str = "Spammer") -> dict[str, Any]:
    host, port = daemon.http_address
    payload = {"author": author, "email": f"{author.lower()}@example.net", "body": body}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://{host}:{port}/api/threads/{THREAD}/comments", json=payload) as r,
    ):
        assert r.status == 202
        return dict(await r.json())


async def mb(*args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


def moderation_mails(daemon: Running) -> list[Any]:
    return [m for m in read_maildir(outbox_dir(daemon)) if "Approve (publish it):" in text_body(m)]


@pytest.mark.asyncio
async def test_spam_goes_to_the_folder_without_a_moderation_email(daemon: Running) -> None:
    answer = await post(daemon, SPAMMY)
    assert answer["status"] == "spam"
    ham = await post(daemon, "I found the part about empathy moving.", author="Reader")
    assert ham["status"] == "pending"
    await moderation_email(daemon, "Reader")
    await asyncio.sleep(0.3)
    assert [m for m in moderation_mails(daemon) if "Spammer" in str(m["Subject"])] == []
    data = ["--data-dir", str(daemon.settings.data_path)]
    listed = await mb("spam", "list", *data)
    assert listed.exit_code == 0 and f"{answer['id']:>7}" in listed.output
    assert "spam score" in listed.output and "promotion" in listed.output
    rescued = await mb("comment", str(answer["id"]), "--approve", *data)
    assert rescued.exit_code == 0 and "spam -> approved" in rescued.output


@pytest.mark.asyncio
async def test_trust_does_not_publish_spam(tmp_path: Path) -> None:
    async with started(tmp_path) as daemon:
        data = ["--data-dir", str(daemon.settings.data_path)]
        assert (await mb("trust", "add", "spammer@example.net", *data)).exit_code == 0
        assert (await post(daemon, SPAMMY))["status"] == "spam"
        assert (await post(daemon, "A fine, ordinary remark."))["status"] == "approved"


@pytest.mark.asyncio
async def test_scoring_can_be_turned_off(tmp_path: Path) -> None:
    async with started(tmp_path, spam={"enabled": False}) as daemon:
        assert (await post(daemon, SPAMMY))["status"] == "pending"


def test_spam_score_reads_and_writes_json_lines() -> None:
    lines = "\n".join(
        json.dumps(item)
        for item in (
            {"id": "a", "author": "x", "body": SPAMMY},
            {"id": "b", "author": "y", "body": "Thank you for this post."},
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "mailbridge", "spam", "score"],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(o["id"], o["spam"]) for o in out] == [("a", True), ("b", False)]
    assert all(0 <= o["score"] <= 1 for o in out)
    bad = subprocess.run(
        [sys.executable, "-m", "mailbridge", "spam", "score"],
        input="not json\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "line 1: expected a JSON object" in bad.stderr


@pytest.mark.asyncio
async def test_a_form_sent_within_two_seconds_is_scored_as_a_robots(daemon: Running) -> None:
    host, port = daemon.http_address
    endpoint = f"http://{host}:{port}/api/threads/{THREAD}/comments"
    base = {"author": "Quick", "email": "quick@example.net", "body": "Great post."}
    async with aiohttp.ClientSession() as session:
        async with session.post(endpoint, json={**base, "elapsed": 0.4}) as r:
            assert r.status == 202 and (await r.json())["status"] == "spam"
        async with session.post(
            endpoint, json={**base, "body": "Great post, really.", "elapsed": 45}
        ) as r:
            assert r.status == 202 and (await r.json())["status"] == "pending"
        for bad in (-1, "soon", True, 10**9):
            async with session.post(endpoint, json={**base, "elapsed": bad}) as r:
                assert r.status == 400 and (await r.json())["field"] == "elapsed"


@pytest.mark.parametrize("encoding", ["", "utf-8"])  # the C locale's stdin; a desktop's
def test_spam_score_and_train_refuse_hostile_lines_by_number(tmp_path: Path, encoding: str) -> None:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    if not encoding:
        env.pop("PYTHONIOENCODING")

    def run(*args: str, given: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "mailbridge", "spam", *args],
            input=given,
            capture_output=True,
            timeout=60,
            env=env,
        )

    good = b'{"id": 1, "body": "fine"}\n'
    for hostile, said in (
        (b'{"id": 2, "body": "caf\xe9"}\n', b"line 2: not UTF-8 text (byte 23)"),
        (b'{"id": "\\ud800", "body": "x"}\n', b"line 2: a string holds a lone surrogate"),
        (b"[" * 100_000 + b"\n", b"line 2: expected a JSON object"),
    ):
        done = run("score", given=good + hostile)
        assert done.returncode == 1 and said in done.stderr, done.stderr
        assert b"Traceback" not in done.stderr
        assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [1]
    data = tmp_path / "data"
    taught = run(
        "train", "--data-dir", str(data), given=b'{"body": "caf\xe9 au lait", "spam": true}\n'
    )
    assert taught.returncode == 1 and b"line 1: not UTF-8 text" in taught.stderr
    assert b"Traceback" not in taught.stderr and not data.exists()  # nothing learnt


@pytest.mark.asyncio
async def test_spam_train_on_a_running_daemons_data_keeps_its_comments_flowing(
    tmp_path: Path,
) -> None:
    # An old blog's spam folder taught while the daemon runs (docs/spam.md): the
    # daemon's writes wait for the command's, at most database_busy_timeout_seconds.
    limits = {"web_comments_per_ip_per_hour": 1000, "comments_per_thread_per_hour": 1000}
    async with started(tmp_path, limits=limits, database_busy_timeout_seconds=2.0) as daemon:
        words = [f"w{n}" for n in range(3000)]
        labelled = b"".join(
            json.dumps({"body": " ".join(words[(n * 7 + k) % 3000] for k in range(40)),
                        "spam": n % 2 == 0}).encode() + b"\n"
            for n in range(15_000)
        )  # fmt: skip
        args = ["--data-dir", str(daemon.settings.data_path)]
        train = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mailbridge", "spam", "train", *args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, **command_env(args)},
        )  # fmt: skip
        assert train.stdin is not None
        train.stdin.write(labelled)
        await train.stdin.drain()
        train.stdin.close()
        host, port = daemon.http_address
        url = f"http://{host}:{port}/api/threads/{THREAD}/comments"
        answers: list[int] = []
        async with aiohttp.ClientSession() as session:
            for n in range(600):  # bounded: the command ends long before
                if train.returncode is not None:
                    break
                payload = {"author": "Ann", "email": f"ann{n}@example.net",
                           "body": "A fair point, thank you.", "elapsed": 30}  # fmt: skip
                async with session.post(url, json=payload) as r:
                    answers.append(r.status)
                try:
                    await asyncio.wait_for(train.wait(), 0.1)
                except TimeoutError:
                    pass
        out, err = await train.communicate()
        assert train.returncode == 0, err
        assert b"Learnt 15000 comments" in out
        assert len(answers) >= 3 and set(answers) == {202}, answers


# Words the rules do not know: only training can tell these apart.
LEARNT_SPAM = "Zorblax tonic restores vigour, ask your pharmacist for zorblax tonic today"
LEARNT_HAM = "The transference you describe sounds like grief for the first therapist"


@pytest.mark.asyncio
async def test_moderators_decisions_train_the_filter_and_an_undo_unlearns(
    daemon: Running,
) -> None:
    from mailbridge.models import Channel, CommentStatus, Decider
    from mailbridge.spam import training
    from mailbridge.tokens import Action

    cli_decider = Decider(Channel.CLI, None)
    before = await post(daemon, f"{LEARNT_SPAM} (before)", author="Zorb0")
    assert before["status"] == "pending"  # the rules alone see nothing
    for n in range(10):
        spam = await post(daemon, f"{LEARNT_SPAM} number {n}", author=f"Zorb{n + 1}")
        ham = await post(daemon, f"{LEARNT_HAM}, part {n}", author=f"Reader{n}")
        await daemon.service.moderate(spam["id"], Action.SPAM, cli_decider)
        await daemon.service.moderate(ham["id"], Action.APPROVE, cli_decider)
    docs = await daemon.store.read(training.trained_docs)
    assert docs == (10, 10)
    after = await post(daemon, f"{LEARNT_SPAM}, really", author="Zorb99")
    assert after["status"] == "spam"
    data = ["--data-dir", str(daemon.settings.data_path)]
    listed = await mb("spam", "list", *data)
    assert "trained filter" in listed.output
    # Changing one's mind moves the comment from one side to the other, once.
    await daemon.service.moderate(ham["id"], Action.SPAM, cli_decider)
    assert await daemon.store.read(training.trained_docs) == (11, 9)
    # An undo back to pending forgets what the comment taught; a reject teaches nothing.
    await daemon.service.undo(ham["id"], CommentStatus.SPAM, CommentStatus.PENDING, cli_decider)
    await daemon.service.moderate(before["id"], Action.REJECT, cli_decider)
    assert await daemon.store.read(training.trained_docs) == (10, 9)


def test_spam_train_then_score_uses_the_trained_state(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    labelled = [{"body": f"{LEARNT_SPAM} {n}", "spam": True} for n in range(10)]
    labelled += [{"body": f"{LEARNT_HAM} {n}", "spam": False} for n in range(10)]
    stdin = "\n".join(json.dumps(item) for item in labelled)
    question = json.dumps({"id": 7, "author": "z", "body": LEARNT_SPAM})

    def run(*args: str, given: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailbridge", "spam", *args, *data],
            input=given,
            capture_output=True,
            text=True,
            timeout=60,
        )

    untrained = json.loads(run("score", given=question).stdout)
    assert untrained["spam"] is False and not (tmp_path / "data").exists()  # nothing created
    trained = run("train", given=stdin)
    assert trained.returncode == 0, trained.stderr
    assert "knows 10 spam and 10 ham" in trained.stdout
    scored = json.loads(run("score", given=question).stdout)
    assert scored["spam"] is True and scored["signals"][-1].startswith("trained filter")
    bad = run("train", given=json.dumps({"body": "x", "spam": "yes"}))
    assert bad.returncode == 1 and '"spam" must be true or false' in bad.stderr


@pytest.mark.asyncio
async def test_the_threads_own_script_and_links_are_known_to_the_scorer(daemon: Running) -> None:
    cyrillic = await post(daemon, "Отличная статья, спасибо! Подробнее здесь http://shop.example")
    assert cyrillic["status"] == "spam"
    listed = await mb("spam", "list", "--data-dir", str(daemon.settings.data_path))
    assert "written in Cyrillic, the thread in Latin" in listed.output
    thread_url = daemon.settings.site.public_url  # the seed thread lives under the site
    own = await post(daemon, f"I answered this above: {thread_url}/#comment-2", author="Reader")
    assert own["status"] == "pending"


@pytest.mark.asyncio
async def test_two_readers_writing_the_same_thanks_both_reach_the_moderator(
    daemon: Running,
) -> None:
    # Two real people write one common sentence: the second is no bot's paste.
    thanks = "Great article, thanks for sharing."
    assert (await post(daemon, thanks, author="Ann"))["status"] == "pending"
    assert (await post(daemon, thanks, author="Bob"))["status"] == "pending"
    await moderation_email(daemon, "Bob", count=2)
    # A long text pasted under another name still reads as a robot's.
    paste = (
        "Hello dear friends, I am new here and I would like to share "
        "with all of you something that changed my whole life today"
    )
    assert (await post(daemon, paste, author="Carl"))["status"] == "pending"
    answer = await post(daemon, paste, author="Dora")
    assert answer["status"] == "spam"
    reason = await db_value(daemon, "SELECT held_reason FROM comments WHERE id = ?", answer["id"])
    assert "same text as other comments" in reason


async def _confirmations_to(daemon: Running, address: bytes) -> list[bytes]:
    new = daemon.settings.data_path / "outbox" / "new"
    raws = [p.read_bytes() for p in sorted(new.iterdir())] if new.is_dir() else []
    return [r for r in raws if b"Subject: Confirm: emails from" in r and address in r]


@pytest.mark.asyncio
async def test_spam_sends_no_confirmation_until_it_is_rescued(daemon: Running) -> None:
    # A robot types anyone's address and asks for emails: nobody is mailed for its spam.
    host, port = daemon.http_address
    url = f"http://{host}:{port}/api/threads/{THREAD}/comments"
    comments = (
        {"author": "Promo", "email": "victim@example.net", "body": SPAMMY, "notify": True},
        {"author": "Trap", "email": "other@example.net", "body": "Hello.", "notify": True,
         "website": "http://spam.example"},
        {"author": "Reader", "email": "reader@example.net", "body": "A fair point, thank you.",
         "notify": True},
    )  # fmt: skip
    async with aiohttp.ClientSession() as session:
        for payload in comments:
            async with session.post(url, json=payload) as r:
                assert r.status == 202
    await moderation_email(daemon, "Reader")
    await until("the reader's confirmation", lambda: _confirmations_to(daemon, b"reader@"))
    assert await _confirmations_to(daemon, b"victim@") == []
    assert await _confirmations_to(daemon, b"other@") == []
    # The author rescues it (a link): its writer gets the confirmation they asked for.
    [(spam_id,)] = await db_rows(daemon, "SELECT id FROM comments WHERE author = 'Promo'")
    await daemon.service.moderate(spam_id, Action.APPROVE, Decider(Channel.LINK, None))
    await until("the rescued writer's confirmation", lambda: _confirmations_to(daemon, b"victim@"))


def test_spam_list_refuses_days_out_of_range(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    for days in ("100000000", "-3", "0"):
        done = CliRunner().invoke(cli, ["spam", "list", "--days", days, *data])
        assert done.exit_code == 2 and "--days" in done.output, done.output
        assert done.exception is None or isinstance(done.exception, SystemExit)
    assert CliRunner().invoke(cli, ["spam", "list", "--days", "36500", *data]).exit_code == 0


@pytest.mark.asyncio
async def test_spam_list_says_what_it_leaves_out_after_a_robot_run(tmp_path: Path) -> None:
    """It printed the newest 200 and "Rescue one with ...", as if they were all."""
    limits = {"web_comments_per_ip_per_hour": 1000, "comments_per_thread_per_hour": 1000}
    async with started(tmp_path, limits=limits) as daemon:
        for n in range(203):
            assert (await post(daemon, f"{SPAMMY} {n}", author=f"Robot{n}"))["status"] == "spam"
        listed = await mb("spam", "list", "--data-dir", str(daemon.settings.data_path))
    assert listed.exit_code == 0
    assert listed.output.count("spam score") == 200
    assert "And 3 older ones of the last 7 days, not listed" in listed.output
