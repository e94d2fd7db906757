"""Central ingest at 1, 10 and 50 stations (SQLite), old beside new, through `bench_sync.py`.

Runs bench/bench_sync.py (stations drain a journal backlog into a central subprocess, then a
steady 1,000 events/s phase; events/s to durable commit, ACK latency p50/p99, central's CPU per
event, the store-alone peer) once on the Python code of commit eaab2ff (`--old-root`, a worktree
of it) and once on this tree, for each station count, one after the other. Both sides check
that every acked event is stored. Target: >= 20,000 events/s on SQLite with 10 stations, ACK
p99 <= 100 ms at steady load.

    .venv/bin/python bench/bench_central_ingest.py --old-root /tmp/old-perf2 \
        [--plan 1:20000,10:5000,50:1000]
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
    ap.add_argument("--old-root", type=Path, required=True)
    ap.add_argument("--plan", default="1:20000,10:5000,50:1000", help="stations:events each")
    args = ap.parse_args()
    failed = 0
    for step in args.plan.split(","):
        stations, events = (int(x) for x in step.split(":"))
        for side, root in (("old", args.old_root), ("new", REPO)):
            print(f"--- {side}: {stations} stations x {events:,} events", flush=True)
            run = subprocess.run(
                [
                    sys.executable,
                    str(REPO / "bench" / "bench_sync.py"),
                    "--skip-pg",
                    "--stations",
                    str(stations),
                    "--events",
                    str(events),
                    "--target",
                    "20000",
                ],
                cwd=root,
                env={**os.environ, "PYTHONPATH": str(root)},
                check=False,
            )
            failed += run.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
