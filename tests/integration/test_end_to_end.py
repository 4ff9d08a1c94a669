"""The whole loop with real parts only, the daemon in its own process.

`mailbridge import` and `mailbridge serve` run as a user would run them; a real
SMTP client (smtplib) answers the notification mailbridge wrote, links are
followed over HTTP (GET, then POST), and every email is read back from the
Maildir that mailbridge delivers to.
"""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from pg import database_for, store_option
from support import (
    SEED_WXR,
    THREAD,
    free_port,
    is_notification,
    moderation_links,
    read_maildir,
    reply_address,
    reply_to_notification,
    text_body,
)

from mailbridge.store.postgres import redacted


def mailbridge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbridge", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_env(),
    )


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}


class Daemon:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.http_port = free_port()
        self.smtp_port = free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.config = workdir / "mailbridge.toml"
        # The suite's engine: under --store=postgresql the data directory's database.
        pg = store_option() == "postgresql"
        self.data_url = database_for(workdir / "data") if pg else ""
        self.config.write_text(
            f'data_dir = "data"\ndata_url = "{self.data_url}"\n'
            f'[site]\npublic_url = "{self.base}"\n'
            f'[smtp]\nlisten = "127.0.0.1:{self.smtp_port}"\n'
            f'[http]\nlisten = "127.0.0.1:{self.http_port}"\n'
            # No internet DNS here: say so, and accept replies as unverified.
            '[auth]\ndns = "off"\nwhen_dns_unavailable = "accept"\n'
            "[notifications]\nbatch_window_seconds = 0\n"
        )
        self.maildir = workdir / "data" / "outbox"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mailbridge", "serve", "--config", str(self.config)],
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert self.process.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                return "".join(lines)
        self.process.kill()
        raise AssertionError(
            "daemon did not start:\n" + "".join(lines) + self.process.stderr.read()
        )

    def stop(self) -> tuple[int, str]:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        _out, err = self.process.communicate(timeout=30)
        return self.process.returncode, err

    def wait_for_mail(self, count: int) -> list[EmailMessage]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            mails = read_maildir(self.maildir)
            if len(mails) >= count:
                return mails
            time.sleep(0.05)
        raise AssertionError(f"expected {count} emails in {self.maildir}")

    def http(self, method: str, url: str, body: dict[str, object] | None = None) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def published(self) -> dict[int, dict[str, object]]:
        status, body = self.http("GET", f"{self.base}/api/threads/{THREAD}/comments")
        assert status == 200
        found: dict[int, dict[str, object]] = {}
        pending = json.loads(body)["comments"]
        while pending:
            node = pending.pop()
            found[node["id"]] = node
            pending.extend(node["replies"])
        return found


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    yield d
    if d.process is not None and d.process.poll() is None:
        d.process.kill()
        d.process.wait(timeout=10)


