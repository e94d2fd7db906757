"""Start-up of the station daemon through the replica (the production wiring), old beside new.

One state directory per side, each with a 100,000-event journal and a replica holding 100,000
packages from central's snapshot parts (no seed files: `[station] ports = ""`, the replica as
central's state, the TCP printer emulator, the recording indicator; no link keys, so the link
reports central offline and the station packs on). The old side runs the Python code of commit
eaab2ff (`--old-root`, a worktree of it); both use this tree's compiled core. Each side starts
`--runs` times, alternating: fork to READY=1 on a real notify socket, RSS (VmRSS) and peak RSS
(VmHWM) at READY, whether PIL or python-escpos is loaded at READY (/proc/PID/maps and the
process's modules are not visible from outside: the shared objects in maps), and the station's
`state` reply, checked equal between the sides. Both trees are byte-compiled first, as an
installed wheel is (a shell's PYTHONDONTWRITEBYTECODE=1 would make every start compile them
from source). The first new start verifies the whole journal
and stores the checkpoint; the later ones verify only what is new. Also: the import time of the
daemon's modules (`-X importtime`, cumulative, of `edge.station.daemon` + `edge.station.wiring`).
Targets: start to READY <= 0.8 s with 100 k events and 100 k packages; RSS <= 50 MB at READY.

    .venv/bin/python bench/bench_startup.py --old-root /tmp/old-perf2 [--events 100000]
        [--packages 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_replica_inventory import fill as fill_replica

from drivers.printer.sim import SimPrinter
from edge.journal import Journal


def fill_journal(path: Path, events: int) -> None:
    journal = Journal(path)
    body = {"raw": "1A4060300002C9B000012345", "kind": "package", "phase": "picking"}
    for start in range(0, events, 1000):
        with journal.transaction() as txn:
            for _ in range(min(1000, events - start)):
                txn.append("scan", body)
    journal.close()


def setup(root: Path, packages: int, events: int, printer: str) -> Path:
    root.mkdir(parents=True)
    fill_replica(root / "replica.sqlite3", packages)
    fill_journal(root / "journal.sqlite3", events)
    config = root / "station.toml"
    config.write_text(
        f'[station]\nstate_dir = "{root}"\ninject_socket = "{root / "inject.sock"}"\n'
        f'[printer]\ntarget = "{printer}"\nretry_ms = 200\n'
        '[indicator]\nbackend = "recording"\n'
        "[journal]\nmin_free_mb = 0\nmin_free_percent = 0\n"
    )
    return config


def compile_bytecode(code_root: Path) -> None:
    """Byte-compile the tree's own modules, as installing the wheel does: a shell with
    PYTHONDONTWRITEBYTECODE=1 (or a read-only tree) would otherwise have every start compile
    every module from source (0.3 s here), which no installed station does."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    dirs = [str(code_root / d) for d in ("edge", "drivers") if (code_root / d).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], env=env, check=True)


def _status(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def start(config: Path, code_root: Path) -> dict[str, Any]:
    root = config.parent
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify_path = root / f"notify-{time.monotonic_ns()}.sock"
    notify.bind(str(notify_path))
    notify.settimeout(120)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_path), "PYTHONPATH": str(code_root)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge",
            "--log-level",
            "warning",
            "station",
            "--config",
            str(config),
        ],
        cwd=code_root,
        env=env,
    )
    while b"READY=1" not in notify.recv(4096):
        pass
    ready_s = time.perf_counter() - t0
    rss, hwm = _status(proc.pid, "VmRSS"), _status(proc.pid, "VmHWM")
    stat = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    maps = Path(f"/proc/{proc.pid}/maps").read_text()
    threading.Thread(target=_drain, args=(notify,), daemon=True).start()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(str(root / "inject.sock"))
    reader = conn.makefile("rb")
    conn.sendall(b"state\n")
    state = json.loads(reader.readline())["state"]
    reader.close()
    conn.close()
    proc.terminate()
    proc.wait(30)
    notify.close()
    notify_path.unlink()
    return {
        "ready_s": ready_s,
        "cpu_s": cpu_s,
        "rss_mb": rss,
        "hwm_mb": hwm,
        "pil": "/PIL/" in maps,
        "state": state,
    }


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while sock.recv(4096):
            pass


def import_ms(code_root: Path) -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import edge.station.daemon, edge.station.wiring",
        ],
        cwd=code_root,
        env={**os.environ, "PYTHONPATH": str(code_root)},
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() in ("edge.station.daemon", "edge.station.wiring"):
            total += int(parts[1])
    return total / 1000


def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in state.items()
        if k not in ("boot", "at", "since", "started_at", "devices_down")
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-root", type=Path, required=True)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--packages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with SimPrinter() as printer, tempfile.TemporaryDirectory() as tmp:
        sides = {"old": args.old_root, "new": REPO}
        configs = {
            side: setup(Path(tmp) / side, args.packages, args.events, printer.target)
            for side in sides
        }
        for code_root in sides.values():
            compile_bytecode(code_root)
        got: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for _ in range(args.runs):
            for side, code_root in sides.items():
                got[side].append(start(configs[side], code_root))
        print(f"start-up, {args.events:,} events, {args.packages:,} packages in the replica:")
        for side, runs in got.items():
            ready = [r["ready_s"] * 1000 for r in runs]
            print(
                f"  {side}: to READY "
                + ", ".join(f"{x:.0f}" for x in ready)
                + f" ms (median {statistics.median(ready):.0f}); CPU to READY "
                + ", ".join(f"{r['cpu_s'] * 1000:.0f}" for r in runs)
                + " ms; RSS at READY "
                + ", ".join(f"{r['rss_mb']:.1f}" for r in runs)
                + " MB; peak RSS "
                + ", ".join(f"{r['hwm_mb']:.1f}" for r in runs)
                + f" MB; PIL loaded: {any(r['pil'] for r in runs)}"
            )
        for side, code_root in sides.items():
            ms = [import_ms(code_root) for _ in range(3)]
            print(f"  {side}: import edge.station.daemon + wiring {min(ms):.0f} ms (best of 3)")
        same = all(
            _comparable(o["state"]) == _comparable(n["state"])
            for o, n in zip(got["old"], got["new"], strict=True)
        )
        print(f"  station state at READY equal old/new: {same}")
        if not same:
            o, n = _comparable(got["old"][0]["state"]), _comparable(got["new"][0]["state"])
            print("  differs:", {k: (o.get(k), n.get(k)) for k in {*o, *n} if o.get(k) != n.get(k)})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
