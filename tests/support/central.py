"""Test helpers for the central sync service and the station link: keys, configs, processes,
a throwaway PostgreSQL cluster. Everything runs for real on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.cli.cmd_keys import write_pair
from edge.journal import Journal
from edge.link.client import LinkStatus, StationLink
from edge.link.config import LinkSection
from edge.link.replica import Replica
from edge.sim.procs import free_port
from tests.support.events import body as event_body

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Setup:
    """A central configuration with keys for `stations` and one subscriber, under `root`."""

    root: Path
    config: Path
    endpoint: str
    pub: str
    replay: str
    intake: str
    token: str
    store: str

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    def station_keys(self, name: str) -> tuple[Path, Path]:
        return self.keys / f"{name}.key_secret", self.keys / "central.key"

    def link_cfg(self, name: str, **overrides: object) -> LinkSection:
        secret, server = self.station_keys(name)
        fields: dict[str, object] = {
            "endpoint": self.endpoint,
            "secret_key_file": str(secret),
            "server_key_file": str(server),
            "heartbeat_ms": 300,
            "timeout_ms": 2000,
            "ack_timeout_ms": 1000,
            "reconnect_max_ms": 1000,
        }
        fields.update(overrides)
        return LinkSection(**fields)  # type: ignore[arg-type]


def make_setup(
    root: Path, stations: list[str], store: str | None = None, pub_hwm: int = 100_000
) -> Setup:
    keys = root / "keys"
    allowed, subs = root / "allowed", root / "subscribers"
    write_pair(keys, "central")
    for name in [*stations, "tailer"]:
        write_pair(keys, name)
    allowed.mkdir(parents=True)
    subs.mkdir(parents=True)
    for name in stations:
        shutil.copy(keys / f"{name}.key", allowed / f"{name}.key")
    shutil.copy(keys / "tailer.key", subs / "tailer.key")
    token = "t0ken-for-the-intake-api-tests"
    (root / "intake.token").write_text(token + "\n")
    ports = [free_port() for _ in range(4)]
    store = store or f"sqlite://{root / 'central.sqlite3'}"
    config = root / "central.toml"
    config.write_text(
        f"""[central]
bind = "tcp://127.0.0.1:{ports[0]}"
store = "{store}"
secret_key_file = "{keys / "central.key_secret"}"
station_keys_dir = "{allowed}"
subscriber_keys_dir = "{subs}"
keys_poll_ms = 200
feed_poll_ms = 200
[downstream]
pub_bind = "tcp://127.0.0.1:{ports[1]}"
replay_bind = "tcp://127.0.0.1:{ports[2]}"
poll_ms = 100
pub_hwm = {pub_hwm}
[intake]
listen = "127.0.0.1:{ports[3]}"
token_file = "{root / "intake.token"}"
"""
    )
    return Setup(
        root=root,
        config=config,
        endpoint=f"tcp://127.0.0.1:{ports[0]}",
        pub=f"tcp://127.0.0.1:{ports[1]}",
        replay=f"tcp://127.0.0.1:{ports[2]}",
        intake=f"127.0.0.1:{ports[3]}",
        token=token,
        store=store,
    )


class CentralProcess:
    """`packstation central --config FILE` as a real subprocess (so it can be kill -9'ed)."""

    def __init__(
        self, setup: Setup, env: dict[str, str] | None = None, nofile: int | None = None
    ) -> None:
        self.setup = setup
        self.nofile = nofile  # RLIMIT_NOFILE for the process (attack tests), None = inherited
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = setup.root / "central.log"

    def start(self, wait: bool = True) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *(["prlimit", f"--nofile={self.nofile}:{self.nofile}"] if self.nofile else []),
                    *[sys.executable, "-m", "edge", "central", "--config", str(self.setup.config)],
                ],
                stdout=log,
                stderr=log,
                cwd=REPO,
                env=self.env,
            )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait for one more "central ready" line in the log than seen so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"central exited {self.proc.returncode}: {self.log.read_text()}")
            readies = self.log.read_bytes().count(b"central ready") if self.log.exists() else 0
            if readies > self._readies_seen:
                self._readies_seen = readies
                return
            time.sleep(0.05)
        raise RuntimeError(f"central not ready: {self.log.read_text()}")

    _readies_seen = 0

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


