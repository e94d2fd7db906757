"""Benchmark: sealed orders to a METRC emulator answering in 200 ms, with ten stations sealing.

Prints (1) receipts/s from the first seal of a burst to its last `confirmed` (ten stations seal
`--burst` orders each as fast as they can), (2) the reporting delay p50/p99 from the station's seal
to `confirmed` at a steady `--rate` orders/s across the stations, and (3) the named peer measured in
the same run: one receipt per POST, waiting for each answer (openthc/pos's synchronous
send_to_metrc), on the same emulator.

The store is central's real SQLite file; stations write their events into it from their own
threads and connections, as central's committer would; the bridge is central's (ingest + bridge
loops of central/reporting.py) over HTTP to central/statesys/emulator.py.

    .venv/bin/python bench/bench_statesys.py [--burst 60] [--rate 10] [--seconds 20] [--delay-ms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from central.config import CentralConfig, StateSystemSection
from central.reporting import Reporting
from central.statesys.base import Sale
from central.statesys.bridge import Bridge
from central.statesys.emulator import MetrcEmulator, ThreadedEmulator
from central.statesys.metrc import MetrcClient
from central.statesys.store import CONFIRMED, ReportStore
from central.store import open_store
from tests.support.statesys import (
    LICENSE,
    USER,
    VENDOR,
    StationEvents,
    import_inventory,
    package,
    tag,
)

STATIONS = 10


def seal(store_url: str, station: str, labels: list[str], rate: float | None) -> None:
    store = open_store(store_url)
    events = StationEvents(store, station, real_clock=True)
    start = time.monotonic()
    for i, label in enumerate(labels):
        if rate:
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
        events.sealed_order(f"{label[-6:]}", [label])
    store.close()


def run_stations(store_url: str, labels: list[str], rate: float | None) -> list[threading.Thread]:
    per = [labels[i::STATIONS] for i in range(STATIONS)]
    threads = [
        threading.Thread(target=seal, args=(store_url, f"station-{n:02d}", per[n], rate))
        for n in range(STATIONS)
    ]
    for t in threads:
        t.start()
    return threads


async def until_confirmed(reports: ReportStore, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reports.counts().get(CONFIRMED, 0) >= n:
            return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"only {reports.counts()} of {n} confirmed in {timeout} s")


def delays(reports: ReportStore) -> list[float]:
    return [
        (
            datetime.fromisoformat(j.confirmed_at) - datetime.fromisoformat(j.origin_at)
        ).total_seconds()
        for j in reports.jobs(state=CONFIRMED)
        if j.confirmed_at
    ]


async def peer_phase(client: MetrcClient, peer: list[str]) -> None:
    """The peer: one receipt per POST, waiting for each answer (openthc/pos's send_to_metrc)."""
    started = time.monotonic()
    for label in peer:
        receipt = {
            "SalesDateTime": "2026-11-22T12:00:00.000",
            "ExternalReceiptNumber": f"peer-{label}",
            "SalesCustomerType": "Consumer",
            "Transactions": [
                {"PackageLabel": label, "Quantity": 1, "UnitOfMeasure": "Each", "TotalAmount": 0}
            ],
        }
        await client.post_sales([Sale(f"peer-{label}", receipt)])
    took = time.monotonic() - started
    print(f"peer (one receipt per POST, waiting for each): {len(peer) / took:.1f} receipts/s")


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-statesys-"))
    url = f"sqlite://{root / 'central.sqlite3'}"
    total = args.burst * STATIONS + int(args.rate * args.seconds) + 50
    pkgs = [package(tag(0x10000 + i)) for i in range(total)]
    labels = [p["Label"] for p in pkgs]
    store = open_store(url)
    import_inventory(store, pkgs)
    emu = ThreadedEmulator(MetrcEmulator(VENDOR, USER))
    emu.emulator.facility(LICENSE)
    emu.emulator.load_packages(LICENSE, pkgs)
    emu.emulator.delay_s = args.delay_ms / 1000
    emu_url = emu.start()
    cfg = CentralConfig(
        state_system=StateSystemSection(
            kind="metrc", base_url=emu_url, license=LICENSE, repackaging="deli"
        )
    )
    client = MetrcClient(emu_url, LICENSE, VENDOR, USER, timeout_s=30)
    reports = ReportStore(store)
    rep = Reporting(cfg=cfg, reports=reports, system=client, webhook=None, ingest_poll_s=0.02)
    rep.bridge = Bridge(reports, client)
    tasks = [asyncio.create_task(rep.ingest_loop()), asyncio.create_task(rep.bridge_loop())]
    try:
        # 1. burst
        burst = labels[: args.burst * STATIONS]
        started = time.monotonic()
        threads = run_stations(url, burst, None)
        while any(t.is_alive() for t in threads):
            await asyncio.sleep(0.01)
        sealing = time.monotonic() - started
        await until_confirmed(reports, len(burst), 600)
        took = time.monotonic() - started
        print(
            f"burst: the stations took {sealing:.2f} s to commit their {len(burst)} orders'"
            " events (~7 events each) into the store"
        )
        print(
            f"burst: {len(burst)} orders from {STATIONS} stations, all confirmed in {took:.2f} s:"
            f" {len(burst) / took:.0f} receipts/s (emulator answering in {args.delay_ms} ms)"
        )
        # 2. steady rate
        steady = labels[len(burst) : len(burst) + int(args.rate * args.seconds)]
        before = {j.id for j in reports.jobs(state=CONFIRMED)}
        threads = run_stations(url, steady, args.rate / STATIONS)
        await until_confirmed(reports, len(burst) + len(steady), args.seconds + 120)
        for t in threads:
            t.join()
        d = sorted(
            x
            for j, x in zip(reports.jobs(state=CONFIRMED), delays(reports), strict=False)
            if j.id not in before
        )
        p99 = d[min(len(d) - 1, int(len(d) * 0.99))]
        print(
            f"steady: {len(steady)} orders at {args.rate:g}/s; seal -> confirmed p50"
            f" {statistics.median(d) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
        )
        stats = emu.emulator.stats(LICENSE)
        print(
            f"emulator: {stats['receipts']} receipts, {stats['duplicates']} duplicates,"
            f" {stats['calls'].get('POST /sales/v2/receipts', 0)} POSTs"
        )
        await peer_phase(client, labels[len(burst) + len(steady) :][:20])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()
        emu.stop()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=60, help="orders per station in the burst")
    parser.add_argument("--rate", type=float, default=10, help="steady orders/s, all stations")
    parser.add_argument("--seconds", type=float, default=20, help="length of the steady phase")
    parser.add_argument("--delay-ms", type=int, default=200, help="the emulator's answer time")
    asyncio.run(main(parser.parse_args()))
