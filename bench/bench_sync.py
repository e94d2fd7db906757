"""Benchmark: ten stations drain a 10,000-event backlog each into central (SQLite, PostgreSQL).

Prints events/s to durable commit (an event counts once central's ACK, sent after COMMIT, reached
the station) and the p50/p99 acknowledgement latency of EVENTS messages, and compares with a named
peer measured in the same run: the store alone (`commit_batch` of the same events in 4,000-event
transactions, no network, no station), which is the ceiling the link can approach.

    .venv/bin/python bench/bench_sync.py [--events 10000] [--stations 10] [--skip-pg]

Targets on a 2-core machine: >= 5,000 events/s on SQLite, >= 3,000 events/s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from central.store import open_store
from edge.common import protocol as p
from edge.journal import Journal
from tests.support.central import CentralProcess, LinkRunner, PgCluster, make_setup
from tests.support.events import body as event_body


def fill(journal: Journal, n: int, station: str) -> None:
    with journal.transaction() as txn:
        for i in range(n):
            txn.append("scan", event_body("scan", station, n=i, uid=f"1A4{i:021X}"))


async def drain(
    setup_root: Path, setup: object, names: list[str], events: int, steady: list[float]
) -> tuple[float, list[float]]:
    runners = [LinkRunner(setup, n, setup_root, heartbeat_ms=1000, timeout_ms=10000) for n in names]  # type: ignore[arg-type]
    latencies: list[float] = []
    for r in runners:
        sent: dict[int, float] = {}

        def probe(kind: str, seq: int, sent: dict[int, float] = sent) -> None:
            now = time.perf_counter()
            if kind == "sent":
                sent[seq] = now
                return
            for s in [s for s in sent if s <= seq]:
                latencies.append(now - sent.pop(s))

        r.link.probe = probe
    start = time.perf_counter()
    for r in runners:
        r.start()
    while not all(r.journal.acked_seq() == events for r in runners):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    drained = list(latencies)
    latencies.clear()
    # steady state: every station journals one event each 10 ms (1,000 events/s in all) for 3 s
    for _ in range(300):
        for r in runners:
            r.journal.append("scan", event_body("scan", r.name, steady=True))
            r.link.wake()
        await asyncio.sleep(0.01)
    target = events + 300
    while not all(r.journal.acked_seq() == target for r in runners):
        await asyncio.sleep(0.01)
    steady.extend(latencies)
    for r in runners:
        await r.stop()
    return elapsed, drained


def peer_store_only(url: str, names: list[str], root: Path, events: int) -> float:
    """The named peer: the same events straight into the store, 4,000 per transaction."""
    store = open_store(url)
    batch: list[tuple[str, p.Event]] = []
    count = 0
    start = time.perf_counter()
    for name in names:
        journal = Journal(root / name / "journal.sqlite3")
        for ev in journal.iter_events(4000):
            wire = p.Event(
                seq=ev.seq,
                event_id=ev.event_id,
                at=ev.at,
                type=ev.type,
                body=ev.body,
                prev_hash=ev.prev_hash,
                hash=ev.hash,
            )
            batch.append((f"peer-{name}", wire))
            count += 1
            if len(batch) == 4000:
                store.commit_batch(batch, [])
                batch = []
        journal.close()
    store.commit_batch(batch, [])
    elapsed = time.perf_counter() - start
    store.close()
    del events
    return count / elapsed


def _cpu_s(pid: int) -> float:
    """utime + stime of a process (the figure that holds on a loaded machine)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def run_backend(
    label: str, root: Path, store: str | None, stations: int, events: int, target: int
) -> None:
    names = [f"station-{i:02d}" for i in range(1, stations + 1)]
    setup = make_setup(root, names, store=store)
    for name in names:
        journal = Journal(root / name / "journal.sqlite3")
        fill(journal, events, name)
        journal.close()
    central = CentralProcess(setup)
    central.start()
    try:
        assert central.proc is not None
        cpu0 = _cpu_s(central.proc.pid)
        steady: list[float] = []
        elapsed, latencies = asyncio.run(drain(root, setup, names, events, steady))
        central_cpu = _cpu_s(central.proc.pid) - cpu0
    finally:
        central.stop()
    total = stations * events
    rate = total / elapsed
    check = open_store(setup.store)
    stored = check.counts()
    check.close()
    # every acked event is stored (the backlog plus the steady-state phase)
    assert stored == {"events": total + 300 * stations, "quarantined": 0}, stored
    peer = peer_store_only(setup.store, names, root, events)
    verdict = "meets" if rate >= target else "MISSES"
    print(
        f"{label:10s} link: {rate:8.0f} events/s durable ({total} events in {elapsed:.2f} s), "
        f"ack latency p50 {pct(latencies, 0.5):.0f} ms p99 {pct(latencies, 0.99):.0f} ms; "
        f"{verdict} target {target}"
    )
    print(
        f"{label:10s} steady {stations * 100:,} events/s ({stations} stations, 100/s each): ack latency "
        f"p50 {pct(steady, 0.5):.1f} ms p99 {pct(steady, 0.99):.1f} ms"
    )
    print(
        f"{label:10s} central process CPU {central_cpu:.2f} s for {stored['events']} events "
        f"({central_cpu / stored['events'] * 1e6:.0f} us/event)"
    )
    print(
        f"{label:10s} peer (store alone, no network): {peer:8.0f} events/s; link/peer = {rate / peer:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--target", type=int, default=5000, help="SQLite events/s target")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        root = Path(tmp)
        run_backend("sqlite", root / "sqlite", None, args.stations, args.events, args.target)
        if not args.skip_pg:
            with tempfile.TemporaryDirectory(prefix="bench-pg-") as pg_root:
                cluster = PgCluster(Path(pg_root))  # its own dir: handed to the postgres user
                cluster.start()
                try:
                    url = cluster.create_db("bench")
                    run_backend("postgresql", root / "pgrun", url, args.stations, args.events, 3000)
                finally:
                    cluster.stop()


if __name__ == "__main__":
    main()
