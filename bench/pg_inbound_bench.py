#!/usr/bin/env python3
"""Benchmark: inbound replies with 1, 2 and 3 daemons on PostgreSQL, against one on SQLite.

Issue 16: several `mailbridge serve` daemons may share one PostgreSQL database. This
measures what that gives on one machine, with bench/inbound_bench.py's load generator
(SESSIONS SMTP sessions reusing their connections, replies of about 4 KB to real reply
addresses, SECONDS seconds per row; the figure is replies answered 250 per second, and
a 250 means the comment is committed):

- ``SQLite, 1 daemon``: `mailbridge serve` on its defaults, the baseline of the ratios;
- ``PostgreSQL, N daemons``: N `mailbridge serve` processes, each with its own data
  directory and ports and the same instance secret, on one database of a private
  PostgreSQL 15 server started for the run (loopback, a free port) with ``fsync``,
  ``synchronous_commit`` and ``full_page_writes`` on, so its commit is as durable as
  SQLite's ``synchronous = FULL``. Each session sends to one daemon, round-robin.

Every row starts on a fresh database holding the sample thread alone (a copy of one
seeded template on PostgreSQL, a new data directory on SQLite), starts its daemons and
waits for their start to finish (their CPU quiet), sends WARMUP seconds of the same
load unmeasured, then measures; it ends with a check that the comments stored grew by
exactly the number of 250s (nothing lost, nothing twice). "cores" is the CPU time of
the daemons (with their worker processes) and of the PostgreSQL server's processes over
the measured time; "CPU ms per reply" is that CPU over the replies. The rows run
interleaved (each session count in turn, the order reversed every other time) so that
a machine whose speed drifts does not favour one side, and each row waits (up to
QUIET_WAIT s) for a moment when other processes use under QUIET_BELOW cores. Around
each row: the load average (which counts this benchmark's own processes too) and,
better, the CPU the rest of the machine used meanwhile ("other processes' cores":
other people's work).

    .venv/bin/python bench/pg_inbound_bench.py [--seconds 8] [--sessions 8 32]
        [--warmup 2] [--daemons 1 2 3] [--quiet-below 0.3] [--quiet-wait 20] [--rounds 2]
        [--total 1500] [--no-fsync] [--diagnose]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inbound_bench import (  # the inbound benchmark's pieces: one load generator for both
    ROOT,
    comments_count,
    cpu_seconds,
    free_port,
    mailbridge_config,
    mailbridge_pairs,
    process,
    send,
    serve_args,
    serve_env,
    wait_port,
)

# The test suite's copy of the recipe the CI uses: the same server as the tests get.
RECIPE = ROOT / "tests" / "recipes" / "postgres.sh"
PG_CTL = Path("/usr/lib/postgresql/15/bin/pg_ctl")
MISSING = "PostgreSQL missing: needs Debian's PostgreSQL 15 (apt-get install postgresql)"
# The recipe runs the server's programs as the postgres user: the system's PATH, not a
# virtual environment's the postgres user may not be able to read.
RECIPE_ENV = {**os.environ, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
# What a row costs besides its load: a database copied, daemons started and stopped.
ROW_OVERHEAD = 15.0


@dataclass(frozen=True)
class Side:
    engine: str  # "SQLite" or "PostgreSQL"
    daemons: int

    @property
    def label(self) -> str:
        return f"{self.engine}, {self.daemons} daemon{'s' if self.daemons > 1 else ''}"


@dataclass(frozen=True)
class Load:
    sessions: int
    seconds: float  # measured
    warmup: float  # seconds of the same load before, not measured
    quiet_below: float = 0.0  # cores other processes may use when a row starts
    quiet_wait: float = 0.0  # seconds a row waits at most for that


@dataclass
class Row:
    """One row's measurement: one side, one session count, one round."""

    got: Measured
    added: int  # comments stored during the row: should be got.accepted + got.warm
    load: tuple[float, float]  # 1-minute load average before and after
    settled: tuple[float, float]  # seconds waited for a quiet machine, others' cores then
    waits: str = ""  # --diagnose: what the database sessions were doing
    statements: str = ""  # --diagnose: statements per reply, moderation rows drafted


@dataclass
class Results:
    rows: dict[tuple[Side, int], list[Row]] = field(default_factory=dict)
    notes: dict[tuple[Side, int], str] = field(default_factory=dict)


