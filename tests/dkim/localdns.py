"""A DNS server for the DKIM tests that answers TXT queries from a zone file.

Not a test module: the tests run it as a script, in one of two modes.

``serve --zone FILE``
    Listens on 127.0.0.1 (UDP and TCP, a free port), prints the port on stdout, and
    answers until stdin closes. ``mailbridge dkim check --nameserver`` is tested
    against it.

``run --zone FILE -- COMMAND...``
    For programs that only ever ask the system resolver (opendkim-testmsg has no way
    to read keys from a file). Meant to run as root of a private user, mount and
    network namespace (``unshare --user --map-root-user --mount --net``): brings up
    that namespace's own loopback, serves on its 127.0.0.1:53, bind-mounts a
    resolv.conf naming it over /etc/resolv.conf (in this mount namespace only), then
    runs COMMAND with our stdin and stdout and exits with its status. Nothing outside
    the namespace is touched and nothing can leave it: it has no other interface.

Zone file: one record a line, ``NAME VALUE`` (the TXT value as one string), or
``NAME @TYPE DATA`` for another type (``@MX 10 mx.example.org.``, ``@A 192.0.2.1``,
``@AAAA 2001:db8::1``); a name may have several lines. A name not in the file gets
NXDOMAIN; a name without records of the type asked, an empty answer.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zone = dict[str, list[tuple[str, str]]]  # name -> [(type, data)]


def load_zone(path: Path) -> Zone:
    zone: Zone = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if line.strip():
            name, value = line.split(" ", 1)
            rdtype, data = ("TXT", value)
            if value.startswith("@"):  # "@MX 10 mx.example.org.", "@A 192.0.2.1"
                rdtype, data = value[1:].split(" ", 1)
            zone.setdefault(name.lower().rstrip(".") + ".", []).append((rdtype, data))
    return zone


def answer(zone: Zone, wire: bytes) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    question = query.question[0]
    records = zone.get(question.name.to_text().lower())
    if records is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()
    asked = dns.rdatatype.to_text(question.rdtype)
    for rdtype, value in records:
        if rdtype != asked:
            continue  # the name exists; no record of this type: an empty answer
        if rdtype == "TXT":
            data = value.encode("ascii")
            # Strings of at most 255 bytes, as a real zone would hold an RSA key.
            value = " ".join(f'"{data[i : i + 255].decode()}"' for i in range(0, len(data), 255))
        response.answer.append(
            dns.rrset.from_text(question.name, 60, dns.rdataclass.IN, question.rdtype, value)
        )
    return response.to_wire()


def start_servers(zone: Zone, port: int) -> int:
    """UDP and TCP on 127.0.0.1:port (0: a free one) in daemon threads; the port."""

    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            sock.sendto(answer(zone, data), self.client_address)

    class Tcp(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            head = self.rfile.read(2)
            if len(head) == 2:
                reply = answer(zone, self.rfile.read(struct.unpack("!H", head)[0]))
                self.wfile.write(struct.pack("!H", len(reply)) + reply)

    for _ in range(50):
        udp = socketserver.ThreadingUDPServer(("127.0.0.1", port), Udp)
        try:
            tcp = socketserver.ThreadingTCPServer(("127.0.0.1", udp.server_address[1]), Tcp)
            break
        except OSError:
            # The free UDP port's TCP twin is taken by something else: try another.
            udp.server_close()
            if port:
                raise
    else:
        raise OSError("no port free for both UDP and TCP on 127.0.0.1")
    for server in (udp, tcp):
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return int(udp.server_address[1])


def loopback_up() -> None:
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def bind_mount(source: str, target: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    ms_bind = 4096
    if libc.mount(source.encode(), target.encode(), None, ms_bind, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"bind mount over {target}: {os.strerror(errno)}")


def run(zone: dict[str, str], command: list[str]) -> int:
    loopback_up()
    start_servers(zone, 53)
    with tempfile.NamedTemporaryFile("w", suffix=".resolv.conf") as conf:
        conf.write("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
        conf.flush()
        bind_mount(conf.name, "/etc/resolv.conf")
        return subprocess.run(command, check=False).returncode


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    argv, command = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["serve", "run"])
    parser.add_argument("--zone", type=Path, required=True)
    args = parser.parse_args(argv)
    zone = load_zone(args.zone)
    if args.mode == "run":
        if not command:
            parser.error("run needs a command after --")
        return run(zone, command)
    print(start_servers(zone, 0), flush=True)
    sys.stdin.read()  # serve until the test closes our stdin (or ends)
    return 0


if __name__ == "__main__":
    sys.exit(main())