@contextlib.contextmanager
def running_central(setup: Setup) -> Iterator[CentralProcess]:
    central = CentralProcess(setup)
    try:
        central.start()
        yield central
    finally:
        central.kill9()


class LinkRunner:
    """A StationLink on its own journal/replica, run as a task in the caller's event loop."""

    def __init__(self, setup: Setup, name: str, root: Path, **cfg: object) -> None:
        self.name = name
        self.journal = Journal(root / name / "journal.sqlite3")
        self.replica = Replica(root / name / "replica.sqlite3")
        self.statuses: list[LinkStatus] = []
        self.link = StationLink(
            setup.link_cfg(name, **cfg),
            name,
            self.journal,
            self.replica,
            on_status=self.statuses.append,
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.link.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.journal.close()
        self.replica.close()

    def append(self, n: int, type_: str = "scan") -> None:
        for i in range(n):
            self.journal.append(type_, event_body(type_, self.name, n=i))
        self.link.wake()

    def commit(self, n: int, type_: str = "scan") -> None:
        """As the daemon does: n rows in one transaction, offered to the link as committed."""
        with self.journal.transaction() as txn:
            for i in range(n):
                txn.append(type_, event_body(type_, self.name, n=i))
        self.link.wake(txn.appended)


async def until(cond: object, timeout: float = 20, step: float = 0.05) -> None:
    """Wait for `cond()` to become true, bounded; AssertionError when it does not."""
    assert callable(cond)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


# -- PostgreSQL: a throwaway cluster per test session ---------------------------------------
def _pg_bin() -> Path | None:
    base = Path("/usr/lib/postgresql")
    versions = sorted(base.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


class PgCluster:
    """initdb + pg_ctl start on a free loopback port in a temp dir; as root, runs as `postgres`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.bin = _pg_bin()
        self.data = root / "pgdata"
        self.sock = root / "pgsock"

    def _run(self, *args: str) -> None:
        assert self.bin is not None
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        if self.bin is None:
            raise RuntimeError(
                "PostgreSQL server binaries (initdb) not found: apt install postgresql"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self.sock.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.launch()
        return self.url("postgres")

    def launch(self) -> None:
        """pg_ctl start (again, after a crash) on the same port and data directory."""
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=on"
        log = str(self.root / "pg.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-w", "-l", log, "start")

    def crash(self) -> None:
        """Stop in immediate mode: no checkpoint, like a power cut of the database server."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def create_db(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")


# -- a station as a separate process (for kill -9) ------------------------------------------
async def _sender(setup_root: Path, config: Path, name: str, total: int, rate: int) -> None:
    import msgspec

    from edge.common.logs import setup_logging

    setup_logging(os.environ.get("PACKSTATION_TEST_LOG", "info"))
    cfg = msgspec.json.decode((setup_root / f"{name}.link.json").read_bytes(), type=LinkSection)
    journal = Journal(setup_root / name / "journal.sqlite3")
    replica = Replica(setup_root / name / "replica.sqlite3")
    link = StationLink(cfg, name, journal, replica)
    task = asyncio.create_task(link.run())
    while journal.last_seq() < total:
        with journal.transaction() as txn:
            for _ in range(min(10, total - journal.last_seq())):
                txn.append("scan", event_body("scan", name, uid=os.urandom(6).hex()))
        link.wake()
        await asyncio.sleep(10 / rate)
    del config
    await task


def start_sender(
    setup: Setup, name: str, total: int, rate: int, log: Path
) -> subprocess.Popen[bytes]:
    """Run a station (real journal + link) in a subprocess appending `total` events at `rate`/s."""
    import msgspec

    cfg = setup.link_cfg(name)
    (setup.root / f"{name}.link.json").write_bytes(msgspec.json.encode(cfg))
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.central",
                "sender",
                str(setup.root),
                name,
                str(total),
                str(rate),
            ],
            stdout=out,
            stderr=out,
            cwd=REPO,
        )


if __name__ == "__main__" and sys.argv[1:2] == ["sender"]:
    _root, _name, _total, _rate = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    asyncio.run(_sender(Path(_root), Path(_root) / "central.toml", _name, _total, _rate))


