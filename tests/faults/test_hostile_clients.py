"""Clients that hold the SMTP service: thousands of idle connections (from many loopback
addresses, as from many hosts), one that stalls in the middle of DATA, one that hangs
up in the middle of a message. Meanwhile the daemon stays responsive: /healthz answers
every time it is asked, and a real reply sent in the middle of it all is filed. The
half-sent messages are never filed.

/healthz's latency is measured and printed (the issue's goal is 100 ms: a median of about
1 ms, up to about 100 ms while the 2,000 connections arrive from this same process's
threads); the assertion is a looser bound (a second), since tests assert behaviour, not
timings.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import pytest
from flows import approve, moderation_email, notification_for, post_comment
from support import db_rows, reply_address, reply_to_notification, smtp_send, started

ADDRESSES = 200  # loopback source addresses 127.0.1.1 ... (each its own "host")
PER_ADDRESS = 10  # limits.smtp_connections_per_ip's default: all of them are let in
IDLE = ADDRESSES * PER_ADDRESS


def enough_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files; this machine allows {hard} (ulimit -n)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def open_idle(host: str, port: int, source: str) -> socket.socket | None:
    """A connection that reads the greeting, then says nothing. Blocking, run in threads:
    the clients must not share the daemon's event loop, or they would slow it down
    themselves and the measurement would be of the test."""
    try:
        sock = socket.create_connection((host, port), timeout=10, source_address=(source, 0))
        if not sock.recv(512).startswith(b"220"):
            sock.close()
            return None
    except OSError:
        return None
    return sock


def open_all(host: str, port: int, sources: list[str]) -> list[socket.socket]:
    with ThreadPoolExecutor(16) as pool:  # sixteen "hosts" connecting at any moment
        found = pool.map(lambda s: open_idle(host, port, s), sources * PER_ADDRESS)
        return [sock for sock in found if sock is not None]


async def healthz_times(base: str, stop: asyncio.Event) -> list[float]:
    times: list[float] = []
    async with aiohttp.ClientSession() as session:
        while not stop.is_set() and len(times) < 500:
            began = time.monotonic()
            async with session.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(5)) as resp:
                assert resp.status == 200, await resp.text()
            times.append(time.monotonic() - began)
            await asyncio.sleep(0.05)
    return times


@pytest.mark.asyncio
async def test_idle_stalled_and_truncated_clients_do_not_stop_the_daemon(
    tmp_path: Path,
) -> None:
    enough_files(2 * IDLE + 1000)  # both ends of every connection live in this process
    async with started(tmp_path, smtp={"timeout_seconds": 120}) as daemon:
        comment_id = await post_comment(daemon, parent=2, body="Answering you.")
        await approve(daemon, await moderation_email(daemon, "Ann"))
        [(person,)] = await db_rows(
            daemon,
            "SELECT a.email FROM comments c JOIN addresses a ON a.id = c.address_id WHERE c.id = 2",
        )
        notice = await notification_for(daemon, person, 2)
        host, port = daemon.smtp_address
        http_host, http_port = daemon.http_address
        stop = asyncio.Event()
        watching = asyncio.create_task(healthz_times(f"http://{http_host}:{http_port}", stop))
        try:
            # Thousands of connections that say nothing after the greeting.
            sources = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(ADDRESSES)]
            opened = await asyncio.to_thread(open_all, host, port, sources)
            assert len(opened) == IDLE

            # One that stalls in the middle of DATA, one that hangs up in the middle.
            rcpt = reply_address(notice)
            half = reply_to_notification(notice, "Half of what I wanted to say", sender=person)
            stalled_r, stalled = await asyncio.open_connection(host, port)
            cut_r, cut = await asyncio.open_connection(host, port)
            for reader, writer in ((stalled_r, stalled), (cut_r, cut)):
                await reader.readline()
                writer.write(
                    f"EHLO x\r\nMAIL FROM:<{person}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode()
                )
                writer.write(half.as_bytes()[:300])  # no end of DATA
                await writer.drain()
            cut.close()  # hung up mid-message

            # A real reply in the middle of it all is answered and filed.
            reply = reply_to_notification(
                notice, "Sent while others held the line.", sender=person,
                message_id="<whole@client.example>",
            )  # fmt: skip
            answer = await smtp_send(daemon, person, rcpt, reply.as_bytes())
            assert answer.startswith("250"), answer
            await asyncio.sleep(1)
        finally:
            stop.set()
            times = await watching
            for sock in opened:
                sock.close()
            stalled.close()
        filed = await db_rows(
            daemon, "SELECT parent_id, body FROM comments WHERE id > ?", comment_id
        )
        assert filed == [(comment_id, "Sent while others held the line.")]  # and not the halves
    print([round(t * 1000) for t in times])
    times.sort()
    assert times and times[-1] < 1.0
    print(
        f"{IDLE} idle connections, 1 stalled in DATA, 1 cut: /healthz asked {len(times)} "
        f"times, median {times[len(times) // 2] * 1000:.1f} ms, "
        f"max {times[-1] * 1000:.1f} ms"
    )
