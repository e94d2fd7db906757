"""Benchmark: `bench_near_miss.py`'s dense worst-case scans split by what the slip left: a byte no
tag holds (a `G` in a hex serial, which the walk counts as an edit ahead) or a deletion (a
23-character scan). Each query's least time over --rounds runs through the station's
`verify_scan` (the floor), p50 and p99 over the queries of each kind. Run it in a worktree of each
version, with its own core, alternating, to compare.

    PYTHONPATH=. .venv/bin/python bench/bench_near_miss_worst.py [--tags 1000000] [--queries 500]
        [--rounds 9]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence

from bench_near_miss import Case  # the same directory (run as a script)


def least(case: Case, q: str, rounds: int) -> int:
    best = None
    for _ in range(rounds):
        start = time.perf_counter_ns()
        case.station(q)
        took = time.perf_counter_ns() - start
        best = took if best is None else min(best, took)
    assert best is not None
    return best


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tags", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    case = Case("dense", args.tags, rng)
    queries = case.queries("worst", args.queries, rng)
    kinds = {
        "unheld byte": [q for q in queries if "G" in q],
        "deletion": [q for q in queries if "G" not in q],
    }
    print(f"dense worst-case scans at {args.tags:,} tags, floor over {args.rounds} runs")
    for kind, qs in kinds.items():
        times = sorted(least(case, q, args.rounds) for q in qs)
        if not times:
            continue
        p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(0.99 * len(times)))]
        print(
            f"{kind:<12} {len(qs):>5} queries  p50 {p50 / 1000:6.1f} us  p99 {p99 / 1000:6.1f} us"
        )


if __name__ == "__main__":
    main()
