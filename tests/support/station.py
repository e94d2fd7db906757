"""Station test support: port stand-ins, the subprocess daemon, and the real-part set-up.

- Stand-ins (TableVerifier, CapLimits, DictCentral, DirPrinter, FileScale...): small,
  rule-faithful ports for the tests that are about the workflow alone (tests/support/workflow.py)
  and about the daemon's mechanics (notify, SIGTERM, a failing port: test_station_daemon.py).
  `make_ports` is their factory (`[station] ports = "tests.support.station:make_ports"`): it reads
  `<state_dir>/fixture.json` and writes printed jobs and signals under `<state_dir>`.
- `Daemon`: `python -m edge station --config FILE` as a subprocess with its inject channel.
- The real parts (`write_real_station`, `write_seed`): the built-in wiring with seed files, the
  printer emulator, a pty scale emulator and the recording indicator (test_station_scenarios.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import msgspec

from drivers.scale import WeighOutRules
from edge.common.errors import DeviceError
from edge.journal import JournalEvent
from edge.station.config import StationConfig
from edge.station.inject import inject_services
from edge.station.ports import StationHandle, StationPorts
from edge.station.wiring.scale import DriverWeighRule
from edge.workflow.ports import (
    Badge,
    LabelJob,
    LimitResult,
    Order,
    Pick,
    PrintJob,
    PrintOutcome,
    ScaleReading,
    ScanVerdict,
    Signal,
)

REPO = Path(__file__).resolve().parents[2]
TAG = "1A4060300002C9B0000{:05d}"  # 24 characters, METRC shape


def tag(n: int) -> str:
    return TAG.format(n)


_FLOWER = {"NetWeightMg": 3500, "ThcMg": 770, "CbdMg": 20}  # what an exit label must print
INVENTORY: dict[str, dict[str, Any]] = {
    tag(1): {"Sku": "FLW-BD-35", "Batch": "B-1", **_FLOWER},
    tag(2): {"Sku": "FLW-BD-35", "Batch": "B-1", **_FLOWER},
    tag(3): {"Sku": "FLW-BD-35", "Batch": "B-2", **_FLOWER},
    tag(4): {"Sku": "EDI-GUM-10", "Batch": "E-1", "NetWeightMg": 20000, "ThcMg": 100, "CbdMg": 0},
    tag(5): {"Sku": "FLW-OLD", "Batch": "X-1", **_FLOWER, "ExpirationDate": "2020-01-01"},
    # a 454 g bulk package: weighed-out portions print their share of its THC/CBD
    tag(6): {
        "Sku": "BULK-OG",
        "Batch": "G-1",
        "NetWeightMg": 454000,
        "ThcMg": 99880,
        "CbdMg": 2594,
    },
    tag(7): {"Sku": "FLW-HOLD", "Batch": "H-1", **_FLOWER, "IsOnHold": True},
    tag(8): {"Sku": "FLW-BD-35", "Batch": "B-1", **_FLOWER, "Fifo": True},
}

ORDERS: list[dict[str, Any]] = [
    {
        "order_id": "1042",
        "channel": "pickup",
        "customer": {"id": "C-88", "name": "Ada L.", "class": "adult"},
        "lines": [
            {"line": 1, "uid": tag(1)},
            {"line": 2, "sku": "FLW-BD-35", "batch": "B-1", "quantity": 1},
            {"line": 3, "sku": "BULK-OG", "weigh": True, "labelled_weight_mg": 3500},
        ],
    },
    {
        "order_id": "2001",
        "channel": "delivery",
        "customer": {"id": "C-9", "class": "adult"},
        "lines": [{"line": 1, "uid": tag(4)}],
    },
    {  # over the limit: 20 g of edibles on top of prior purchases
        "order_id": "3001",
        "channel": "pickup",
        "customer": {"id": "C-7", "class": "adult"},
        "lines": [{"line": 1, "uid": tag(4)}],
        "prior": [{"category": "edible", "net_weight_mg": 15000}],
    },
    {
        "order_id": "4001",
        "channel": "pickup",
        "customer": {"id": "C-1", "class": "adult"},
        "lines": [{"line": 1, "sku": "FLW-OLD"}],
    },
]

BADGES = [
    {"code": "BADGE-ALICE", "name": "Alice"},
    {"code": "BADGE-BOSS", "name": "Sam", "supervisor": True},
    {"code": "BADGE-OLD", "name": "Old", "expires_at": "2021-01-01T00:00:00+00:00"},
]
LIMIT_MG = 30_000
FAULT_SCAN = "TRIGGER-VERIFIER-FAULT"  # makes the stand-in verifier raise, like a core bug would  # the stand-in limit: 30 g net across the cart and prior purchases


class TableVerifier:
    """Verifier stand-in: the verdict rules of docs/formats.md over a dict inventory."""

    def __init__(self, inventory: dict[str, dict[str, Any]]) -> None:
        self.inventory = inventory

    def check(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        if raw == FAULT_SCAN:
            raise RuntimeError("verifier fault (test)")
        uid = raw.strip().upper()
        if len(uid) != 24 or not uid.isalnum():
            return ScanVerdict(verdict="malformed", reason=f"{raw!r} is not a package tag")
        pkg = self.inventory.get(uid)
        if pkg is None:
            near = [
                u for u in self.inventory if sum(a != b for a, b in zip(u, uid, strict=True)) == 1
            ]
            if near:
                return ScanVerdict(
                    verdict="near_miss", reason="one character off a known tag", candidates=near
                )
            return ScanVerdict(verdict="unknown", reason=f"{uid} is not in the vault inventory")
        if any(p.uid == uid for p in accepted):
            return ScanVerdict(verdict="duplicate", reason="already scanned", uid=uid)
        if pkg.get("IsOnHold"):
            return ScanVerdict(verdict="on_hold", reason="package on hold", uid=uid)
        if pkg.get("ExpirationDate") and pkg["ExpirationDate"] < at[:10]:
            return ScanVerdict(
                verdict="expired", reason=f"expired {pkg['ExpirationDate']}", uid=uid
            )
        return self._line(order, accepted, uid, pkg)

    def _line(
        self, order: Order, accepted: Sequence[Pick], uid: str, pkg: dict[str, Any]
    ) -> ScanVerdict:
        batch_mismatch = None
        for line in order.lines:
            full = sum(1 for p in accepted if p.line == line.line) >= line.quantity
            if full:
                continue
            if line.uid == uid or (line.sku == pkg["Sku"] and line.batch in (None, pkg["Batch"])):
                verdict = "fifo" if pkg.get("Fifo") else "match"
                reason = "an older package of this SKU exists" if verdict == "fifo" else "ok"
                return ScanVerdict(verdict=verdict, reason=reason, line=line.line, uid=uid)
            if line.sku == pkg["Sku"]:
                batch_mismatch = line
        if batch_mismatch is not None:
            return ScanVerdict(
                verdict="wrong_batch",
                reason=f"batch {pkg['Batch']}, the order wants {batch_mismatch.batch}",
                line=batch_mismatch.line,
                uid=uid,
            )
        return ScanVerdict(verdict="not_in_order", reason="not in this order", uid=uid)


class CapLimits:
    """LimitChecker stand-in: one bucket, total net milligrams against LIMIT_MG."""

    def __init__(self, inventory: dict[str, dict[str, Any]], cap_mg: int = LIMIT_MG) -> None:
        self.inventory = inventory
        self.cap_mg = cap_mg

    def check(self, order: Order, picks: Sequence[Pick], at: str) -> LimitResult:
        used = sum(p.net_mg or self.inventory[p.uid]["NetWeightMg"] for p in picks)
        used += sum(int(str(p.get("net_weight_mg", 0))) for p in order.prior)
        if used > self.cap_mg:
            reason = f"over the limit: {used} mg of {self.cap_mg} mg"
            return LimitResult(allowed=False, reason=reason)
        return LimitResult(allowed=True, reason=f"{used} mg of {self.cap_mg} mg")


class DictCentral:
    """CentralState stand-in over fixture lists."""

    def __init__(self, badges: list[dict[str, Any]], orders: list[dict[str, Any]]) -> None:
        self.badges = {b["code"]: msgspec.convert(b, Badge) for b in badges}
        self.orders = [msgspec.convert(o, Order) for o in orders]
        self.queue: list[str] = []

    def badge(self, code: str) -> Badge | None:
        return self.badges.get(code)

    def order(self, order_id: str) -> Order | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def next_order(self) -> Order | None:
        return self.order(self.queue[0]) if self.queue else None

    def order_finished(self, order_id: str, status: str) -> None:
        if order_id in self.queue:
            self.queue.remove(order_id)

    def inventory_snapshot(self) -> bytes:
        return json.dumps([{"Label": k, **v} for k, v in INVENTORY.items()]).encode()


def seal_code_of(job: LabelJob) -> str:
    digest = hashlib.sha256(msgspec.json.encode(job)).hexdigest()[:16].upper()
    return f"SEAL-{job.order.order_id}-{digest}"


class DirPrinter:
    """LabelPrinter stand-in: writes each job as JSON under `out/`; `paper_out` file = no paper."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def submit(self, job: PrintJob) -> PrintOutcome:
        await asyncio.sleep(0.01)
        if (self.root / "paper_out").exists():
            return PrintOutcome(job_id=job.job_id, ok=False, reason="paper out")
        out = self.root / "printed"
        out.mkdir(exist_ok=True)
        (out / f"{job.job_id}.json").write_bytes(msgspec.json.encode(job))
        seal = seal_code_of(job) if isinstance(job, LabelJob) else None
        return PrintOutcome(job_id=job.job_id, ok=True, seal_code=seal)


