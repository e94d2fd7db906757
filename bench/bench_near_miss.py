"""Benchmark: the station's near-miss verdict (the call the daemon makes for a scan the vault does
not know: `edge.scan.verify.verify_scan` over an order session), against brute force with
rapidfuzz on the same queries, results checked equal.

Inventories of 10,000 / 100,000 / 1,000,000 tags, two shapes:
  realistic  tag orders of 5,000-50,000 sequential serials at scattered bases, 4 facilities
  dense      one facility, every serial of one range (the most neighbours a tag can have)
400 SKUs, each package's SKU by position. The order: 4 UID lines, 2 SKU lines and one SKU line
with a fixed batch (2,500 packages per SKU at 1 M tags). Queries (none is in the vault):
  typo       one slip (wrong, missing, extra or swapped character) of a tag a line accepts
  2-edit     two slips of a tag a line accepts
  worst      one slip of a tag no line accepts, in the densest part (many neighbours, none fit)
  no-hit     a random tag of an unknown facility
Warm: each query run once untimed right before it is timed; cold: 32 MB copied between queries
(caches evicted); floor: each query's least warm time over --floor-rounds rounds, so a tail that
is the machine's (an interrupt, a descheduled vCPU) drops out and the code's own tail stays. The peer: `rapidfuzz.process.extract(q, tags, scorer=OSA.distance,
score_cutoff=2, limit=None)` plus the lines' acceptance in Python (brute force over every tag),
on --peer-queries of each kind; every station answer on those is compared with it.
Target (issue 20): p99 <= 10 us at 1 M tags, identical to brute force, >= 10,000x rapidfuzz (typo).

    PYTHONPATH=. .venv/bin/python bench/bench_near_miss.py [--sizes 10000,100000,1000000]
        [--queries 300] [--peer-queries 12] [--floor-rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from edge.scan import Inventory, OrderCheck
from edge.scan.verify import verify_scan

HEX = "0123456789ABCDEF"
FACILITIES = ["1A4060300002C9B", "1A40603000041F0", "1A4050100001A2E", "1A4050100007D13"]
DIGITS = 24 - len(FACILITIES[0])
SKUS = [f"SKU-{i:04d}" for i in range(400)]
K, CANDIDATES = 2, 5
TODAY = "2026-11-22"


def realistic(n: int, rng: random.Random) -> list[str]:
    tags: list[str] = []
    while len(tags) < n:
        prefix = rng.choice(FACILITIES)
        base = rng.randrange(16 ** (DIGITS - 1))
        size = min(rng.randrange(5_000, 50_000), n - len(tags))
        tags.extend(f"{prefix}{base + i:0{DIGITS}X}" for i in range(size))
    return list(dict.fromkeys(tags))[:n]


def dense(n: int, rng: random.Random) -> list[str]:
    base = rng.randrange(16 ** (DIGITS - 1))
    return [f"{FACILITIES[0]}{base + i:0{DIGITS}X}" for i in range(n)]


def sku_of(i: int) -> str:
    return SKUS[i * 7 % len(SKUS)]


def inventory_json(tags: Sequence[str]) -> bytes:
    rows = (
        f'{{"Label":"{t}","Item":{{"Name":"P"}},"Sku":"{sku_of(i)}","Batch":"B-{i % 3}"}}'
        for i, t in enumerate(tags)
    )
    return ("[" + ",".join(rows) + "]").encode()


def slip(tag: str, rng: random.Random) -> str:
    i = rng.randrange(len(tag))
    op = rng.randrange(4)
    if op == 0:
        return tag[:i] + rng.choice(HEX.replace(tag[i], "")) + tag[i + 1 :]
    if op == 1:
        return tag[:i] + tag[i + 1 :]
    if op == 2:
        return tag[:i] + rng.choice(HEX) + tag[i:]
    i = min(i, len(tag) - 2)
    return tag[:i] + tag[i + 1] + tag[i] + tag[i + 2 :]


class Case:
    def __init__(self, shape: str, n: int, rng: random.Random) -> None:
        self.shape, self.n = shape, n
        self.tags = realistic(n, rng) if shape == "realistic" else dense(n, rng)
        self.index = {t: i for i, t in enumerate(self.tags)}
        self.inventory = Inventory.from_json(inventory_json(self.tags))
        uid_tags = rng.sample(self.tags, 4)
        sku_a, sku_b, sku_c = (sku_of(rng.randrange(n)) for _ in range(3))
        self.lines: list[dict[str, Any]] = [
            *({"line": i + 1, "uid": t} for i, t in enumerate(uid_tags)),
            {"line": 5, "sku": sku_a, "quantity": 2},
            {"line": 6, "sku": sku_b},
            {"line": 7, "sku": sku_c, "batch": "B-1"},
        ]
        doc = {"order_id": "N-1", "channel": "pickup", "customer": {"id": "C"}, "lines": self.lines}
        self.check = OrderCheck(
            json.dumps(doc).encode(),
            self.inventory,
            TODAY,
            fifo="off",
            near_distance=K,
            candidates=CANDIDATES,
        )
        self.accepted = [t for t in self.tags if self.accepts(t)]

    def line_for(self, tag: str) -> tuple[int, int] | None:
        """(line kind, line number) of the line that would take `tag`, if any."""
        i = self.index[tag]
        best = None
        for ln in self.lines:
            if "uid" in ln:
                fits, kind = ln["uid"] == tag, 0
            else:
                batch_ok = ln.get("batch", f"B-{i % 3}") == f"B-{i % 3}"
                fits, kind = ln["sku"] == sku_of(i) and batch_ok, 1 if "batch" in ln else 2
            if fits and (best is None or kind < best[0]):
                best = (kind, ln["line"])
        return best

    def accepts(self, tag: str) -> bool:
        return self.line_for(tag) is not None

    def queries(self, kind: str, count: int, rng: random.Random) -> list[str]:
        out: list[str] = []
        while len(out) < count:
            if kind == "typo":
                q = slip(rng.choice(self.accepted), rng)
            elif kind == "2-edit":
                q = slip(slip(rng.choice(self.accepted), rng), rng)
            elif kind == "worst":  # a slip in the serial of a tag no line takes
                t = rng.choice(self.tags)
                if self.accepts(t):
                    continue
                i = rng.randrange(len(t) - 4, len(t))
                q = t[:i] + t[i + 1 :] if rng.random() < 0.5 else t[:i] + "G" + t[i + 1 :]
            else:
                q = "1A4" + "".join(rng.choice(HEX) for _ in range(21))
            if q not in self.index and self.check.scan(q).verdict in ("near_miss", "unknown"):
                out.append(q)  # a scan the vault does not know (not malformed, not a GS1 code)
        return out

    def station(self, q: str) -> list[str]:
        v = verify_scan(self.check, q)
        assert v.verdict in ("near_miss", "unknown"), (q, v.verdict)
        return list(v.candidates)

    def brute(self, q: str) -> list[str]:
        hits = process.extract(q, self.tags, scorer=OSA.distance, score_cutoff=K, limit=None)
        found = []
        for tag, d, _ in hits:
            line = self.line_for(tag)
            if line is not None and d > 0:
                found.append((d, line[0], tag))
        return [t for _, _, t in sorted(found)][:CANDIDATES]


def floor(fn: Callable[[str], object], queries: Sequence[str], rounds: int) -> list[int]:
    """Each query's least warm time over `rounds` rounds."""
    best = timed(fn, queries, "warm")
    for _ in range(rounds - 1):
        best = [min(a, b) for a, b in zip(best, timed(fn, queries, "warm"), strict=True)]
    return best


