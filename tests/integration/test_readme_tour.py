"""The README's tour, its shell commands read from README.md (tests/readme.py) and run
as written, the daemon in its own process on free ports: import, post a comment (the
curl command), approve it, the notification, then the documented reply command, and
the reply waits for moderation as a new comment under Ann's.

Only what a test must change is changed: the ports (127.0.0.1:8080 and :2525 are
someone else's on a shared machine), ``.venv/bin/mailbridge`` (this interpreter runs
mailbridge), and no internet DNS (``auth.dns = off``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from readme import sh_blocks
from support import (
    SEED_WXR,
    THREAD,
    free_port,
    is_notification,
    moderation_links,
    read_maildir,
    text_body,
)

pytestmark = pytest.mark.requires_program("curl", package="curl")

MAILBRIDGE = f"{sys.executable} -m mailbridge"
REPLY_TEXT = "Thank you, Ann. I am glad it helped."


class Tour:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.http_port, self.smtp_port = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}
        self.env.update(
            MAILBRIDGE_HTTP_LISTEN=f"127.0.0.1:{self.http_port}",
            MAILBRIDGE_SMTP_LISTEN=f"127.0.0.1:{self.smtp_port}",
            MAILBRIDGE_SITE_PUBLIC_URL=f"http://127.0.0.1:{self.http_port}",
            # What the README suggests for the demo.
            MAILBRIDGE_NOTIFICATIONS_BATCH_WINDOW_SECONDS="0",
            MAILBRIDGE_AUTH_DNS="off",
        )
        self.outbox = workdir / "var" / "outbox"
        self.process: subprocess.Popen[str] | None = None

    def shell(self, command: str) -> str:
        command = command.replace(".venv/bin/mailbridge", MAILBRIDGE)
        command = command.replace("127.0.0.1:8080", f"127.0.0.1:{self.http_port}")
        done = subprocess.run(
            ["sh", "-c", command],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
        return done.stdout

    def serve(self) -> None:
        self.process = subprocess.Popen(
            # The README's --demo-site, on a free port instead of 8081.
            [
                sys.executable,
                "-m",
                "mailbridge",
                "serve",
                "--demo-site",
                f"127.0.0.1:{free_port()}",
            ],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:  # bounded: serve prints a dozen lines, or exits
            if line.startswith("Press Ctrl-C"):
                return
        raise AssertionError(f"serve exited with {self.process.wait(timeout=10)}")

    def mail_where(self, predicate: object, what: str) -> EmailMessage:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = [m for m in read_maildir(self.outbox) if predicate(m)]  # type: ignore[operator]
            if found:
                return found[-1]
            time.sleep(0.1)
        raise AssertionError(f"no {what} in {self.outbox}")

    def post(self, url: str) -> str:
        request = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())


@pytest.fixture
def tour(tmp_path: Path) -> Iterator[Tour]:
    started = Tour(tmp_path)
    yield started
    if started.process is not None:
        started.process.send_signal(signal.SIGTERM)
        try:
            started.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            started.process.kill()
            started.process.wait(timeout=10)
        if started.process.stdout is not None:
            started.process.stdout.close()


def is_moderation(mail: EmailMessage) -> bool:
    return "Approve (publish it):" in text_body(mail)


def test_the_readme_tour_ends_with_the_documented_reply_filed(tour: Tour) -> None:
    start, post_comment, send_reply = sh_blocks("Try it")
    assert start.endswith(
        "&& .venv/bin/mailbridge import examples/thread.wxr.xml "
        "&& .venv/bin/mailbridge serve --demo-site"
    )
    tour.shell(f"{MAILBRIDGE} import {SEED_WXR}")
    tour.serve()

    posted = json.loads(tour.shell(post_comment))
    assert posted["status"] == "pending"

    moderation = tour.mail_where(is_moderation, "moderation email")
    assert "This helped, thank you." in text_body(moderation)
    assert "Done" in tour.post(moderation_links(moderation)["approve"])

    notification = tour.mail_where(is_notification, "notification")
    # The case that broke naive scripts: the Reply-To field spans lines in the file.
    assert notification["Reply-To"].addresses[0].addr_spec.startswith("reply+")

    said = tour.shell(send_reply)

    author = notification["To"].addresses[0].addr_spec
    assert f"from {author}" in said
    second = tour.mail_where(
        lambda m: is_moderation(m) and REPLY_TEXT in text_body(m), "moderation email for the reply"
    )
    assert "Ann" in text_body(second)  # it answers Ann's comment
    # Pending: not on the page until a moderator approves it.
    with urllib.request.urlopen(
        f"http://127.0.0.1:{tour.http_port}/api/threads/{THREAD}/comments", timeout=10
    ) as response:
        assert REPLY_TEXT not in response.read().decode()
