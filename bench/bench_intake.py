"""Central's event loop while a 100,000-package `PUT /v1/inventory` is imported.

Runs central (CentralService, SQLite store) in a child process with a lag probe on its loop: a
task that sleeps 5 ms and records how late it wakes. The longest lateness is the longest stall,
the time every station ACK, feed update and health check would wait (beside it: the longest stall
in 3 idle seconds before, the machine's own noise). The parent sends the
inventory (~49 MB) and polls `GET /v1/health` (no token: liveness) every 20 ms meanwhile.

    .venv/bin/python bench/bench_intake.py                      # this tree
    .venv/bin/python bench/bench_intake.py --old /work/main     # ... beside another checkout

`--old TREE` runs the same measurement on another checkout's central (its own .venv if it has
one): the figures print side by side. docs/benchmarks.md has the figures measured.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IDLE_S = 3.0

CHILD = r"""
import asyncio, json, sys, time
from pathlib import Path
from central.config import load_central_config
from central.service import CentralService

async def main(config):
    svc = CentralService(load_central_config(Path(config)))
    task = asyncio.create_task(svc.run())
    await svc.ready.wait()
    worst = [0.0]

    async def probe():
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            worst[0] = max(worst[0], time.perf_counter() - t - 0.005)

    lag = asyncio.create_task(probe())
    print("ready", svc.bound["intake"], flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "mark": the idle period ends
    print(json.dumps({"idle_stall_ms": round(worst[0] * 1000, 1)}), flush=True)
    worst[0] = 0.0
    await asyncio.to_thread(sys.stdin.readline)
    print(json.dumps({"max_stall_ms": round(worst[0] * 1000, 1)}), flush=True)
    lag.cancel()
    task.cancel()

asyncio.run(main(sys.argv[1]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def inventory(n: int) -> bytes:
    packages = [
        {
            "Label": f"1A40603000{i:014d}",
            "PackageType": "Product",
            "Quantity": 1,
            "UnitOfMeasureName": "Each",
            "PackagedDate": "2026-09-30",
            "ExpirationDate": "2027-03-31",
            "IsOnHold": False,
            "LabTestingState": "TestPassed",
            "Item": {
                "Name": f"Blue Dream 3.5g #{i % 997}",
                "ProductCategoryName": "Flower (packaged eighth - each)",
                "UnitThcContent": 245.0,
                "UnitThcContentUnitOfMeasureName": "Milligrams",
                "UnitWeight": 3.5,
                "UnitWeightUnitOfMeasureName": "Grams",
            },
            "Sku": f"FLW-{i % 500:03d}",
            "Batch": f"B-{i % 2000}",
            "Location": f"vault-a/shelf-{i % 40}",
            "Category": "flower",
            "NetWeightMg": 3500,
            "ThcMg": 245,
            "CbdMg": 2,
            "ConcentrateMg": 0,
            "VolumeMl": 0,
        }
        for i in range(n)
    ]
    return json.dumps(packages).encode()


def config(root: Path) -> Path:
    import zmq.auth

    keys = root / "keys"
    keys.mkdir()
    zmq.auth.create_certificates(str(keys), "central")
    for name in ("stations", "subscribers"):
        (root / name).mkdir()
    token = root / "intake.token"
    token.write_text("bench-token-0123456789\n")
    path = root / "central.toml"
    path.write_text(
        f"""[central]
bind = "tcp://127.0.0.1:{free_port()}"
store = "sqlite://{root / "central.sqlite3"}"
secret_key_file = "{keys / "central.key_secret"}"
station_keys_dir = "{root / "stations"}"
subscriber_keys_dir = "{root / "subscribers"}"
[downstream]
pub_bind = "tcp://127.0.0.1:{free_port()}"
replay_bind = "tcp://127.0.0.1:{free_port()}"
[intake]
listen = "127.0.0.1:{free_port()}"
token_file = "{token}"
max_body_mb = 128
"""
    )
    return path


def measure(tree: Path, body: bytes) -> dict[str, float]:
    python = tree / ".venv" / "bin" / "python"
    exe = str(python) if python.exists() else sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(Path(tmp))
        env = {**os.environ, "PYTHONPATH": str(tree)}
        child = subprocess.Popen(
            [exe, "-c", CHILD, str(cfg)],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            line = child.stdout.readline().split()
            if not line or line[0] != "ready":
                raise RuntimeError(f"central in {tree} did not start")
            host, port = line[1].rsplit(":", 1)
            time.sleep(IDLE_S)  # the machine's own noise: the loop's longest stall doing nothing
            child.stdin.write("mark\n")
            child.stdin.flush()
            idle = json.loads(child.stdout.readline())["idle_stall_ms"]
            headers = {"Authorization": "Bearer bench-token-0123456789"}
            health: list[float] = []
            done = threading.Event()

            def poll() -> None:
                while not done.is_set():
                    t = time.perf_counter()
                    conn = http.client.HTTPConnection(host, int(port), timeout=120)
                    conn.request(
                        "GET", "/v1/health"
                    )  # the old server answers 401: a round trip too
                    conn.getresponse().read()
                    conn.close()
                    health.append(time.perf_counter() - t)
                    time.sleep(0.02)

            poller = threading.Thread(target=poll)
            poller.start()
            t0 = time.perf_counter()
            conn = http.client.HTTPConnection(host, int(port), timeout=600)
            conn.request(
                "PUT",
                "/v1/inventory",
                body=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            answer = json.loads(resp.read())
            took = time.perf_counter() - t0
            time.sleep(0.5)  # what follows the commit (feed push) too
            done.set()
            poller.join()
            child.stdin.write("report\n")
            child.stdin.flush()
            report = json.loads(child.stdout.readline())
        finally:
            child.kill()
            child.wait()
    if resp.status != 200:
        raise RuntimeError(f"{tree}: PUT /v1/inventory answered {resp.status}: {answer}")
    return {
        "import_s": round(took, 2),
        "accepted": answer["accepted"],
        "max_stall_ms": report["max_stall_ms"],
        "idle_stall_ms": idle,
        "health_max_ms": round(max(health) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=100_000)
    parser.add_argument("--old", type=Path, help="another checkout to measure beside this one")
    args = parser.parse_args()
    body = inventory(args.packages)
    print(f"PUT /v1/inventory: {args.packages} packages, {len(body) / 1e6:.1f} MB")
    trees = [("new", REPO)] + ([("old", args.old.resolve())] if args.old else [])
    rows = [(name, tree, measure(tree, body)) for name, tree in trees]
    print(
        f"{'server':<6} {'tree':<20} {'import s':>9} {'longest loop stall ms':>22}"
        f" {'(idle 3 s before)':>18} {'health max ms':>14}"
    )
    for name, tree, r in rows:
        print(
            f"{name:<6} {str(tree)[-20:]:<20} {r['import_s']:>9} {r['max_stall_ms']:>22}"
            f" {r['idle_stall_ms']:>18} {r['health_max_ms']:>14}"
        )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