def test_the_whole_loop(daemon: Daemon) -> None:
    imported = mailbridge(
        "import", "--config", str(daemon.config), str(SEED_WXR), cwd=daemon.workdir
    )
    assert imported.returncode == 0, imported.stderr
    assert "243 comment(s) added" in imported.stdout

    banner = daemon.start()
    assert f"127.0.0.1:{daemon.smtp_port}" in banner and daemon.base in banner
    if daemon.data_url:  # the URL without its password
        assert redacted(daemon.data_url) in banner and "mailbridge.sqlite3" not in banner
        assert "mailbridge:mailbridge@" not in banner
    else:
        assert str(daemon.workdir / "data" / "mailbridge.sqlite3") in banner
    assert daemon.http("GET", f"{daemon.base}/healthz")[0] == 200
    assert len(daemon.published()) == 243

    # 1. A reader answers comment 2 on the web and asks to hear back.
    status, body = daemon.http(
        "POST",
        f"{daemon.base}/api/threads/{THREAD}/comments",
        {
            "author": "Ann",
            "email": "ann@example.com",
            "parent": 2,
            "notify": True,
            "body": "Ann here: the “second best” line stayed with me.",
        },
    )
    assert status == 202
    ann_id = json.loads(body)["id"]

    # 2. Ann is asked to confirm her address (double opt-in) and does, GET then POST.
    mails = daemon.wait_for_mail(2)
    [confirmation] = [m for m in mails if m["To"].addresses[0].addr_spec == "ann@example.com"]
    confirm = re.search(r"^(http\S+/confirm/\S+)$", text_body(confirmation), re.MULTILINE)
    assert confirm, text_body(confirmation)
    assert "Confirm your email address" in daemon.http("GET", confirm.group(1))[1]
    assert "confirmed" in daemon.http("POST", confirm.group(1))[1]

    # 3. The blog author gets a moderation email; GET shows, POST approves.
    [moderation] = [m for m in mails if m["To"].addresses[0].addr_spec == "author@example.org"]
    approve = moderation_links(moderation)["approve"]
    status, page = daemon.http("GET", approve)
    assert status == 200 and "Approve this comment?" in page
    assert ann_id not in daemon.published()
    status, page = daemon.http("POST", approve)
    assert status == 200 and "Done" in page
    assert ann_id in daemon.published()

    # 4. The author of comment 2 is notified, with a reply address.
    mails = daemon.wait_for_mail(3)
    notification = next(m for m in mails if is_notification(m))
    assert notification["To"].addresses[0].addr_spec == "reader002.4a549d@example.org"
    assert "the “second best” line" in text_body(notification)

    # 5. They answer by replying to the email, through a real SMTP client.
    reply = reply_to_notification(
        notification,
        "Thank you Ann. It stayed with me too.",
        message_id="<e2e-reply@phone.example>",
    )
    with smtplib.SMTP("127.0.0.1", daemon.smtp_port, timeout=10) as client:
        refused = client.send_message(reply, to_addrs=[reply_address(notification)])
    assert refused == {}

    # 6. Their reply awaits moderation; the author approves it (GET, then POST).
    mails = daemon.wait_for_mail(4)
    second = next(m for m in mails if "by Reader 002" in str(m["Subject"]))
    assert "Thank you Ann. It stayed with me too." in text_body(second)
    # The quote was cut away from the comment; the moderator sees it apart, as cut.
    comment_part, cut_part = text_body(second).split("What was cut from the email", 1)
    assert "On Wed, 25 Nov 2026" not in comment_part
    assert "On Wed, 25 Nov 2026" in cut_part
    approve = moderation_links(second)["approve"]
    assert daemon.http("GET", approve)[0] == 200
    assert daemon.http("POST", approve)[0] == 200
    published = daemon.published()
    reply_comment = next(c for c in published.values() if c["parent"] == ann_id)
    assert reply_comment["author"] == "Reader 002"
    assert reply_comment["body"] == "Thank you Ann. It stayed with me too."

    # 7. Ann, who asked to hear back, gets the final notification in the Maildir,
    #    with one-click unsubscribe.
    mails = daemon.wait_for_mail(5)
    final = [
        m
        for m in mails
        if m["To"].addresses[0].addr_spec == "ann@example.com" and is_notification(m)
    ]
    assert len(final) == 1
    assert "Thank you Ann. It stayed with me too." in text_body(final[0])
    assert reply_address(final[0]).startswith("reply+")
    assert final[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # 8. SIGTERM stops it cleanly.
    code, err = daemon.stop()
    assert code == 0, err
    assert "Stopped." in err


def test_cli_refuses_bad_config_readably(daemon: Daemon) -> None:
    daemon.config.write_text('[smtp]\nlisten_on = "127.0.0.1:25"\n')
    result = mailbridge("serve", "--config", str(daemon.config), cwd=daemon.workdir)
    assert result.returncode == 1
    assert "unknown key 'listen_on'" in result.stderr and "did you mean 'listen'" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_explained(daemon: Daemon) -> None:
    import socket

    with socket.create_server(("127.0.0.1", daemon.smtp_port)):
        result = mailbridge("serve", "--config", str(daemon.config), cwd=daemon.workdir)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{daemon.smtp_port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_site_port_in_use_is_explained(daemon: Daemon) -> None:
    import socket

    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        result = mailbridge(
            "serve", "--config", str(daemon.config), f"--demo-site=127.0.0.1:{port}",
            cwd=daemon.workdir,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"--demo-site: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_lets_replies_in_data_finish(daemon: Daemon) -> None:
    # docs/operating.md: a stop "lets messages in the middle of DATA finish (up to
    # 30 s)". It waited only for messages already received whole: the senders still
    # sending theirs (a photo over a slow line) were cut off, to send it all again.
    daemon.start()
    assert daemon.process is not None and daemon.process.stderr is not None
    clients = []
    for n in range(3):
        client = smtplib.SMTP("127.0.0.1", daemon.smtp_port, timeout=30)
        client.ehlo("client.example")
        client.mail("someone@client.example")
        client.rcpt("postmaster@reply.example.org")
        client.putcmd("data")
        assert client.getreply()[0] == 354
        client.send(
            b"From: someone@client.example\r\nSubject: at the stop\r\n"
            b"Message-ID: <stop-%d@client.example>\r\n\r\nThe first half," % n
        )
        clients.append(client)
    daemon.process.send_signal(signal.SIGTERM)
    # The daemon says it waits for them; without it, it went on and exited (EOF).
    said = ""
    while "in DATA" not in said:
        line = daemon.process.stderr.readline()
        assert line, f"the daemon stopped without waiting for DATA:\n{said}"
        said += line
    assert "waiting for 3 SMTP message(s) in DATA" in said
    for client in clients:
        client.send(b" and the second.\r\n.\r\n")
        code, text = client.getreply()
        # Committed: the answer names the inbound row it was filed as.
        assert code == 250 and re.fullmatch(
            rb"2\.0\.0 Received for the postmaster \(inbound \d+\)", text
        )
        client.close()
    _out, rest = daemon.process.communicate(timeout=60)
    assert daemon.process.returncode == 0, said + rest
    assert "Stopped." in rest
    listed = mailbridge("inbound", "--config", str(daemon.config), "--search", "stop-",
                        cwd=daemon.workdir)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert sorted(re.findall(r"<stop-\d@client\.example>", listed.stdout)) == [
        f"<stop-{n}@client.example>" for n in range(3)
    ]
