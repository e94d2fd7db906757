"""Benchmark: the station's CPU per committed scan while its link sends the rows to a live central.

The daemon commits a scan's rows on the loop and hands them to the link (`StationLink.wake(rows)`,
edge/link/tail.py), which sends them without reading them back. Contenders, in one run, against
one real central (SQLite store, CurveZMQ):
  offered    wake(committed rows): the daemon's path
  read-back  wake() without rows: the link reads each commit back from the journal in a worker
             thread (the path before the tail, and still the path for rows appended elsewhere)
  no link    the commits alone, no link running: the floor
Each contender commits `--scans` scans of two rows (scan + verdict) in one fsync'd transaction,
spaced like a technician's scans, then waits until central has acknowledged every row; central's
copy is checked equal to the journal (no row lost, duplicated or out of chain) for each.
Prints the station process's CPU per scan (all its threads; central is another process).

Usage: PYTHONPATH=. python bench/bench_link_send.py [--scans N] [--gap-ms MS] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tests.support.central import LinkRunner, delivery_report, make_setup, running_central, until
from tests.support.events import body

CONTENDERS = ("offered", "read-back", "no link")


async def commits(runner: LinkRunner, mode: str, scans: int, gap_s: float) -> float:
    """Station CPU seconds for `scans` commits (and their delivery when a link runs)."""
    if mode != "no link":
        runner.start()
        await until(runner.link.anchored.is_set, 30)
    base = runner.journal.last_seq()
    cpu = time.process_time()
    for i in range(scans):
        with runner.journal.transaction() as txn:
            txn.append("scan", body("scan", runner.name, n=i))
            txn.append("verdict", body("verdict", runner.name, n=i))
        if mode == "offered":
            runner.link.wake(txn.appended)
        elif mode == "read-back":
            runner.link.wake()
        await asyncio.sleep(gap_s)  # the technician's next scan comes later
    if mode != "no link":
        await until(lambda: runner.journal.acked_seq() == base + 2 * scans, 120)
    spent = time.process_time() - cpu
    await runner.stop()
    return spent


def one_round(root: Path, scans: int, gap_s: float) -> dict[str, float]:
    per_scan: dict[str, float] = {}
    for n, mode in enumerate(CONTENDERS):
        name = f"station-{n + 1:02d}"
        setup = make_setup(root / name, [name])
        with running_central(setup):
            runner = LinkRunner(setup, name, root / name)
            per_scan[mode] = asyncio.run(commits(runner, mode, scans, gap_s)) / scans * 1000
        if mode != "no link":
            journal = root / name / name / "journal.sqlite3"
            report = delivery_report(setup.store, name, journal)
            bad = {k: v for k, v in report.items() if k not in ("journal", "central") and v}
            assert not bad and report["central"] == report["journal"] == 2 * scans, (mode, report)
    return per_scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=1500)
    parser.add_argument("--gap-ms", type=float, default=2.0, help="time between scans")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {mode: [] for mode in CONTENDERS}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-link-") as tmp:
            for mode, ms in one_round(Path(tmp), args.scans, args.gap_ms / 1000).items():
                runs[mode].append(ms)
    print(
        f"link send bench: {args.scans:,} scans x 2 rows, {args.gap_ms:g} ms apart, "
        f"{args.rounds} rounds; central's copy equal to the journal in every round"
    )
    print("contender    station CPU per scan, ms (median; each round)")
    for mode, values in runs.items():
        each = " ".join(f"{v:.3f}" for v in values)
        print(f"{mode:<12} {statistics.median(values):6.3f}   ({each})")
    floor = statistics.median(runs["no link"])
    for mode in ("offered", "read-back"):
        print(f"link's share, {mode:<10} {statistics.median(runs[mode]) - floor:6.3f} ms per scan")


if __name__ == "__main__":
    main()
