"""A private Postfix (Debian's postfix 3.7) on loopback ports, for the tests of mailbridge
behind Postfix: the operator's existing Postfix plus deploy/postfix/main.cf, as
docs/postfix.md tells operators to add it.

Everything lives in one temporary directory (configuration, queue, log); the instance
listens on 127.0.0.1 only, and "the internet" it delivers to is a relayhost on a loopback
port (the tests' sink), so nothing looks up DNS. Postfix's master must start as root;
without root the tests are skipped with that reason.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from programs import find_program, unavailable
from support import free_port

DEPLOYED = Path(__file__).resolve().parents[1] / "deploy" / "postfix" / "main.cf"

# The operator's own Postfix, before mailbridge: an ordinary MTA that relays for its own
# host (mynetworks: 127.0.0.1 only, so a test client on 127.0.0.2 is "the internet") and
# retries quickly, so that a deferral is seen within seconds.
_BASE = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mx.test.invalid
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 no local mail here
alias_maps =
alias_database =
mynetworks = 127.0.0.1/32
relayhost = [127.0.0.1]:{internet_port}
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 1s
biff = no
"""

_MASTER = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def deployed_lines(reply_domain: str, mailbridge_port: int) -> str:
    """deploy/postfix/main.cf with the reply domain and mailbridge's port filled in."""
    text = DEPLOYED.read_text()
    assert "reply.example.org" in text and "[127.0.0.1]:2525" in text
    text = text.replace("[127.0.0.1]:2525", f"[127.0.0.1]:{mailbridge_port}")
    return text.replace("reply.example.org", reply_domain)


@dataclass
class Postfix:
    root: Path
    port: int  # its SMTP service: the reply domain's MX, and mailbridge's relay

    @property
    def config(self) -> Path:
        return self.root / "etc"

    def log(self) -> str:
        path = self.root / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def queued(self) -> int:
        """Messages in Postfix's queue (deferred or on their way)."""
        shown = subprocess.run(
            ["postqueue", "-c", str(self.config), "-j"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return len([line for line in shown.stdout.splitlines() if line.strip()])

    async def wait_log(self, pattern: str, seconds: float = 30.0) -> re.Match[str]:
        """The first log line matching ``pattern`` (bounded wait)."""
        for _ in range(int(seconds * 10)):
            found = re.search(pattern, self.log(), re.MULTILINE)
            if found:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"no Postfix log line matching {pattern!r}:\n{self.log()}")

    def _started(self, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while "daemon started" not in self.log():
            if time.monotonic() > deadline:
                pytest.fail(f"Postfix did not start:\n{self.log()}", pytrace=False)
            time.sleep(0.1)

    def _postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["postfix", "-c", str(self.config), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip


@contextmanager
def postfix_instance(
    *, reply_domain: str, mailbridge_port: int, internet_port: int, extra: str = ""
) -> Iterator[Postfix]:
    """A Postfix started in a new temporary directory on a free port; stopped and removed.
    ``extra``: main.cf lines of the operator's own, after deploy/postfix/main.cf's."""
    if find_program("postfix") is None:
        unavailable("needs postfix from postfix: apt-get install postfix")
    if os.geteuid() != 0:
        pytest.skip("needs root: Postfix's master process starts as root")
    root = Path(tempfile.mkdtemp(prefix="mailbridge-postfix-"))
    root.chmod(0o755)  # the postfix user must reach its queue and data directories
    server = Postfix(root, free_port())
    try:
        for sub in ("etc", "spool", "data"):
            (root / sub).mkdir()
        shutil.chown(root / "data", "postfix")
        main = _BASE.format(root=root, internet_port=internet_port)
        main += "\n" + deployed_lines(reply_domain, mailbridge_port) + "\n" + extra
        (server.config / "main.cf").write_text(main)
        (server.config / "master.cf").write_text(_MASTER.format(port=server.port))
        started = server._postfix("start")
        if started.returncode != 0:
            pytest.fail(f"Postfix did not start:\n{started.stderr}\n{server.log()}", pytrace=False)
        server._started()
        yield server
    finally:
        server._postfix("abort")  # no graceful wait: the queue is thrown away
        shutil.rmtree(root, ignore_errors=True)