class Postgres:
    """A private PostgreSQL server for the run, and the seeded template database."""

    def __init__(self, directory: Path, url: str, fsync: bool) -> None:
        self.directory = directory
        self.url = url  # the role's own database, seeded once: the template of every row
        self.fsync = fsync
        port = (directory / "port").read_text().strip()
        self.admin = f"host={directory / 'pgsock'} port={port} user=postgres dbname=postgres"
        self.pairs: list[tuple[str, str]] = []
        self.version = ""

    @property
    def pid(self) -> int:
        """The postmaster's: its children are the backends, checkpointer and WAL writer."""
        return int((self.directory / "pgdata" / "postmaster.pid").read_text().split()[0])

    def sql(self, statement: str) -> list[tuple[object, ...]]:
        import psycopg

        # autocommit: CREATE and DROP DATABASE cannot run inside a transaction.
        with psycopg.connect(self.admin, autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def durable(self) -> None:
        """The recipe turns fsync, synchronous_commit and full_page_writes off (fast
        tests); a 250 compared with SQLite's synced commit needs them on."""
        value = "on" if self.fsync else "off"
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            self.sql(f"ALTER SYSTEM SET {name} = {value}")
        self.sql("SELECT pg_reload_conf()")
        time.sleep(0.5)  # the postmaster signals its children; let them read it
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            got = self.sql(f"SHOW {name}")[0][0]
            if got != value:
                raise RuntimeError(f"PostgreSQL's {name} is {got}, wanted {value}")
        self.version = str(self.sql("SHOW server_version")[0][0]).split()[0]

    def count_statements(self) -> None:
        """Have the server count statements (pg_stat_statements, loaded at its start:
        a restart, done by the recipe's start on the same port)."""
        self.sql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        port = (self.directory / "port").read_text().strip()
        subprocess.run(
            ["bash", str(RECIPE), "start", str(self.directory), port],
            capture_output=True, text=True, timeout=300, check=True, env=RECIPE_ENV,
        )  # fmt: skip
        self.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def statements(self, database: str, replies: int) -> str:
        """Since the last reset, in ``database``: statements per reply answered 250, and
        how many times each moderation-queue row was read to draft its emails (more
        than once: several daemons drafted and built the same emails, one queued them)."""
        rows = self.sql(
            "SELECT query, calls, rows FROM pg_stat_statements s "
            f"JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{database}'"
        )
        calls = sum(int(str(c)) for _q, c, _r in rows)
        taken = sum(
            int(str(r)) for q, _c, r in rows if str(q).startswith("SELECT comment_id, auto_")
        )
        claimed = sum(
            int(str(r)) for q, _c, r in rows if str(q).startswith("DELETE FROM moderation_mail")
        )
        per_row = f"{taken / claimed:.1f}" if claimed else "-"
        return (
            f"{calls / max(replies, 1):.0f} statements per reply (BEGIN and COMMIT included); "
            f"each moderation-queue row drafted {per_row} times"
        )

    def database(self, name: str) -> str:
        """A fresh copy of the seeded template; its URL."""
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE "mailbridge" OWNER mailbridge')
        return f"{self.url.rpartition('/')[0]}/{name}"

    def drop(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Waits:
    """What the row's database sessions are doing, sampled every 50 ms in a thread
    (``--diagnose``): on average how many are running, waiting for a lock, for the WAL's
    fsync, or idle inside a transaction (waiting for their daemon's next statement)."""

    def __init__(self, admin: str, database: str) -> None:
        self._admin = admin
        self._database = database
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.seen: Counter[str] = Counter()
        self.samples = 0

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self._admin, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event, left(query, 60) "
                    "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self._database,),
                ).fetchall()
                self.samples += 1
                for state, kind, event, query in rows:
                    if state == "active" and kind == "Lock":
                        self.seen[f"lock wait ({event}): {query}"] += 1
                    elif state == "active":
                        self.seen["running" if kind is None else f"{kind}:{event}"] += 1
                    else:
                        self.seen[str(state)] += 1

    def __enter__(self) -> Waits:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        n = max(self.samples, 1)
        return "; ".join(f"{what} {count / n:.2f}" for what, count in self.seen.most_common(8))


@contextmanager
def postgres_server(fsync: bool, diagnose: bool) -> Iterator[Postgres | str]:
    """A started server, or why there is none."""
    if not PG_CTL.exists() or not RECIPE.exists():
        yield MISSING
        return
    # Directly under /tmp: the server runs as the postgres user, which must traverse it.
    directory = Path(tempfile.mkdtemp(prefix="mailbridge-pgbench-"))
    try:
        started = subprocess.run(
            ["bash", str(RECIPE), "start", str(directory), str(free_port())],
            capture_output=True, text=True, timeout=300, check=False, env=RECIPE_ENV,
        )  # fmt: skip
        if started.returncode != 0:
            yield f"PostgreSQL did not start: {started.stderr.strip()[-300:]}"
            return
        url = next(
            line.split("=", 1)[1]
            for line in started.stdout.splitlines()
            if line.startswith("DATABASE_URL=")
        )
        server = Postgres(directory, url, fsync)
        server.durable()
        if diagnose:
            server.count_statements()
        yield server
    finally:
        subprocess.run(
            ["bash", str(RECIPE), "stop", str(directory)],
            capture_output=True, timeout=120, check=False, env=RECIPE_ENV,
        )  # fmt: skip
        shutil.rmtree(directory, ignore_errors=True)


def configs_for(
    side: Side, work: Path, secret: Path, url: str | None
) -> tuple[list[Path], list[int]]:
    """One configuration file per daemon, and their SMTP ports."""
    work.mkdir()
    top = f'secret_file = "{secret}"\n' + (f'data_url = "{url}"\n' if url else "")
    configs, ports = [], []
    for i in range(side.daemons):
        smtp = free_port()
        configs.append(
            mailbridge_config(work / f"daemon{i}.toml", work / f"data{i}", smtp, free_port(), top)
        )
        ports.append(smtp)
    return configs, ports


def machine_busy() -> float:
    """CPU seconds every core has spent busy since boot, from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def settle(load: Load) -> tuple[float, float]:
    """Before a row, wait (up to ``load.quiet_wait`` s) for a moment when the rest of
    the machine uses under ``load.quiet_below`` cores: on a machine shared with other
    people's test suites, a row then starts in one of their pauses. Nothing of this
    benchmark runs meanwhile but an idle PostgreSQL. (seconds waited, cores they used
    in the last two seconds)."""
    began = time.monotonic()
    while True:
        before = machine_busy()
        time.sleep(2.0)
        others = (machine_busy() - before) / 2.0
        waited = time.monotonic() - began
        if others < load.quiet_below or waited >= load.quiet_wait:
            return waited, others


async def quiet(pids: list[int], limit: float = 20.0) -> None:
    """Wait (up to ``limit`` s) until the daemons' starting work is done: their
    process trees (the worker processes start after the SMTP port opens) use under a
    tenth of a core. Several daemons start at once on two cores: without this, the
    first seconds of a row with three would measure their start."""
    deadline = time.monotonic() + limit
    last = sum(cpu_seconds(p) for p in pids)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = sum(cpu_seconds(p) for p in pids)
        if now - last < 0.05:
            return
        last = now


async def measure(
    ports: list[int],
    pairs: list[tuple[str, str]],
    load: Load,
    pids: list[int],
    pg_pid: int | None,
    waits: Waits | None = None,
) -> Measured:
    for port in ports:
        await wait_port(port)
    await quiet(pids)
    # The same load, not measured: first connections, first statements prepared,
    # the worker processes' first tasks.
    warm = await send(ports, pairs, load.sessions, load.warmup) if load.warmup else None
    mb = sum(cpu_seconds(p) for p in pids)
    pg = cpu_seconds(pg_pid) if pg_pid else 0.0
    machine, me = machine_busy(), time.process_time()
    began = time.monotonic()
    with waits or nullcontext():
        sent = await send(ports, pairs, load.sessions, load.seconds)
    wall = time.monotonic() - began
    mb_busy = (sum(cpu_seconds(p) for p in pids) - mb) / wall
    pg_busy = (cpu_seconds(pg_pid) - pg) / wall if pg_pid else 0.0
    # Everything else the machine did meanwhile: other people's work, the noise. The
    # load average cannot say that: it counts this benchmark's own processes too.
    load_gen = (time.process_time() - me) / wall
    others = max(0.0, (machine_busy() - machine) / wall - mb_busy - pg_busy - load_gen)
    refused = sent.refused + (warm.refused if warm else 0)
    warm_accepted = warm.accepted if warm else 0
    return Measured(
        sent.accepted, warm_accepted, refused, sent.rate, mb_busy, pg_busy, load_gen, others
    )


@dataclass(frozen=True)
class Measured:
    accepted: int  # 250s while measured
    warm: int  # 250s in the warm-up
    refused: int
    rate: float
    mailbridge_cores: float
    postgres_cores: float
    load_generator_cores: float
    other_cores: float  # the rest of the machine's busy CPU


def run_row(
    side: Side,
    load: Load,
    work: Path,
    secret: Path,
    pg: Postgres | None,
    sample: bool = False,
) -> Row:
    name = work.name
    url = pg.database(name) if pg else None
    try:
        configs, ports = configs_for(side, work, secret, url)
        if pg:
            pairs = pg.pairs  # the same ids in every copy of the template
        else:
            pairs = asyncio.run(mailbridge_pairs(configs[0], None))
        before = asyncio.run(comments_count(configs[0]))
        waits = Waits(pg.admin, name) if pg and sample else None
        if waits:
            pg.sql("SELECT pg_stat_statements_reset()")
        settled = settle(load) if load.quiet_wait else (0.0, 0.0)
        load_before = os.getloadavg()[0]
        with ExitStack() as stack:
            pids = [
                stack.enter_context(
                    process(serve_args(c), env=serve_env(), log=work / f"daemon{i}.log")
                )
                for i, c in enumerate(configs)
            ]
            got = asyncio.run(measure(ports, pairs, load, pids, pg.pid if pg else None, waits))
        loads = (load_before, os.getloadavg()[0])
        statements = pg.statements(name, got.accepted + got.warm) if pg and waits else ""
        # Counted after the daemons stopped: whatever they committed is in.
        added = asyncio.run(comments_count(configs[0])) - before
        summary = waits.summary() if waits else ""
        return Row(got, added, loads, settled, summary, statements)
    finally:
        if pg:
            pg.drop(name)


def order(sides: list[Side], r: int, j: int) -> list[Side]:
    """ABCD then DCBA: no side always runs first, or last, in a drifting machine."""
    return sides if (r + j) % 2 == 0 else sides[::-1]


def main(args: argparse.Namespace) -> None:
    began = time.monotonic()
    sides = [Side("SQLite", 1)] + [Side("PostgreSQL", n) for n in args.daemons]
    results = Results()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; "
        f"{platform.platform()}; Python {platform.python_version()}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="mailbridge-pgbench-") as tmp,
        postgres_server(not args.no_fsync, args.diagnose) as pg,
    ):
        work = Path(tmp)
        secret = work / "shared-secret.key"
        if isinstance(pg, Postgres):
            seed = mailbridge_config(
                work / "seed.toml", work / "seed", free_port(), free_port(),
                f'secret_file = "{secret}"\ndata_url = "{pg.url}"\n',
            )  # fmt: skip
            pg.pairs = asyncio.run(mailbridge_pairs(seed, None))
            state = "on" if pg.fsync else "OFF (not durable: what fsync costs)"
            print(f"PostgreSQL {pg.version}; fsync, synchronous_commit, full_page_writes {state}")
        k = 0
        load = Load(0, args.seconds, args.warmup, args.quiet_below, args.quiet_wait)
        row_time = args.seconds + args.warmup + ROW_OVERHEAD
        for r in range(args.rounds):
            for j, sessions in enumerate(args.sessions):
                for side in order(sides, r, j):
                    key = (side, sessions)
                    if side.engine == "PostgreSQL" and not isinstance(pg, Postgres):
                        results.notes[key] = pg
                        continue
                    if time.monotonic() - began + row_time > args.total:
                        results.notes.setdefault(key, f"a round skipped: --total {args.total:g} s")
                        continue
                    k += 1
                    server = pg if side.engine == "PostgreSQL" else None
                    assert not isinstance(server, str)
                    try:
                        row = run_row(
                            side, replace(load, sessions=sessions), work / f"row{k}", secret,
                            server, args.diagnose,
                        )  # fmt: skip
                    except Exception as exc:  # one failed row must not lose the others
                        results.notes[key] = f"failed: {type(exc).__name__}: {exc}"
                        print(
                            f"{side.label}, {sessions} sessions: {results.notes[key]}", flush=True
                        )
                        continue
                    results.rows.setdefault(key, []).append(row)
                    got = row.got
                    sent = got.accepted + got.warm
                    verdict = "ok" if row.added == sent else "MISMATCH"
                    print(
                        f"{side.label}, {sessions} sessions: {got.rate:,.1f} replies/s "
                        f"({got.accepted} answered 250, {got.refused} refused); cores "
                        f"{got.mailbridge_cores:.2f} mailbridge + {got.postgres_cores:.2f} "
                        f"PostgreSQL + {got.load_generator_cores:.2f} load generator, "
                        f"{got.other_cores:.2f} other processes; comments +{row.added} for "
                        f"{sent} 250s (warm-up included): {verdict}; "
                        f"load {row.load[0]:.2f} -> {row.load[1]:.2f}; waited "
                        f"{row.settled[0]:.0f} s for other processes under "
                        f"{args.quiet_below:g} cores ({row.settled[1]:.2f} then)",
                        flush=True,
                    )
                    if row.waits:
                        print(f"  database sessions on average: {row.waits}", flush=True)
                        print(f"  {row.statements}", flush=True)
    print(f"\n({time.monotonic() - began:.0f} s)\n")
    table(results, sides, args)


def cpu_per_reply(cores: float, rate: float) -> str:
    """Milliseconds of CPU (daemons and server) per reply: what more daemons cost."""
    return f"{cores / rate * 1000:.0f}" if rate else "-"


def table(results: Results, sides: list[Side], args: argparse.Namespace) -> None:
    print(
        f"Inbound replies of about 4 KB, {args.seconds:g} s per row, {args.rounds} round(s) "
        "(replies/s: their mean, then each round's)\n"
    )
    print("| sessions | store | replies/s | ratio to SQLite | cores: mailbridge + PostgreSQL "
          "| CPU ms per reply | comments added / 250s | other processes' cores "
          "| load average (1 min) |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for sessions in args.sessions:
        base = results.rows.get((Side("SQLite", 1), sessions))
        base_rate = statistics.mean(r.got.rate for r in base) if base else None
        for side in sides:
            key = (side, sessions)
            rows = results.rows.get(key)
            if not rows:
                print(f"| {sessions} | {side.label} | {results.notes.get(key, '-')} |" + " |" * 6)
                continue
            got = [r.got for r in rows]
            rate = statistics.mean(g.rate for g in got)
            each = ", ".join(f"{g.rate:.0f}" for g in got)
            ratio = f"{rate / base_rate:.2f}x" if base_rate else "-"
            mb = statistics.mean(g.mailbridge_cores for g in got)
            pgc = statistics.mean(g.postgres_cores for g in got)
            added, sent = sum(r.added for r in rows), sum(g.accepted + g.warm for g in got)
            check = "" if added == sent else " MISMATCH"
            refused = sum(g.refused for g in got)
            refusals = f" ({refused} refused)" if refused else ""
            others = ", ".join(f"{g.other_cores:.2f}" for g in got)
            loads = [x for r in rows for x in r.load]
            note = f" ({results.notes[key]})" if key in results.notes else ""
            print(
                f"| {sessions} | {side.label} | {rate:.1f} ({each}){note} | {ratio} | "
                f"{mb:.2f} + {pgc:.2f} = {mb + pgc:.2f} | {cpu_per_reply(mb + pgc, rate)} | "
                f"{added:,} / {sent:,}{check}{refusals} | {others} | "
                f"{min(loads):.2f} to {max(loads):.2f} |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="of load per row")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of the same load before, not measured"
    )
    parser.add_argument("--sessions", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--daemons", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.3,
        help="before each row, wait for other processes to use fewer cores than this",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=20.0, help="seconds a row waits for that at most"
    )
    parser.add_argument("--rounds", type=int, default=2, help="times each row runs")
    parser.add_argument(
        "--total", type=float, default=1500.0, help="seconds for the whole run; rows past it skip"
    )
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="keep the test recipe's fsync = off on PostgreSQL (not durable: what fsync costs)",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="sample what PostgreSQL's sessions wait for and count their statements "
        "(pg_stat_statements): a diagnosis, which costs some CPU",
    )
    main(parser.parse_args())