class FileScale:
    """Scale stand-in: the stable net reading is the integer in `scale_mg`; no file = no reading."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def weigh(self) -> ScaleReading:
        await asyncio.sleep(0.005)
        try:
            return ScaleReading(net_mg=int(self.path.read_text()), division_mg=10)
        except FileNotFoundError:
            raise DeviceError("scale: no stable reading within 2000 ms") from None


class FileIndicator:
    def __init__(self, path: Path) -> None:
        self.path = path

    def signal(self, signal: Signal, detail: str = "") -> None:
        with self.path.open("a") as f:
            f.write(f"{signal} {detail}\n")


class CountingSink:
    def __init__(self) -> None:
        self.last = 0

    def wake(self, committed: Sequence[JournalEvent]) -> None:
        self.last = max(self.last, committed[-1].seq if committed else 0)


class OfflineLink:
    """Service stand-in for the central link: reports central unreachable once, then idles."""

    async def run(self, station: StationHandle) -> None:
        await station.device_state("central", False, "no answer from tcp://127.0.0.1:5560")
        await asyncio.Event().wait()


def make_ports(cfg: StationConfig) -> StationPorts:
    """The subprocess daemon's port factory (see module docstring)."""
    root = Path(cfg.station.state_dir)
    fixture = json.loads((root / "fixture.json").read_text())
    central = DictCentral(fixture["badges"], fixture["orders"])
    central.queue = fixture.get("queue", [])
    return StationPorts(
        verifier=TableVerifier(INVENTORY),
        limits=CapLimits(INVENTORY),
        weigh_rule=DriverWeighRule(WeighOutRules(cfg.scale.over_tolerance_mg)),
        central=central,
        printer=DirPrinter(root),
        indicator=FileIndicator(root / "signals.log"),
        sink=CountingSink(),
        scale=FileScale(root / "scale_mg") if fixture.get("scale") else None,
        services=[*([OfflineLink()] if fixture.get("link_offline") else []), *inject_services(cfg)],
    )


