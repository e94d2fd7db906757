"""Benchmark of the station's production inventory path: central's replica -> the Rust index.

Fills a replica (`edge.link.replica.Replica`, the file the link keeps) with N packages through
`apply_snapshot_part`, as central's snapshot arrives, then builds the index in a fresh child
process per path, so peak RSS is the build's own:

- old: the path of commit eaab2ff (`ReplicaCentral._build_inventory`): `Replica.inventory()`
  (a Python dict per package) -> `msgspec.json.encode` -> `Inventory.from_json`; run on that
  commit's Python code with `--old-root` (a worktree of eaab2ff);
- new: `edge.link.replica_inventory.ReplicaIndex.build()` (rows straight into `InventoryRows`);
- snap: a restart, `ReplicaIndex.start()`: the binary snapshot the new child saved, brought up to
  date with the 100 feed changes the new child applied after saving it.

Each child prints build wall/CPU time, peak RSS (ru_maxrss) and RSS before the build, the index's
heap bytes, the p99/max of a scan-like loop (an exact lookup per iteration) run in a thread while
the build runs (how long the build holds the GIL), and a digest of every package's fields; the
digests must be equal. The new child also applies 100 feed changes (QUPD: 50 replaced, 25
removed, 25 added) and times `ReplicaIndex.refresh()` against a full build of the same replica,
digests checked equal; then 20 packages changed in place (put on hold: the feed's usual change,
refreshed without a rebuild), checked the same way. Targets: 1 M packages built <= 1 s and <= 150 MB; peak <= 1.5x the index.

    .venv/bin/python bench/bench_replica_inventory.py --packages 100000,1000000 \
        --old-root /tmp/old-perf2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import hashlib, json, resource, statistics, sys, threading, time
sys.path.insert(0, sys.argv[1])
mode, path = sys.argv[2], sys.argv[3]
from pathlib import Path
from edge.link.replica import Replica
from edge.scan import Inventory

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

FIELDS = ("label name sku batch location category product_category package_type unit_of_measure"
          " lab_testing_state quantity unit_thc_content packaged_date expiration_date is_on_hold"
          " is_finished net_weight_mg thc_mg cbd_mg concentrate_mg volume_ml").split()

def digest(inv):
    h = hashlib.sha256()
    for tag in sorted(inv.labels()):
        p = inv.lookup(tag)
        h.update(repr(tuple(getattr(p, f) for f in FIELDS)).encode())
    return h.hexdigest()

replica = Replica(Path(path))
probe = Inventory.from_json(b'[{"Label":"1A4000000000000000000001","Item":{"Name":"x"},"Sku":"s","Batch":"b"}]')
lat, stop = [], threading.Event()
def scans():
    t = time.perf_counter()
    while not stop.is_set():
        probe.lookup("1A4000000000000000000001")
        time.sleep(0.0005)
        now = time.perf_counter(); lat.append(now - t - 0.0005); t = now

def old_build():
    import msgspec
    return Inventory.from_json(msgspec.json.encode(replica.inventory()))

def new_build():
    from edge.link.replica_inventory import ReplicaIndex
    index = ReplicaIndex(replica)
    index.build()
    return index

def snap_start():
    from edge.link.replica_inventory import ReplicaIndex
    index = ReplicaIndex(replica, Path(path).with_name("replica-index.bin"))
    index.start()
    return index

base = rss_mb()
th = threading.Thread(target=scans); th.start(); time.sleep(0.05); lat.clear()
c0, t0 = time.process_time(), time.perf_counter()
built = {"old": old_build, "new": new_build, "snap": snap_start}[mode]()
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
stop.set(); th.join()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
inv = built if mode == "old" else built.inventory  # snap: after the new child's 100 changes
lat.sort()
out = dict(mode=mode, n=len(inv), build_s=wall, cpu_s=cpu, peak_mb=peak, base_mb=base,
           after_mb=rss_mb(), heap_mb=inv.heap_bytes / 2**20,
           gil_p99_ms=lat[int(len(lat) * 0.99)] * 1e3 if lat else 0.0,
           gil_max_ms=lat[-1] * 1e3 if lat else 0.0, digest=digest(inv))
if mode == "new":
    built.snapshot_path = Path(path).with_name("replica-index.bin")
    t0 = time.perf_counter(); built._save(); out["save_s"] = time.perf_counter() - t0
    from edge.common.protocol import FeedItem, QueueUpdate
    labels = sorted(inv.labels())
    q = replica.last_qseq()
    body = replica.package(labels[0])
    changes = []
    for i, tag in enumerate(labels[1:51]):
        b = dict(replica.package(tag)); b["Location"] = f"moved-{i}"
        changes.append(FeedItem(kind="package", key=tag, body=json.dumps(b).encode()))
    changes += [FeedItem(kind="package", key=t, body=None) for t in labels[51:76]]
    for i in range(25):
        b = dict(body); tag = f"1A4FFFFFFFFFFFFFFFFF{i:04d}"; b["Label"] = tag
        changes.append(FeedItem(kind="package", key=tag, body=json.dumps(b).encode()))
    for item in changes:
        assert replica.apply_update(QueueUpdate(qseq=q + 1, prev_qseq=q, item=item)); q += 1
    t0 = time.perf_counter(); changed = built.refresh(); inc = time.perf_counter() - t0
    from edge.scan import InventoryRows
    t0 = time.perf_counter(); rows = InventoryRows()  # not a ReplicaIndex: that prunes the log
    for _, _, chunk in replica.package_rows(4096):
        rows.add(chunk)
    full, _ = rows.finish(); fb = time.perf_counter() - t0
    assert changed
    out.update(incremental_s=inc, full_after_s=fb, digest_after=digest(built.inventory),
               incremental_equal=digest(built.inventory) == digest(full),
               n_after=len(built.inventory))
    # the feed's usual set: 20 packages changed in place (put on hold), no add, remove or rename
    for tag in labels[100:120]:
        b = dict(replica.package(tag)); b["IsOnHold"] = True
        item = FeedItem(kind="package", key=tag, body=json.dumps(b).encode())
        assert replica.apply_update(QueueUpdate(qseq=q + 1, prev_qseq=q, item=item)); q += 1
    t0 = time.perf_counter(); assert built.refresh(); held_s = time.perf_counter() - t0
    rows = InventoryRows()
    for _, _, chunk in replica.package_rows(4096):
        rows.add(chunk)
    full, _ = rows.finish()
    out.update(in_place_s=held_s, in_place_equal=digest(built.inventory) == digest(full),
               digest_after=digest(built.inventory))
print(json.dumps(out))
"""

