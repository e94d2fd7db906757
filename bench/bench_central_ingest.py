"""Central ingest at 1, 10 and 50 stations (SQLite and/or PostgreSQL), through `bench_sync.py`.

Runs bench/bench_sync.py (stations drain a journal backlog into a central subprocess, then a
steady phase of 100 events/s per station; events/s to durable commit, ACK latency p50/p99 as the
ACK reaches the station and once the station's cursor took it in, central's CPU per event, the
store-alone peer) for each station count, one after the other; with `--old-root` (a worktree of
an older commit) once on that tree first, old beside new. Every acked event is checked stored.
`--store postgres` starts a real PostgreSQL (Debian's binaries, as the tests do) and points
central's `store` URL at it: the same PgStore as a production `postgresql://` store.
Targets (issue 20): >= 20,000 events/s on SQLite and >= 10,000 on PostgreSQL with 10 stations,
ACK p99 <= 100 ms at steady load. `--journals-on-tmpfs` puts the stations' journals on /dev/shm, as
if each had a disk of its own: on one shared disk, 50 stations' fsync'd appends fall far short
of the 5,000 events/s offered (the bench prints the rate achieved).

    .venv/bin/python bench/bench_central_ingest.py [--plan 1:20000,10:5000,50:1000] \\
        [--store sqlite|postgres|both] [--old-root /tmp/old-tree] [--steady-s 3] \\
        [--journals-on-tmpfs]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-root", type=Path, help="a worktree of an older commit, run first")
    ap.add_argument("--plan", default="1:20000,10:5000,50:1000", help="stations:events each")
    ap.add_argument("--store", choices=("sqlite", "postgres", "both"), default="sqlite")
    ap.add_argument("--steady-s", default="3", help="seconds of steady load per run")
    ap.add_argument(
        "--journals-on-tmpfs", action="store_true", help="the stations' journals on /dev/shm"
    )
    args = ap.parse_args()
    sides = [("new", REPO)] if args.old_root is None else [("old", args.old_root), ("new", REPO)]
    failed = 0
    for step in args.plan.split(","):
        stations, events = (int(x) for x in step.split(":"))
        for side, root in sides:
            print(f"--- {side}: {stations} stations x {events:,} events", flush=True)
            run = subprocess.run(
                [
                    sys.executable,
                    str(REPO / "bench" / "bench_sync.py"),
                    "--store",
                    args.store,
                    "--stations",
                    str(stations),
                    "--events",
                    str(events),
                    "--target",
                    "20000",
                    "--pg-target",
                    "10000",
                    "--steady-s",
                    args.steady_s,
                    *(["--journals-on-tmpfs"] if args.journals_on_tmpfs else []),
                ],
                cwd=root,
                env={**os.environ, "PYTHONPATH": str(root)},
                check=False,
            )
            failed += run.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