# -- running the real daemon --------------------------------------------------------------------


def write_station(
    tmp: Path,
    min_free_mb: int = 0,
    scale: bool = False,
    link_offline: bool = False,
    **workflow: str,
) -> Path:
    """A station.toml + fixture for a subprocess daemon in `tmp`; returns the config path."""
    fixture = {"badges": BADGES, "orders": ORDERS, "queue": ["2001"], "scale": scale}
    (tmp / "fixture.json").write_text(json.dumps({**fixture, "link_offline": link_offline}))
    lines = [
        "[station]",
        f'state_dir = "{tmp}"',
        f'inject_socket = "{tmp / "inject.sock"}"',
        'ports = "tests.support.station:make_ports"',
        "[journal]",
        f"min_free_mb = {min_free_mb}",
        "min_free_percent = 0",
        "[workflow]",
        *(f"{k} = {v}" for k, v in workflow.items()),
    ]
    path = tmp / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Daemon:
    """`python -m edge station --config FILE` as a subprocess, with its inject channel."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.sock_path = config.parent / "inject.sock"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: socket.socket | None = None
        self._buf = b""

    def start(self, timeout: float = 20) -> None:
        with (self.config.parent / "daemon.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge", "station", "--config", str(self.config)],
                cwd=REPO,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.connect(str(self.sock_path))
            except OSError:
                conn.close()
                time.sleep(0.05)
                continue
            conn.settimeout(10)
            self.conn, self._buf = conn, b""
            return
        raise TimeoutError("daemon did not open its inject socket")

    def log(self) -> str:
        return (self.config.parent / "daemon.log").read_text(errors="replace")

    def send(self, line: str) -> dict[str, Any]:
        assert self.conn is not None
        try:
            self.conn.sendall(line.encode() + b"\n")
            while b"\n" not in self._buf:
                chunk = self.conn.recv(65536)
                if not chunk:
                    raise ConnectionError("daemon closed the inject channel")
                self._buf += chunk
        except OSError as e:  # say why: the daemon's exit code and the end of its log
            code = self.proc.poll() if self.proc is not None else None
            raise ConnectionError(f"{e}; daemon exit {code}; log: {self.log()[-3000:]}") from e
        reply, _, self._buf = self._buf.partition(b"\n")
        result: dict[str, Any] = json.loads(reply)
        return result

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.send("state")["state"]
        return state

    def wait_phase(self, phase: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state["phase"] == phase:
                return state
            time.sleep(0.02)
        raise TimeoutError(f"phase {phase} not reached; state {self.state()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self._close()

    def terminate(self, timeout: float = 10) -> int:
        assert self.proc is not None
        self.proc.terminate()
        code = self.proc.wait(timeout)
        self._close()
        return code

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close()


# -- the real parts: the built-in wiring with simulated devices -----------------------------------


def real_inventory() -> list[dict[str, Any]]:
    """INVENTORY.json for the real-part scenarios (docs/formats.md), IL limit categories."""

    def pkg(n: int, sku: str, batch: str, category: str, **extra: Any) -> dict[str, Any]:
        return {
            "Label": tag(n),
            "Item": {"Name": f"{sku} product"},
            "Sku": sku,
            "Batch": batch,
            "Category": category,
            "LabTestingState": "TestPassed",
            **extra,
        }

    return [
        pkg(1, "FLW-BD-35", "B-1", "flower", NetWeightMg=3500, ThcMg=700, CbdMg=10),
        pkg(2, "FLW-BD-35", "B-1", "flower", NetWeightMg=3500, ThcMg=700, CbdMg=10),
        pkg(3, "FLW-BD-35", "B-2", "flower", NetWeightMg=3500, ThcMg=700, CbdMg=10),
        pkg(4, "EDI-GUM-10", "E-1", "edible", NetWeightMg=20000, ThcMg=400, CbdMg=0),
        pkg(5, "FLW-OLD", "X-1", "flower", NetWeightMg=3500, ExpirationDate="2020-01-01"),
        # a 454 g bulk package: a weighed-out portion prints its share of the THC/CBD
        pkg(6, "BULK-OG", "G-1", "flower", NetWeightMg=454000, ThcMg=90800, CbdMg=1300),
        pkg(7, "FLW-HOLD", "H-1", "flower", NetWeightMg=3500, IsOnHold=True),
    ]


def real_orders(now_iso: str) -> list[dict[str, Any]]:
    """ORDERS.json for the scenarios; 2001 is assigned to station-01's queue."""
    return [
        {
            "order_id": "1042",
            "channel": "pickup",
            "customer": {"id": "C-88", "name": "Ada L.", "class": "adult"},
            "lines": [
                {"line": 1, "uid": tag(1)},
                {"line": 2, "sku": "FLW-BD-35", "batch": "B-1"},
                {"line": 3, "sku": "BULK-OG", "weigh": True, "labelled_weight_mg": 3500},
            ],
        },
        {
            "order_id": "2001",
            "channel": "delivery",
            "station": "station-01",
            "customer": {"id": "C-9", "name": "Bo K.", "class": "adult"},
            "lines": [{"line": 1, "uid": tag(4)}],
        },
        {  # 400 mg THC of edibles on top of 200 mg bought today: over IL's 500 mg
            "order_id": "3001",
            "channel": "pickup",
            "customer": {"id": "C-7", "name": "Cy D.", "class": "adult"},
            "lines": [{"line": 1, "uid": tag(4)}],
            "prior": [{"at": now_iso, "category": "edible", "quantity": 1, "thc_mg": 200}],
        },
        {
            "order_id": "4001",
            "channel": "pickup",
            "customer": {"id": "C-1", "name": "Di E.", "class": "adult"},
            "lines": [{"line": 1, "sku": "FLW-OLD"}],
        },
    ]


