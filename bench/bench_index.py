"""Benchmark of the vault inventory index (edge._core.Inventory), against rapidfuzz.

A 1,000,000-package METRC-shaped inventory with realistic tags: a few facility prefixes, each
with tag orders of sequential serials. Prints: index build time and peak RSS (in a fresh child
process), exact lookup and near-miss latency p50/p99 over 10,000 queries (half typos of real
tags, half random tags), the same near-miss queries answered by rapidfuzz
(`process.extract(..., scorer=OSA.distance, score_cutoff=2, limit=None)` over the same tag list)
with a check that both give the same tags, and reconciliation of 100,000 counted against 100,000
expected tags. Targets (2-core machine): near-miss p99 <= 50 us and >= 1,000x rapidfuzz,
build <= 3 s and <= 300 MB, reconcile <= 50 ms.

    .venv/bin/python bench/bench_index.py [--packages 1000000] [--queries 10000] [--peer-queries 200]

Figures are noisy on a shared machine; run it on an idle one for numbers to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from edge.scan import Inventory

HEX = "0123456789ABCDEF"
# Program/state + facility segments as seen in public sample data: 1A4 + 11 hex.
FACILITIES = ["1A4060300002C9B", "1A40603000041F0", "1A4050100001A2E", "1A4050100007D13"]
SERIAL_DIGITS = 24 - len(FACILITIES[0])
SKUS = [f"SKU-{i:04d}" for i in range(400)]


def make_tags(n: int, rng: random.Random) -> list[str]:
    """`n` tags: per facility, tag orders of 5,000-50,000 sequential serials at scattered bases."""
    tags: list[str] = []
    while len(tags) < n:
        prefix = rng.choice(FACILITIES)
        base = rng.randrange(16 ** (SERIAL_DIGITS - 1))
        size = min(rng.randrange(5_000, 50_000), n - len(tags))
        tags.extend(f"{prefix}{base + i:0{SERIAL_DIGITS}X}" for i in range(size))
    return list(dict.fromkeys(tags))[:n]


def write_inventory(path: Path, tags: Sequence[str], rng: random.Random) -> None:
    """INVENTORY.json in METRC's {"Data": [...]} shape with packstation's fields."""
    with path.open("w") as out:
        out.write('{"Data": [\n')
        for i, tag in enumerate(tags):
            sku = SKUS[i * 7 % len(SKUS)]
            day = 1 + i % 28
            rec = (
                f'{{"Label": "{tag}", "PackageType": "Product", "Quantity": 1, '
                f'"UnitOfMeasureName": "Each", "PackagedDate": "2026-{1 + i % 9:02d}-{day:02d}", '
                f'"ExpirationDate": "2027-{1 + i % 12:02d}-{day:02d}", "IsOnHold": false, '
                f'"LabTestingState": "TestPassed", "Item": {{"Name": "Product {sku}", '
                f'"ProductCategoryName": "Flower", "UnitThcContent": 24.5}}, "Sku": "{sku}", '
                f'"Batch": "B-{i // 500}", "Location": "vault/shelf-{i % 200}", '
                f'"Category": "flower", "NetWeightMg": 3500, "ThcMg": 857}}'
            )
            out.write(rec + (",\n" if i + 1 < len(tags) else "\n"))
        out.write(f'], "Total": {len(tags)}}}\n')


def typo(tag: str, rng: random.Random) -> str:
    """One hand-typing slip: a wrong, missing or extra character, or two swapped neighbours."""
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


def percentiles(samples_ns: list[int]) -> str:
    s = sorted(samples_ns)
    p50 = s[len(s) // 2] / 1000
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))] / 1000
    return f"p50 {p50:8.1f} us   p99 {p99:8.1f} us"


def timed(fn: Callable[[str], object], queries: Sequence[str]) -> list[int]:
    out = []
    clock = time.perf_counter_ns
    for q in queries:
        t0 = clock()
        fn(q)
        out.append(clock() - t0)
    return out


def rss_mb() -> float:
    """Peak resident set of this process image (VmHWM; ru_maxrss would include the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_build(path: str) -> None:
    """Run in a fresh process: build the index, report time and peak RSS as JSON."""
    before = rss_mb()
    t0 = time.perf_counter()
    inv = Inventory.from_file(path)
    took = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "seconds": took,
                "baseline_mb": before,
                "peak_mb": rss_mb(),
                "heap_mb": inv.heap_bytes / 2**20,
                "packages": len(inv),
            }
        )
    )


