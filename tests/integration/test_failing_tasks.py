"""What `mailbridge status` says of the tasks the daemon tries again and again (the
mailbox, the periodic jobs), from the table it writes each try's outcome to
(sql/0034): on the store, and through a daemon and the command. The real failures
(Dovecot refusing the login, a digest template that fails) are in
test_alert_rules.py, with the alerts they fire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import FakeClock, db_rows, import_seed, make_settings, no_dmarc_zone

from mailbridge.app import running
from mailbridge.cli import cli
from mailbridge.jobs import Periodic
from mailbridge.jobs.failure_log import FailureLog, one_line
from mailbridge.store import Store
from mailbridge.store.failing import failed, failing


def test_one_line_masks_addresses_and_flattens() -> None:
    said = "LOGIN as Ann.Lee+mb@example.org refused\r\n  for <bob@mail.example.net>"
    assert one_line(said) == "LOGIN as ***@example.org refused for <***@mail.example.net>"
    assert one_line("x" * 500) == "x" * 299 + "…"


@pytest.mark.asyncio
async def test_failures_in_a_row_then_one_success_clears_them(store: Store) -> None:
    clock = FakeClock()
    first = clock.now()
    log = FailureLog(store, clock)
    await log.failed("imap", "imap.example.org:993: LOGIN: the server answered NO")
    clock.advance(60)
    await log.failed("imap", "imap.example.org:993: no answer within 30 s")
    [row] = await store.read(failing)
    assert (row.name, row.failures) == ("imap", 2)
    assert row.since == first.isoformat(timespec="seconds")
    assert row.last_at == clock.now().isoformat(timespec="seconds")
    assert row.last_error == "imap.example.org:993: no answer within 30 s"
    # Another process (a restart) that succeeds at once: the row left is gone.
    other = FailureLog(store, clock)
    await other.succeeded("imap")
    assert await store.read(failing) == []
    # The mailbox's lead went to the first daemon, which failed, and came back: the
    # other's next success clears it (ImapInbox.run says the lead came back).
    await log.failed("imap", "LOGIN refused")
    other.may_have_failed("imap")
    await other.succeeded("imap")
    assert await store.read(failing) == []


@pytest.mark.asyncio
async def test_a_run_by_another_daemon_clears_a_failure_of_this_one(store: Store) -> None:
    # Daemons sharing a database take turns at a job: B ran it fine, A's run failed
    # (a template A's host has), B's next run succeeded. The line must go then: B's
    # success did not write it off when B believed it had cleared it already.
    t = [1000.0]
    clock = FakeClock()

    async def ok(conn: object) -> int:
        return 0

    async def broken(conn: object) -> int:
        raise RuntimeError("the digest template failed")

    def job(owner: str, work: object) -> Periodic:
        return Periodic(
            store, work, 3600.0, lambda: None, "moderation digest",  # type: ignore[arg-type]
            name="moderation-digest", owner=owner, at_start=True, now=lambda: t[0],
            failure_log=FailureLog(store, clock),
        )  # fmt: skip

    a, b = job("a", broken), job("b", ok)
    await b.start()  # ran, fine
    t[0] += 4000.0  # due again
    await a.start()  # failed: still due
    [row] = await store.read(failing)
    assert (row.name, row.failures, row.last_error) == (
        "moderation-digest",
        1,
        "RuntimeError: the digest template failed",
    )
    await b.start()  # B's turn, fine
    assert await store.read(failing) == []


async def status_output(data_dir: Path) -> str:
    shown = await asyncio.to_thread(
        CliRunner().invoke, cli, ["status", "--data-dir", str(data_dir)], env={}
    )
    assert shown.exit_code == 0, shown.output
    return str(shown.output)


@pytest.mark.asyncio
async def test_a_daemon_not_running_a_task_drops_its_failures(tmp_path: Path) -> None:
    # The mailbox and the spam report were failing when the operator turned them off:
    # nothing tries them now, so `status` must not go on saying they fail.
    settings = make_settings(tmp_path, spam={"enabled": False})
    await import_seed(settings)
    at = "2026-12-01T00:00:00+00:00"
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        for name in ("imap", "spam-report"):
            await daemon.store.write(lambda c, name=name: failed(c, name, "LOGIN refused", at))
    shown = await status_output(settings.data_path)  # the daemon stopped: still said
    assert f"1 IMAP session(s) failed in a row since {at}" in shown, shown
    assert f"1 run(s) of the spam-report job failed in a row since {at}" in shown, shown
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        assert await db_rows(daemon, "SELECT name FROM failing_tasks") == []
    assert "Recent errors: none" in await status_output(settings.data_path)


def test_a_password_with_at_signs_is_hidden_whole() -> None:
    """Before, the address rule cut a URL's password at its first "@" and showed the
    rest as a domain: `status` (pasted into tickets) read "mb:***@ss@***@db...",
    i.e. part of the database's password."""
    said = "connect to postgresql://mb:p@ss@word@db.example.org:5432/mb failed"
    assert one_line(said) == "connect to postgresql://***@db.example.org:5432/mb failed"
    assert "word" not in one_line("imap://bob%40example.org:s3cr@t@word@imap.example.org/")


@pytest.mark.asyncio
async def test_the_settings_passwords_never_reach_status(store: Store, tmp_path: Path) -> None:
    """An IMAP server or a library that quotes the password in its error: the mailbox's
    password "hunter@2x.org" was shown as "***@2x.org" (its end, read as a domain)."""
    from mailbridge.jobs.schedule import secrets_of

    settings = make_settings(
        tmp_path, imap={"host": "imap.example.org", "user": "mb", "password": "hunter@2x.org"}
    )
    log = FailureLog(store, FakeClock(), secrets_of(settings))
    await log.failed("imap", "LOGIN mb hunter@2x.org: the server answered NO")
    [row] = await store.read(failing)
    assert row.last_error == "LOGIN mb ***: the server answered NO"
