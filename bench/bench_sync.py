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
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from central.store import open_store
from edge.common import protocol as p
from edge.journal import Journal
from tests.support.central import CentralProcess, LinkRunner, PgCluster, Setup, make_setup
from tests.support.events import body as event_body


def fill(journal: Journal, n: int, station: str) -> None:
    with journal.transaction() as txn:
        for i in range(n):
            txn.append("scan", event_body("scan", station, n=i, uid=f"1A4{i:021X}"))


@dataclass
class Latencies:
    """Seconds from sending an EVENTS message to central's ACK covering it: as the ACK reached
    the station (`ack`) and once the station's cursor commit took it in (`durable`; the link
    coalesces those commits, edge/link/client.py ACK_COMMIT_INTERVAL_S)."""

    ack: list[float] = field(default_factory=list)
    durable: list[float] = field(default_factory=list)
    steady_rate: float = 0.0  # events/s the stations journalled in the steady phase

    def take(self) -> Latencies:
        taken = Latencies(list(self.ack), list(self.durable), self.steady_rate)
        self.ack.clear()
        self.durable.clear()
        return taken


def _probe(out: Latencies) -> Callable[[str, int], None]:
    waiting: dict[str, dict[int, float]] = {"ack": {}, "acked": {}}

    def probe(kind: str, seq: int) -> None:
        now = time.perf_counter()
        if kind == "sent":
            waiting["ack"][seq] = waiting["acked"][seq] = now
            return
        into = out.ack if kind == "ack" else out.durable
        pending = waiting[kind]
        for s in [s for s in pending if s <= seq]:
            into.append(now - pending.pop(s))

    return probe


async def drain(
    setup_root: Path, setup: object, names: list[str], events: int, steady_s: float
) -> tuple[float, Latencies, Latencies]:
    runners = [LinkRunner(setup, n, setup_root, heartbeat_ms=1000, timeout_ms=10000) for n in names]  # type: ignore[arg-type]
    latencies = Latencies()
    for r in runners:
        r.link.probe = _probe(latencies)
    start = time.perf_counter()
    for r in runners:
        r.start()
    while not all(r.journal.acked_seq() == events for r in runners):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    drained = latencies.take()
    # steady state: every station journals one event each 10 ms (100 events/s each) for
    # `steady_s`; each station's fsync'd append runs in a thread of its own, as on its own
    # machine (one thread for all could not keep 50 stations' pace), and off the loop that
    # stamps the ACKs; the ticks keep their schedule when they can, and the rate achieved is
    # reported beside the one offered
    ticks = round(steady_s * 100)
    loop = asyncio.get_running_loop()

    def append_one(r: LinkRunner) -> None:
        r.journal.append("scan", event_body("scan", r.name, steady=True))

    with ThreadPoolExecutor(max_workers=len(runners)) as pool:
        began = time.perf_counter()
        for i in range(ticks):
            await asyncio.gather(*(loop.run_in_executor(pool, append_one, r) for r in runners))
            for r in runners:
                r.link.wake()
            await asyncio.sleep(max(0.0, began + (i + 1) * 0.01 - time.perf_counter()))
        latencies.steady_rate = ticks * len(runners) / (time.perf_counter() - began)
    target = events + ticks
    while not all(r.journal.acked_seq() == target for r in runners):
        await asyncio.sleep(0.01)
    steady = latencies.take()
    for r in runners:
        await r.stop()
    return elapsed, drained, steady


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
    label: str,
    root: Path,
    store: str | None,
    stations: int,
    events: int,
    target: int,
    steady_s: float = 3.0,
    tmpfs: bool = False,
) -> None:
    names = [f"station-{i:02d}" for i in range(1, stations + 1)]
    setup = make_setup(root, names, store=store)
    with contextlib.ExitStack() as stack:
        journals = _journal_root(stack, root, tmpfs)
        _run_backend(label, setup, journals, names, events, target, steady_s)