def bench_build(path: Path) -> None:
    out = subprocess.run(
        [sys.executable, __file__, "--child-build", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    r = json.loads(out.stdout)
    size_mb = path.stat().st_size / 2**20
    print(f"build   {r['packages']:,} packages from a {size_mb:,.0f} MB file (streamed):")
    print(f"        {r['seconds']:.2f} s; peak RSS {r['peak_mb']:.0f} MB ", end="")
    print(f"(interpreter + module before loading {r['baseline_mb']:.0f} MB; ", end="")
    print(f"index heap {r['heap_mb']:.0f} MB)   targets <= 3 s, <= 300 MB")


def bench_queries(inv: Inventory, tags: list[str], n: int, rng: random.Random) -> list[str]:
    half = n // 2
    typos = [typo(rng.choice(tags), rng) for _ in range(half)]
    randoms = ["1A4" + "".join(rng.choice(HEX) for _ in range(21)) for _ in range(n - half)]
    queries = typos + randoms
    rng.shuffle(queries)
    exact = [rng.choice(tags) for _ in range(half)] + randoms
    rng.shuffle(exact)
    for q in queries[:200]:  # warm caches and branch predictors
        inv.near(q, 2, 10)
    print(f"lookup  {percentiles(timed(inv.lookup, exact))}   ({len(exact):,} queries, half hits)")
    near10 = timed(lambda q: inv.near(q, 2, 10), queries)
    print(f"near    {percentiles(near10)}   limit=10, distance <= 2   target p99 <= 50 us")
    near_all = timed(lambda q: inv.near(q, 2, None), queries)
    print(f"near    {percentiles(near_all)}   limit=None (every tag within 2)")
    sizes = sorted(len(inv.near(q, 2, None)) for q in queries[:2000])
    print(
        f"        results per query (limit=None): median {sizes[len(sizes) // 2]}, max {sizes[-1]}"
    )
    return queries


def bench_peer(inv: Inventory, tags: list[str], queries: list[str], n: int) -> None:
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    sample = queries[:n]
    peer_ns: list[int] = []
    ours_ns: list[int] = []
    mismatches = 0
    for q in sample:
        t0 = time.perf_counter_ns()
        theirs = process.extract(q, tags, scorer=OSA.distance, score_cutoff=2, limit=None)
        peer_ns.append(time.perf_counter_ns() - t0)
        t0 = time.perf_counter_ns()
        ours = inv.near(q, 2, None)
        ours_ns.append(time.perf_counter_ns() - t0)
        if sorted((t, d) for t, d, _ in theirs) != sorted(ours):
            mismatches += 1
    ratio = statistics.median(peer_ns) / statistics.median(ours_ns)
    print(f"rapidfuzz {percentiles(peer_ns)}   process.extract OSA cutoff 2, {len(sample)} queries")
    print(f"ours      {percentiles(ours_ns)}   same queries, limit=None")
    print(f"        speed-up (median/median) {ratio:,.0f}x   target >= 1,000x")
    print(f"        same tags and distances as rapidfuzz: {len(sample) - mismatches}/{len(sample)}")


def bench_reconcile(tags: list[str], rng: random.Random, tmp: Path) -> None:
    subset = tags[:100_000]
    path = tmp / "inv100k.json"
    write_inventory(path, subset, rng)
    inv = Inventory.from_file(path)
    counted = [(t, f"vault/shelf-{i % 200}") for i, t in enumerate(subset[2_000:])]
    counted += [(f"1A4FF0100000022{i:09X}", "vault/shelf-1") for i in range(2_000)]
    for i in range(0, len(counted), 97):  # some found on the wrong shelf
        counted[i] = (counted[i][0], "vault/returns")
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        r = inv.reconcile(counted)
        runs.append(time.perf_counter() - t0)
    print(
        f"reconcile {len(counted):,} counted vs {len(inv):,} expected: median "
        f"{statistics.median(runs) * 1000:.1f} ms, best {min(runs) * 1000:.1f} ms   "
        f"target <= 50 ms  (missing {len(r.missing):,}, unexpected {len(r.unexpected):,}, "
        f"wrong place {len(r.wrong_place):,})"
    )


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--peer-queries", type=int, default=200, help="queries sent to rapidfuzz")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--child-build", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_build:
        child_build(args.child_build)
        return
    rng = random.Random(args.seed)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (shared: noisy)")
    with tempfile.TemporaryDirectory(prefix="bench_index_") as tmp:
        tags = make_tags(args.packages, rng)
        path = Path(tmp) / "inventory.json"
        write_inventory(path, tags, rng)
        bench_build(path)
        inv = Inventory.from_file(path)
        queries = bench_queries(inv, tags, args.queries, rng)
        bench_peer(inv, inv.labels(), queries, args.peer_queries)
        bench_reconcile(tags, rng, Path(tmp))


if __name__ == "__main__":
    main(sys.argv[1:])
