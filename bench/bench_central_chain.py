"""Central's per-event chain check: the Python chain (edge/common/chain.py) beside the core's
batch check (core_rs/src/chain.rs via central/store/chain_check.py), verdicts checked equal, and
its share of one `commit_batch` (SQLite, 4,000-event transactions as central commits them).

    .venv/bin/python bench/bench_central_chain.py [--events 4000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from central.store import open_store
from central.store.base import check_event
from central.store.chain_check import recompute
from edge.common.chain import GENESIS, canonical_json, chain_hash
from edge.common.protocol import Event
from tests.support.events import SAMPLES
from tests.support.events import body as event_body


def events(n: int) -> list[Event]:
    """n chained events cycling through every sample type (real bodies, as stations send)."""
    types = sorted(SAMPLES)
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        type_ = types[seq % len(types)]
        body = canonical_json(event_body(type_, "station-01", n=seq))
        event_id, at = str(uuid.uuid4()), "2026-11-22T12:00:00.000000+00:00"
        digest = chain_hash(prev, seq, event_id, type_, at, body)
        out.append(Event(seq=seq, event_id=event_id, at=at, type=type_, body=body,
                         prev_hash=prev, hash=digest))  # fmt: skip
        prev = digest
    return out


def best(fn: object, rounds: int) -> float:
    assert callable(fn)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    evs, n = events(args.events), args.events

    def python_check() -> list[str | None]:
        return [check_event("s", ev, ev.prev_hash) for ev in evs]

    def core_check() -> list[str | None]:
        digests = recompute(evs)
        return [check_event("s", ev, ev.prev_hash, d) for ev, d in zip(evs, digests, strict=True)]

    def python_hash() -> list[bytes]:
        return [chain_hash(e.prev_hash, e.seq, e.event_id, e.type, e.at, e.body) for e in evs]

    assert python_check() == core_check() == [None] * n
    assert python_hash() == recompute(evs)
    t_py, t_core = best(python_check, args.rounds), best(core_check, args.rounds)
    h_py, h_core = best(python_hash, args.rounds), best(lambda: recompute(evs), args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        store = open_store(f"sqlite://{Path(tmp) / 'c.sqlite3'}")
        commits = []
        for k in range(args.rounds):
            batch = [(f"s{k}", ev) for ev in evs]
            t = time.perf_counter()
            store.commit_batch(batch, [])
            commits.append(time.perf_counter() - t)
        store.close()
    commit = min(commits)
    us = 1e6 / n
    print(f"{n} events, best of {args.rounds}; verdicts and hashes equal")
    print(f"hash alone:  python {h_py * us:.2f} us/event, core batch {h_core * us:.2f} us/event "
          f"({h_py / h_core:.1f}x)")  # fmt: skip
    print(f"check_event: python {t_py * us:.2f} us/event, core batch + rest {t_core * us:.2f} "
          f"us/event ({t_py / t_core:.1f}x)")  # fmt: skip
    print(f"commit_batch (SQLite, core check): {commit * us:.2f} us/event; the check is "
          f"{t_core / commit:.0%} of it (the Python check would be {t_py / (commit - t_core + t_py):.0%})")  # fmt: skip


if __name__ == "__main__":
    main()