def _journal_root(stack: contextlib.ExitStack, root: Path, tmpfs: bool) -> Path:
    """Where the stations' journals live: on tmpfs (/dev/shm) with `tmpfs`, as if each station
    had a disk of its own (50 stations' fsyncs on one shared disk cannot keep their pace);
    central's store stays on the disk under `root` either way."""
    shm = Path("/dev/shm")
    if tmpfs and shm.is_dir():
        return Path(stack.enter_context(tempfile.TemporaryDirectory(dir=shm, prefix="stations-")))
    return root


def _run_backend(
    label: str,
    setup: Setup,
    root: Path,
    names: list[str],
    events: int,
    target: int,
    steady_s: float,
) -> None:
    stations = len(names)
    for name in names:
        journal = Journal(root / name / "journal.sqlite3")
        fill(journal, events, name)
        journal.close()
    central = CentralProcess(setup)
    central.start()
    try:
        assert central.proc is not None
        cpu0 = _cpu_s(central.proc.pid)
        elapsed, drained, steady = asyncio.run(drain(root, setup, names, events, steady_s))
        central_cpu = _cpu_s(central.proc.pid) - cpu0
    finally:
        central.stop()
    total = stations * events
    rate = total / elapsed
    check = open_store(setup.store)
    stored = check.counts()
    check.close()
    # every acked event is stored (the backlog plus the steady-state phase)
    expected = total + round(steady_s * 100) * stations
    assert stored == {"events": expected, "quarantined": 0}, stored
    peer = peer_store_only(setup.store, names, root, events)
    verdict = "meets" if rate >= target else "MISSES"
    print(
        f"{label:10s} link: {rate:8.0f} events/s durable ({total} events in {elapsed:.2f} s), "
        f"ack latency p50 {pct(drained.ack, 0.5):.0f} ms p99 {pct(drained.ack, 0.99):.0f} ms; "
        f"{verdict} target {target}"
    )
    print(
        f"{label:10s} steady {stations * 100:,} events/s offered ({stations} stations, 100/s "
        f"each, {steady_s:g} s; {steady.steady_rate:,.0f} events/s achieved): ACK received p50 "
        f"{pct(steady.ack, 0.5):.1f} ms "
        f"p99 {pct(steady.ack, 0.99):.1f} ms; station cursor committed p50 "
        f"{pct(steady.durable, 0.5):.1f} ms p99 {pct(steady.durable, 0.99):.1f} ms"
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
    parser.add_argument("--pg-target", type=int, default=3000, help="PostgreSQL events/s target")
    parser.add_argument("--steady-s", type=float, default=3.0, help="seconds of steady load")
    parser.add_argument(
        "--store", choices=("sqlite", "postgres", "both"), default="both", help="which backends"
    )
    parser.add_argument("--skip-pg", action="store_true", help="the same as --store sqlite")
    parser.add_argument(
        "--journals-on-tmpfs",
        action="store_true",
        help="the stations' journals on /dev/shm (a disk of their own each, as it were)",
    )
    args = parser.parse_args()
    backends = {"sqlite", "postgres"} if args.store == "both" else {args.store}
    if args.skip_pg:
        backends.discard("postgres")
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        root = Path(tmp)
        if "sqlite" in backends:
            run_backend(
                "sqlite",
                root / "sqlite",
                None,
                args.stations,
                args.events,
                args.target,
                args.steady_s,
                args.journals_on_tmpfs,
            )
        if "postgres" in backends:
            # a real PostgreSQL (Debian's binaries, as the tests start it: tests/support/central.py)
            # through central's own `[central] store` URL: the PgStore of a `postgresql://` store
            with tempfile.TemporaryDirectory(prefix="bench-pg-") as pg_root:
                cluster = PgCluster(Path(pg_root))  # its own dir: handed to the postgres user
                cluster.start()
                try:
                    url = cluster.create_db("bench")
                    run_backend(
                        "postgresql",
                        root / "pgrun",
                        url,
                        args.stations,
                        args.events,
                        args.pg_target,
                        args.steady_s,
                        args.journals_on_tmpfs,
                    )
                finally:
                    cluster.stop()


if __name__ == "__main__":
    main()
