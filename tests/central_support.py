"""Test helpers for the central sync service and the station link: keys, configs, processes,
a throwaway PostgreSQL cluster. Everything runs for real on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.cli.cmd_keys import write_pair
from edge.journal import Journal
from edge.link import LinkStatus, StationLink
from edge.replica import Replica
from edge.station_config import LinkSection

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def make_setup(root: Path, stations: list[str], store: str | None = None) -> Setup:
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

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = setup.root / "central.log"

    def start(self, wait: bool = True) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge", "central", "--config", str(self.setup.config)],
                stdout=log,
                stderr=log,
                cwd=REPO,
            )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        start = self.log.stat().st_size if self.log.exists() else 0
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"central exited {self.proc.returncode}: {self.log.read_text()}")
            text = self.log.read_bytes()[start:] if self.log.exists() else b""
            if b"central ready" in text or b"central ready" in self.log.read_bytes():
                if self._count_ready() > self._readies_seen:
                    self._readies_seen = self._count_ready()
                    return
            time.sleep(0.05)
        raise RuntimeError(f"central not ready: {self.log.read_text()}")

    _readies_seen = 0

    def _count_ready(self) -> int:
        return self.log.read_bytes().count(b"central ready")

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

    def append(self, n: int, type_: str = "pick_verified") -> None:
        for i in range(n):
            self.journal.append(type_, {"n": i, "station": self.name})
        self.link.wake()


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
            raise RuntimeError("PostgreSQL server binaries (initdb) not found: apt install postgresql")
        self.root.mkdir(parents=True, exist_ok=True)
        self.sock.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-w", "-l", str(self.root / "pg.log"), "start")
        return self.url("postgres")

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