def timed(fn: Callable[[str], object], queries: Sequence[str], mode: str) -> list[int]:
    clock, out = time.perf_counter_ns, []
    scratch, src = bytearray(32 << 20), bytes(32 << 20)
    gc.disable()
    try:
        for q in queries:
            if mode == "warm":
                fn(q)
            elif mode == "cold":
                scratch[:] = src
            start = clock()
            fn(q)
            out.append(clock() - start)
    finally:
        gc.enable()
    return out


def pct(samples: list[int], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--shapes", default="realistic,dense")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--peer-queries", type=int, default=12)
    parser.add_argument("--floor-rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(f"near-miss bench: distance {K}, {CANDIDATES} candidates, 7-line order")
    print(
        f"{'tags':>9} {'shape':<9} {'query':<7} {'warm p50':>9} {'warm p99':>9} {'floor p99':>9} "
        f"{'cold p50':>9} {'cold p99':>9} {'rapidfuzz p50':>14} {'x rf':>8} {'equal':>7}"
    )
    worst_p99, worst_floor, all_equal, typo_speedups = 0.0, 0.0, True, []
    sizes = [int(x) for x in args.sizes.split(",")]
    largest = max(sizes)
    for n in sizes:
        for shape in args.shapes.split(","):
            case = Case(shape, n, rng)
            for kind in ("typo", "2-edit", "worst", "no-hit"):
                qs = case.queries(kind, args.queries, rng)
                warm = timed(case.station, qs, "warm")
                least = floor(case.station, qs, args.floor_rounds)
                cold = timed(case.station, qs, "cold")
                peer_qs = qs[: args.peer_queries]
                peer = timed(case.brute, peer_qs, "once") if peer_qs else [1]
                equal = sum(case.station(q) == case.brute(q) for q in peer_qs)
                all_equal &= equal == len(peer_qs)
                ratio = pct(peer, 0.5) / pct(warm, 0.5)
                if n == largest:
                    worst_p99 = max(worst_p99, pct(warm, 0.99))
                    worst_floor = max(worst_floor, pct(least, 0.99))
                    if kind == "typo":
                        typo_speedups.append(ratio)
                print(
                    f"{n:>9} {shape:<9} {kind:<7} {pct(warm, 0.5):>9.1f} {pct(warm, 0.99):>9.1f} "
                    f"{pct(least, 0.99):>9.1f} {pct(cold, 0.5):>9.1f} {pct(cold, 0.99):>9.1f} {pct(peer, 0.5):>14.1f} "
                    f"{ratio:>8.0f} {equal:>3}/{len(peer_qs):<3}"
                )
            del case
    print(
        "(times in us; floor = each query's least warm time over the rounds; "
        "x rf = rapidfuzz p50 / station warm p50)"
    )
    fast = min(typo_speedups, default=0) >= 10_000 and all_equal
    print(
        f"target at {largest:,} tags (p99 <= 10 us, all equal, >= 10,000x rapidfuzz on typos): "
        f"warm p99 {'met' if fast and worst_p99 <= 10 else 'NOT met'} (worst {worst_p99:.1f} us), "
        f"floor p99 {'met' if fast and worst_floor <= 10 else 'NOT met'} (worst {worst_floor:.1f} "
        f"us); least typo speed-up {min(typo_speedups, default=0):.0f}x, all equal: {all_equal}"
    )


if __name__ == "__main__":
    main()
