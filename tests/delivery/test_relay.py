"""The SMTP relay transport against real aiosmtpd sinks: kept connections, TLS, AUTH."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from delivery.outboxkit import queue, rows, worker
from delivery.sinks import Accounts, WatchingSink, serving
from delivery.tlskit import TestCA, make_ca
from support import FakeClock, free_port

from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.relay import RelayConfig, SmtpTransport
from mailbridge.store import Store, outbox

MSG = b"Message-ID: <one@test>\r\nSubject: one\r\n\r\nbody\r\n"


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return make_ca(tmp_path / "tls")


@pytest.mark.asyncio
async def test_a_batch_goes_over_one_kept_connection(store: Store) -> None:
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            clock = FakeClock()
            await queue(store, [f"r{i}@example.net" for i in range(10)], at=clock.now())
            assert await worker(store, transport, clock).deliver_due() == 10
            await queue(store, ["later@example.net"], at=clock.now(), prefix="later")
            assert await worker(store, transport, clock).deliver_due() == 1
        finally:
            await transport.aclose()
    assert sink.count() == 11 and sink.connections == 1
    assert transport.connections_opened == 1
    assert {r[1] for r in await rows(store)} == {"sent"}


@pytest.mark.asyncio
async def test_concurrent_sends_use_at_most_max_connections() -> None:
    sink = WatchingSink(hold=0.05)
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port, max_connections=3))
        try:
            await asyncio.gather(
                *(transport.send("b@example.org", f"r{i}@example.net", MSG) for i in range(12))
            )
        finally:
            await transport.aclose()
    assert sink.count() == 12
    assert sink.connections == 3 and sink.peak_total == 3


@pytest.mark.asyncio
async def test_reconnects_when_the_relay_timed_the_connection_out() -> None:
    sink = WatchingSink()
    # aiosmtpd closes a connection idle for 0.3 s, as relays do after a few minutes.
    with serving(sink, timeout=0.3) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port, idle_seconds=60))
        try:
            await transport.send("b@example.org", "r@example.net", MSG)
            await asyncio.sleep(0.8)
            await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert sink.count() == 2 and sink.connections == 2


@pytest.mark.asyncio
async def test_reconnects_when_the_kept_connection_answers_rset_with_421() -> None:
    # RSET probes a kept connection whose last transaction was refused.
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            sink.refuse_next = ["550 5.7.1 no"]
            with pytest.raises(PermanentDeliveryError):
                await transport.send("b@example.org", "r@example.net", MSG)
            sink.rset_answers = ["421 4.3.2 shutting down"]
            await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert sink.count() == 1 and sink.connections == 2
    assert [r.connection for r in sink.received] == [2]


@pytest.mark.asyncio
async def test_after_an_accepted_message_the_next_mail_from_is_the_probe() -> None:
    # The relay's 250 to DATA cleared its state: MAIL FROM follows at once, and a
    # relay gone meanwhile (421 to MAIL FROM) means a new connection, the message once.
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            await transport.send("b@example.org", "r@example.net", MSG)
            sink.rset_answers = ["500 5.5.1 no RSET expected here"]
            await transport.send("b@example.org", "r@example.net", MSG)
            sink.rset_answers = []
            sink.mail_answers = ["421 4.3.2 shutting down"]
            await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert [r.connection for r in sink.received] == [1, 1, 2]
    assert sink.mails == 4 and transport.connections_opened == 2


@pytest.mark.asyncio
async def test_a_kept_connection_refusing_the_sender_is_answered_on_a_new_one() -> None:
    # A refusal of MAIL FROM on an unprobed connection is not trusted (it may be a
    # relay in a bad state): asked again on a new connection, where it counts.
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            await transport.send("b@example.org", "r@example.net", MSG)
            sink.mail_answers = ["550 5.7.1 first", "550 5.7.1 sender refused"]
            with pytest.raises(PermanentDeliveryError, match="sender refused"):
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert sink.count() == 1 and transport.connections_opened == 2


@pytest.mark.asyncio
async def test_reconnects_after_the_relay_restarted() -> None:
    sink = WatchingSink()
    port = free_port()
    transport = SmtpTransport(RelayConfig("127.0.0.1", port))
    try:
        with serving(sink, port=port):
            await transport.send("b@example.org", "r@example.net", MSG)
        with serving(sink, port=port):
            await transport.send("b@example.org", "r@example.net", MSG)
    finally:
        await transport.aclose()
    assert sink.count() == 2


@pytest.mark.asyncio
async def test_kept_connection_is_closed_after_idle_seconds() -> None:
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port, idle_seconds=0.2))
        try:
            await transport.send("b@example.org", "r@example.net", MSG)
            await asyncio.sleep(0.5)
            await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert transport.connections_opened == 2


@pytest.mark.asyncio
async def test_a_refusal_keeps_the_connection_for_the_next_message() -> None:
    sink = WatchingSink()
    sink.refuse_next = ["550 5.1.1 no such user", "451 4.3.0 try later"]
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            with pytest.raises(PermanentDeliveryError, match="550 5.1.1 no such user"):
                await transport.send("b@example.org", "r@example.net", MSG)
            with pytest.raises(TemporaryDeliveryError, match="451 4.3.0"):
                await transport.send("b@example.org", "r@example.net", MSG)
            await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert sink.count() == 1 and transport.connections_opened == 1


@pytest.mark.asyncio
async def test_closed_transport_refuses_temporarily() -> None:
    transport = SmtpTransport(RelayConfig("127.0.0.1", free_port()))
    await transport.aclose()
    with pytest.raises(TemporaryDeliveryError, match="closed"):
        await transport.send("b@example.org", "r@example.net", MSG)


# TLS


@pytest.mark.asyncio
async def test_required_starttls_against_a_relay_without_it_is_temporary(store: Store) -> None:
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port, tls="required"))
        try:
            clock = FakeClock()
            await queue(store, ["r@example.net"], at=clock.now())
            await worker(store, transport, clock).deliver_due()
        finally:
            await transport.aclose()
    [(_mid, status, attempts, error)] = await rows(store)
    assert (status, attempts) == ("queued", 1)
    assert "does not offer STARTTLS" in error and "required" in error
    assert sink.count() == 0


@pytest.mark.asyncio
async def test_required_starttls_with_a_trusted_private_ca(ca: TestCA) -> None:
    sink = WatchingSink()
    with serving(sink, tls_context=ca.server_context(), require_starttls=True) as port:
        relay = RelayConfig("127.0.0.1", port, tls="required", ca_file=ca.ca_file)
        transport = SmtpTransport(relay)
        try:
            await transport.send("b@example.org", "r@example.net", MSG)
            await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert [r.tls for r in sink.received] == [True, True] and sink.connections == 1


@pytest.mark.asyncio
async def test_opportunistic_starttls_still_verifies_the_certificate(ca: TestCA) -> None:
    sink = WatchingSink()
    with serving(sink, tls_context=ca.server_context()) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))  # system CAs only
        try:
            with pytest.raises(TemporaryDeliveryError, match="certificate verify failed"):
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert sink.count() == 0


@pytest.mark.asyncio
async def test_implicit_tls(ca: TestCA) -> None:
    sink = WatchingSink()
    with serving(sink, ssl_context=ca.server_context()) as port:
        relay = RelayConfig("127.0.0.1", port, tls="implicit", ca_file=ca.ca_file)
        transport = SmtpTransport(relay)
        try:
            await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert transport.description == f"smtps://127.0.0.1:{port}"
    assert sink.count() == 1


@pytest.mark.asyncio
async def test_a_missing_ca_file_is_a_clear_temporary_error(tmp_path: Path) -> None:
    relay = RelayConfig("127.0.0.1", free_port(), ca_file=tmp_path / "nope.pem")
    transport = SmtpTransport(relay)
    with pytest.raises(TemporaryDeliveryError, match="cannot load the relay CA file"):
        await transport.send("b@example.org", "r@example.net", MSG)
    await transport.aclose()


@pytest.mark.asyncio
async def test_an_untrusted_certificate_on_465_says_which_setting_trusts_it(ca: TestCA) -> None:
    sink = WatchingSink()
    with serving(sink, ssl_context=ca.server_context()) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port, tls="implicit"))
        try:
            with pytest.raises(TemporaryDeliveryError) as refused:
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert "certificate verify failed" in refused.value.detail
    assert "outbound.relay_ca_file" in refused.value.detail
    assert sink.count() == 0


@pytest.mark.asyncio
async def test_a_certificate_for_another_name_is_refused_before_the_password(
    tmp_path: Path,
) -> None:
    # Trusted CA, but the certificate names relay.test, not the address we connect to.
    other = make_ca(tmp_path / "other", names=("relay.test",))
    sink, accounts = WatchingSink(), Accounts("blog", "s3cret")
    tls = other.server_context()
    with serving(sink, tls_context=tls, auth_required=True, authenticator=accounts) as port:
        transport = SmtpTransport(
            RelayConfig(
                "127.0.0.1", port, tls="required", ca_file=other.ca_file,
                username="blog", password="s3cret",
            )
        )  # fmt: skip
        try:
            with pytest.raises(TemporaryDeliveryError) as refused:
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert "not issued for '127.0.0.1'" in refused.value.detail
    assert "private CA" not in refused.value.detail  # trusting a CA would not help
    assert accounts.attempts == 0 and sink.count() == 0


@pytest.mark.asyncio
async def test_smtp_on_an_implicit_tls_port_says_to_use_smtps(ca: TestCA) -> None:
    with serving(WatchingSink(), ssl_context=ca.server_context()) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port, ca_file=ca.ca_file, timeout=0.5))
        try:
            with pytest.raises(TemporaryDeliveryError, match="use smtps://host:port"):
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()


@pytest.mark.asyncio
async def test_smtps_on_a_starttls_port_says_to_use_smtp(ca: TestCA) -> None:
    with serving(WatchingSink(), tls_context=ca.server_context()) as port:
        relay = RelayConfig("127.0.0.1", port, tls="implicit", ca_file=ca.ca_file)
        transport = SmtpTransport(relay)
        try:
            with pytest.raises(TemporaryDeliveryError, match=r"use smtp://host:port\?tls=required"):
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()


# AUTH


def _auth_relay(port: int, ca: TestCA, password: str, **options: Any) -> SmtpTransport:
    return SmtpTransport(
        RelayConfig(
            "127.0.0.1",
            port,
            tls="required",
            ca_file=ca.ca_file,
            username="blog",
            password=password,
            **options,
        )
    )


@pytest.mark.asyncio
async def test_auth_over_starttls(ca: TestCA) -> None:
    sink, accounts = WatchingSink(), Accounts("blog", "s3cret")
    tls = ca.server_context()
    with serving(sink, tls_context=tls, auth_required=True, authenticator=accounts) as port:
        transport = _auth_relay(port, ca, "s3cret")
        try:
            for _ in range(3):
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert [r.user for r in sink.received] == ["blog"] * 3
    assert accounts.attempts == 1  # one login for the kept connection
    assert "s3cret" not in repr(transport.relay) and "s3cret" not in transport.description


@pytest.mark.asyncio
async def test_a_wrong_password_keeps_the_message_queued(store: Store, ca: TestCA) -> None:
    sink, accounts = WatchingSink(), Accounts("blog", "s3cret")
    tls = ca.server_context()
    with serving(sink, tls_context=tls, auth_required=True, authenticator=accounts) as port:
        transport = _auth_relay(port, ca, "wrong")
        try:
            clock = FakeClock()
            await queue(store, ["r@example.net"], at=clock.now())
            await worker(store, transport, clock).deliver_due()
        finally:
            await transport.aclose()
    [(_mid, status, _attempts, error)] = await rows(store)
    # Our account, not the message: temporary, so fixing the password delivers it.
    assert status == "queued"
    assert "refused our credentials" in error and "535" in error
    assert sink.count() == 0


@pytest.mark.asyncio
async def test_a_454_from_auth_is_temporary(ca: TestCA) -> None:
    sink = WatchingSink()
    accounts = Accounts("blog", "s3cret", temporary="454 4.7.0 Temporary authentication failure")
    tls = ca.server_context()
    with serving(sink, tls_context=tls, auth_required=True, authenticator=accounts) as port:
        transport = _auth_relay(port, ca, "s3cret")
        try:
            with pytest.raises(TemporaryDeliveryError, match="454 4.7.0"):
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()


@pytest.mark.asyncio
async def test_relay_wanting_auth_we_do_not_give_is_temporary(ca: TestCA) -> None:
    sink = WatchingSink()
    tls = ca.server_context()
    with serving(sink, tls_context=tls, auth_required=True, authenticator=Accounts("a", "b")) as p:
        transport = SmtpTransport(RelayConfig("127.0.0.1", p, tls="required", ca_file=ca.ca_file))
        try:
            with pytest.raises(TemporaryDeliveryError, match="wants authentication: 530"):
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()


@pytest.mark.asyncio
async def test_no_password_over_plaintext_unless_allowed() -> None:
    sink, accounts = WatchingSink(), Accounts("blog", "s3cret")
    with serving(sink, auth_require_tls=False, authenticator=accounts) as port:
        plain = RelayConfig("127.0.0.1", port, username="blog", password="s3cret")
        refusing = SmtpTransport(plain)
        try:
            with pytest.raises(TemporaryDeliveryError, match="password without TLS"):
                await refusing.send("b@example.org", "r@example.net", MSG)
        finally:
            await refusing.aclose()
        assert accounts.attempts == 0
        allowed = SmtpTransport(
            RelayConfig(
                "127.0.0.1", port, username="blog", password="s3cret", allow_plaintext_auth=True
            )
        )
        try:
            await allowed.send("b@example.org", "r@example.net", MSG)
        finally:
            await allowed.aclose()
    assert [r.user for r in sink.received] == ["blog"]


@pytest.mark.asyncio
async def test_size_on_a_kept_connection_is_what_sendmail_declares() -> None:
    # The first message goes by aiosmtplib's sendmail, the next ones by MAIL FROM as
    # the probe: both declare the same SIZE (RFC 1870: octets as sent, CRLF).
    bare_lf = MSG.replace(b"\r\n", b"\n")
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            for message in (MSG, MSG, bare_lf):
                await transport.send("b@example.org", "r@example.net", message)
        finally:
            await transport.aclose()
    sizes = [r.mail_options for r in sink.received]
    assert sizes == [(f"SIZE={len(MSG)}",)] * 3
    assert transport.connections_opened == 1


# A relay failing inside DATA


class FailingInData(WatchingSink):
    """Drops the connection (or says nothing) at the end of DATA, ``times`` times."""

    def __init__(self, how: str, times: int) -> None:
        super().__init__()
        self.how, self.times = how, times

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.times:
            self.times -= 1
            if self.how == "drop":
                server.transport.close()
            else:  # "silent": never answers; the client's timeout ends it
                await asyncio.sleep(3)
            return "250 2.0.0 never heard"
        return str(await super().handle_DATA(server, session, envelope))


# Lines SMTP dot-stuffs on the way (".", ".."), and a line as long as the test data allows.
DOTTED = (
    b"Message-ID: <dots@test>\r\nSubject: dots\r\n\r\n.\r\n..\r\n.x\r\n" + b"y" * 900 + b"\r\n.\r\n"
)


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["drop", "silent"])
async def test_a_relay_failing_at_the_end_of_data_is_retried_and_the_bytes_arrive_whole(
    store: Store, how: str
) -> None:
    sink = FailingInData(how, times=1)
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port, timeout=0.5))
        try:
            clock = FakeClock()

            async def enqueue(conn: aiosqlite.Connection) -> None:
                out = outbox.Outgoing(
                    "test", None, "<dots@test>", "b@example.org", "r@example.net", DOTTED
                )
                now = clock.now()
                assert await outbox.enqueue(conn, out, now.timestamp(), now.isoformat())

            await store.write(enqueue)
            started = time.monotonic()
            await worker(store, transport, clock).deliver_due()
            assert time.monotonic() - started < 2.5  # bounded by the relay timeout
            [(_mid, status, attempts, error)] = await rows(store)
            assert (status, attempts) == ("queued", 1), error  # kept, to be retried
            clock.advance(3600)
            await worker(store, transport, clock).deliver_due()
        finally:
            await transport.aclose()
    [(_mid, status, attempts, _error)] = await rows(store)
    assert (status, attempts) == ("sent", 2)
    # Once, byte for byte as queued: dot-stuffed on the wire and unstuffed by the relay.
    [received] = sink.received
    assert received.raw == DOTTED


@pytest.mark.asyncio
async def test_a_refused_login_is_not_repeated_for_every_queued_message(
    store: Store, ca: TestCA
) -> None:
    # Twenty queued messages and a wrong password: one login fails, the others wait
    # without trying (each failed login counts towards the provider locking the account).
    sink, accounts = WatchingSink(), Accounts("blog", "s3cret")
    tls = ca.server_context()
    with serving(sink, tls_context=tls, auth_required=True, authenticator=accounts) as port:
        transport = _auth_relay(port, ca, "wrong")
        try:
            clock = FakeClock()
            await queue(store, [f"r{i}@example.net" for i in range(20)], at=clock.now())
            await worker(store, transport, clock).deliver_due()
            logins = accounts.attempts  # aiosmtplib tries each mechanism offered once
            assert 0 < logins <= 2
        finally:
            await transport.aclose()
    states = await rows(store)
    assert {(status, attempts) for _mid, status, attempts, _error in states} == {("queued", 1)}
    assert all("refused our credentials" in error for *_rest, error in states)
    assert "not tried" in states[-1][3]
    assert sink.count() == 0


@pytest.mark.asyncio
async def test_after_the_hold_a_login_is_tried_again(ca: TestCA) -> None:
    sink, accounts = WatchingSink(), Accounts("blog", "s3cret")
    tls = ca.server_context()
    with serving(sink, tls_context=tls, auth_required=True, authenticator=accounts) as port:
        transport = _auth_relay(port, ca, "wrong", auth_hold_seconds=0.3)
        try:
            with pytest.raises(TemporaryDeliveryError, match="refused our credentials"):
                await transport.send("b@example.org", "r@example.net", MSG)
            first = accounts.attempts
            with pytest.raises(TemporaryDeliveryError, match="not tried"):
                await transport.send("b@example.org", "r@example.net", MSG)
            assert accounts.attempts == first
            await asyncio.sleep(0.5)
            with pytest.raises(TemporaryDeliveryError, match="refused our credentials"):
                await transport.send("b@example.org", "r@example.net", MSG)
            assert accounts.attempts == 2 * first
        finally:
            await transport.aclose()


class MessagesPerConnection(WatchingSink):
    """Takes ``limit`` MAIL FROM per connection; then "452 too many" to each (Exim's
    smtp_accept_max_per_connection, Exchange's per-session limits)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self._per_connection: dict[int, int] = {}

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        seen = self._per_connection.get(id(server), 0) + 1
        self._per_connection[id(server)] = seen
        if seen > self.limit:
            return "452 4.5.3 Too many messages on this connection"
        return str(await super().handle_MAIL(server, session, envelope, address, options))


@pytest.mark.asyncio
async def test_a_connection_past_the_relays_per_connection_limit_is_replaced(store: Store) -> None:
    # The relay takes one message per connection, and refuses the first (so the next
    # one probes with RSET, then meets the limit at MAIL FROM): each message goes on a
    # new connection instead of every later one failing on the old.
    sink = MessagesPerConnection(limit=1)
    sink.refuse_next = ["550 5.7.1 no"]
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            clock = FakeClock()
            await queue(store, [f"r{i}@example.net" for i in range(7)], at=clock.now())
            await worker(store, transport, clock).deliver_due()
        finally:
            await transport.aclose()
    states = [status for _mid, status, _attempts, _error in await rows(store)]
    assert states == ["failed"] + ["sent"] * 6
    assert sink.count() == 6


@pytest.mark.asyncio
async def test_sends_waiting_for_a_connection_do_not_log_in_after_a_refusal(ca: TestCA) -> None:
    sink, accounts = WatchingSink(), Accounts("blog", "s3cret")
    tls = ca.server_context()
    with serving(sink, tls_context=tls, auth_required=True, authenticator=accounts) as port:
        transport = _auth_relay(port, ca, "wrong", max_connections=2)
        try:
            sends = [transport.send("b@example.org", f"r{i}@example.net", MSG) for i in range(12)]
            outcomes = await asyncio.gather(*sends, return_exceptions=True)
        finally:
            await transport.aclose()
    assert all(isinstance(o, TemporaryDeliveryError) for o in outcomes)
    assert (
        sum("not tried" in o.detail for o in outcomes if isinstance(o, TemporaryDeliveryError))
        >= 10
    )
    assert transport.connections_opened <= 2  # the two that held a slot at the refusal


@pytest.mark.asyncio
async def test_a_rate_limited_relay_is_not_asked_on_a_new_connection_per_message() -> None:
    # Past its rate the relay refuses every MAIL FROM: one new connection shows it is
    # not the connection's limit; the messages after it wait without one each.
    sink = WatchingSink()
    with serving(sink) as port:
        transport = SmtpTransport(RelayConfig("127.0.0.1", port))
        try:
            await transport.send("b@example.org", "r@example.net", MSG)
            sink.mail_answers = ["451 4.7.1 Rate limit exceeded, try again later"] * 20
            for _ in range(5):
                with pytest.raises(TemporaryDeliveryError, match="451 4.7.1"):
                    await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    assert transport.connections_opened == 2
    assert sink.mails == 1 + 6  # the probe on the first connection, then one per message


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_auth_over_implicit_tls_with_either_mechanism(ca: TestCA, mechanism: str) -> None:
    # Port 465 (smtps://): TLS from the first byte, then AUTH with what the relay offers.
    sink, accounts = WatchingSink(), Accounts("blog", "s3cret")
    exclude = [m for m in ("PLAIN", "LOGIN") if m != mechanism]
    with serving(
        sink, ssl_context=ca.server_context(), auth_required=True, authenticator=accounts,
        auth_exclude_mechanism=exclude,
        auth_require_tls=False,  # aiosmtpd counts only STARTTLS as TLS; this is TLS
    ) as port:  # fmt: skip
        relay = RelayConfig(
            "127.0.0.1", port, tls="implicit", ca_file=ca.ca_file, username="blog",
            password="s3cret",
        )  # fmt: skip
        transport = SmtpTransport(relay)
        try:
            for _ in range(2):
                await transport.send("b@example.org", "r@example.net", MSG)
        finally:
            await transport.aclose()
    # (aiosmtpd's session.ssl says nothing of implicit TLS; the sink speaks only TLS.)
    assert [r.user for r in sink.received] == ["blog"] * 2
    assert accounts.attempts == 1 and transport.connections_opened == 1