def write_seed(seed: Path) -> None:
    from datetime import UTC, datetime

    seed.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    (seed / "inventory.json").write_text(json.dumps(real_inventory()))
    (seed / "orders.json").write_text(json.dumps(real_orders(now)))
    (seed / "badges.json").write_text(json.dumps(BADGES))


def write_real_station(
    tmp: Path, printer_target: str, scale_port: str | None = None, **workflow: str
) -> Path:
    """station.toml for the built-in wiring: seed files, sim printer, optional sim scale (mt-sics),
    recording indicator (<tmp>/indicator.log), inject channel."""
    write_seed(tmp / "seed")
    lines = [
        "[station]",
        f'state_dir = "{tmp}"',
        f'inject_socket = "{tmp / "inject.sock"}"',
        f'seed_dir = "{tmp / "seed"}"',
        "[printer]",
        f'target = "{printer_target}"',
        "retry_ms = 200",
        "timeout_ms = 2000",
        "[indicator]",
        'backend = "recording"',
        "[journal]",
        "min_free_mb = 0",
        "min_free_percent = 0",
        "[workflow]",
        *(f"{k} = {v}" for k, v in workflow.items()),
    ]
    if scale_port:
        lines += [
            "[scale]",
            "enabled = true",
            f'port = "{scale_port}"',
            'protocol = "mt-sics"',
            "poll_interval_ms = 50",
            "stable_readings = 3",
            "stable_window_ms = 150",
        ]
    path = tmp / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def journal_events(tmp: Path, type_: str | None = None) -> list[dict[str, Any]]:
    """Every journalled event (read-only), optionally of one type, as {type, body, seq}."""
    from edge.journal import Journal

    journal = Journal(tmp / "journal.sqlite3", readonly=True)
    try:
        events = [
            {"seq": e.seq, "type": e.type, "body": json.loads(e.body)}
            for e in journal.iter_events()
        ]
    finally:
        journal.close()
    return [e for e in events if type_ is None or e["type"] == type_]


def signals_logged(tmp: Path) -> list[str]:
    """Signal names the recording indicator logged, in order."""
    path = tmp / "indicator.log"
    if not path.exists():
        return []
    return [line.split(" ", 2)[1] for line in path.read_text().splitlines() if line]