HEX = "0123456789ABCDEF"
SKUS = [f"SKU-{i:04d}" for i in range(400)]


def body(i: int, tag: str) -> bytes:
    sku = SKUS[i * 7 % len(SKUS)]
    day = 1 + i % 28
    return (
        f'{{"Batch":"B-{i // 500}","Category":"flower","ExpirationDate":"2027-{1 + i % 12:02d}-'
        f'{day:02d}","IsOnHold":false,"Item":{{"Name":"Product {sku}","ProductCategoryName":'
        f'"Flower","UnitThcContent":24.5}},"LabTestingState":"TestPassed","Label":"{tag}",'
        f'"Location":"vault/shelf-{i % 200}","NetWeightMg":3500,"PackageType":"Product",'
        f'"PackagedDate":"2026-{1 + i % 9:02d}-{day:02d}","Quantity":1,"Sku":"{sku}",'
        f'"ThcMg":857,"UnitOfMeasureName":"Each"}}'
    ).encode()


def fill(path: Path, n: int) -> float:
    """A replica with `n` packages, through central's snapshot parts (production path)."""
    from edge.common.protocol import FeedItem, Snap
    from edge.link.replica import Replica

    replica = Replica(path)
    t0 = time.perf_counter()
    size = 20_000
    for part, start in enumerate(range(0, n, size)):
        items = [
            FeedItem(kind="package", key=tag, body=body(i, tag))
            for i in range(start, min(n, start + size))
            for tag in [f"1A4060300002C9B{i * 7919 % 16**9:09X}"]
        ]
        last = start + size >= n
        assert replica.apply_snapshot_part(
            Snap(snap_id="bench", qseq=n, part=part, last=last, items=items)
        )
    replica.close()
    return time.perf_counter() - t0


def _mb(result: dict[str, float | str | bool], key: str) -> float:
    """A child's numeric figure (MB or seconds) by name."""
    value = result[key]
    assert isinstance(value, float | int), (key, value)
    return float(value)


def child(root: Path, mode: str, path: Path) -> dict[str, float | str | bool]:
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=str(root),
    )
    result: dict[str, float | str | bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packages", default="100000,1000000")
    ap.add_argument("--old-root", type=Path, default=None, help="a worktree of commit eaab2ff")
    args = ap.parse_args()
    new_root = Path(__file__).resolve().parent.parent
    ok = True
    for n in (int(x) for x in args.packages.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "replica.sqlite3"
            took = fill(path, n)
            print(f"\n{n:,} packages: replica filled by snapshot parts in {took:.1f} s")
            # old first: the new child then applies feed changes to the replica
            runs = ([("old", args.old_root)] if args.old_root else []) + [
                ("new", new_root),
                ("snap", new_root),  # restart: the snapshot + the 100 changes since
            ]
            got = {mode: child(root, mode, path) for mode, root in runs}
            for mode, r in got.items():
                print(
                    f"  {mode}: build {r['build_s']:.3f} s wall, {r['cpu_s']:.3f} s CPU; "
                    f"peak RSS {r['peak_mb']:.0f} MB (before build {r['base_mb']:.0f} MB, "
                    f"after {r['after_mb']:.0f} MB); index heap {r['heap_mb']:.0f} MB; "
                    f"peak over base / index {(_mb(r, 'peak_mb') - _mb(r, 'base_mb')) / max(_mb(r, 'heap_mb'), 1e-9):.2f}x; "
                    f"scan loop during build p99 {r['gil_p99_ms']:.2f} ms max {r['gil_max_ms']:.1f} ms"
                )
            new = got["new"]
            print(
                f"  new, 100 feed changes: refresh {_mb(new, 'incremental_s') * 1e3:.0f} ms vs full "
                f"build {_mb(new, 'full_after_s') * 1e3:.0f} ms; equal to a full build: "
                f"{new['incremental_equal']}"
            )
            print(
                f"  new, 20 packages changed in place (held): refresh "
                f"{_mb(new, 'in_place_s') * 1e3:.1f} ms; equal to a full build: "
                f"{new['in_place_equal']}"
            )
            print(f"  new: snapshot written in {float(new['save_s']) * 1e3:.0f} ms")
            same_snap = got["snap"]["digest"] == new["digest_after"]
            print(f"  snap (restart from the snapshot + 120 changes) equal to new: {same_snap}")
            ok = ok and bool(new["incremental_equal"]) and bool(new["in_place_equal"]) and same_snap
            if "old" in got:
                same = got["old"]["digest"] == new["digest"]
                print(f"  old and new indexes equal (every package's fields): {same}")
                ok = ok and same
    print(f"\nall checks {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