def delivery_report(store_url: str, station: str, journal_path: Path) -> dict[str, int]:
    """Compare a station's journal with central's store: lost, duplicated, gaps, chain breaks."""
    from central.store import open_store
    from edge.common.chain import GENESIS, chain_hash

    journal = Journal(journal_path)
    store = open_store(store_url)
    try:
        mine = {e.event_id: e for e in journal.iter_events()}
        rows = [e for e in _all_events(store) if e.station_id == station]
        quarantined = [q for q in store.quarantined() if q["station_id"] == station]
    finally:
        store.close()
        journal.close()
    seqs = sorted(e.seq for e in rows)
    ids = [e.event_id for e in rows]
    breaks, prev = 0, GENESIS
    for e in sorted(rows, key=lambda r: r.seq):
        j = mine.get(e.event_id)
        if (
            j is None
            or j.hash != e.hash
            or chain_hash(prev, e.seq, e.event_id, e.type, e.at, e.body) != e.hash
        ):
            breaks += 1
        prev = e.hash
    return {
        "journal": len(mine),
        "central": len(rows),
        "lost": len(set(mine) - set(ids)),
        "duplicated": len(ids) - len(set(ids)),
        "gaps": (seqs[-1] - len(seqs)) if seqs else 0,
        "chain_breaks": breaks,
        "quarantined": len(quarantined),
    }


def _all_events(store: object) -> list[object]:
    out: list[object] = []
    position = 0
    while batch := store.events_after(position, 5000):  # type: ignore[attr-defined]
        out += batch
        position = batch[-1].gseq
    return out


class RawStation:
    """A bare DEALER with a station's key, for speaking PSS/1 (or garbage) to central directly."""

    def __init__(self, setup: Setup, name: str) -> None:
        import zmq
        import zmq.auth

        public, secret = zmq.auth.load_certificate(setup.keys / f"{name}.key_secret")
        server, _ = zmq.auth.load_certificate(setup.keys / "central.key")
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.sndhwm = 0
        self.sock.curve_publickey, self.sock.curve_secretkey = public, secret
        self.sock.curve_serverkey = server
        self.sock.connect(setup.endpoint)
        self.name = name

    def send(self, frames: list[bytes]) -> None:
        self.sock.send_multipart(frames)

    def recv(self, timeout_ms: int = 10_000) -> tuple[bytes, object]:
        from edge.common import protocol as p

        assert self.sock.poll(timeout_ms), "no answer from central"
        return p.decode(self.sock.recv_multipart())

    def recv_until(self, command: bytes, timeout_ms: int = 10_000) -> object:
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            got, body = self.recv(max(1, int((deadline - time.monotonic()) * 1000)))
            if got == command:
                return body
        raise AssertionError(f"no {command!r} from central")

    def hello(self, last_seq: int = 0) -> object:
        from edge.common import protocol as p

        hello = p.Hello(station_id=self.name, boot_id="raw", last_written_seq=last_seq, last_qseq=0)
        self.send(p.encode(p.HELLO, hello))
        return self.recv_until(p.WELCOME)

    def close(self) -> None:
        self.sock.close()
        self.ctx.term()


def chain_events(n: int, start_seq: int = 1, prev: bytes | None = None) -> list[object]:
    """n consecutive, correctly chained wire events (edge.common.protocol.Event)."""
    import uuid

    from edge.common import protocol as p
    from edge.common.chain import GENESIS, canonical_json, chain_hash

    out = []
    prev_hash = prev or GENESIS
    for seq in range(start_seq, start_seq + n):
        event_id, at, body = (
            str(uuid.uuid4()),
            "2026-11-22T12:00:00+00:00",
            canonical_json(event_body("scan", "station-01", seq=seq)),
        )
        digest = chain_hash(prev_hash, seq, event_id, "scan", at, body)
        out.append(
            p.Event(
                seq=seq,
                event_id=event_id,
                at=at,
                type="scan",
                body=body,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    return out


def pg_cluster_fixture(tmp_root: Path) -> Iterator[PgCluster]:
    """Body of the PostgreSQL fixtures: fails (never skips) under CI when PostgreSQL is missing."""
    import pytest

    cluster = PgCluster(tmp_root)
    if cluster.bin is None and not os.environ.get("CI"):
        pytest.skip(
            "PostgreSQL server binaries not installed (scripts/bootstrap.sh test installs them)"
        )
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
