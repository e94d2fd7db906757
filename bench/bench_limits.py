"""Benchmark: limit checks of a 20-line cart with 50 prior purchases, called from Python.

Three contenders on the same random carts (all 14 shipped rule files), in one run:
  core       edge._core.LimitRules.check on prepared tuples (the Rust engine + PyO3 boundary),
             reading the verdict and crossing line (what the label gate needs)
  core-full  the same, also converting every bucket and largest-further amount to Python
  engine     edge.limits.engine.LimitEngine.check(Cart) (adds time-zone resolution and typed results)
  reference  the pure-Python fractions.Fraction reference (tests/support/limits.py)
Prints p50/p99 per call and the speed-up over the reference. Target: p99 <= 20 us, >= 20x.

Usage: python bench/bench_limits.py [--carts N] [--rounds R] [--seed S]
"""

from __future__ import annotations

import argparse
import functools
import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from edge.limits.engine import Cart, CartLine, LimitEngine, PriorPurchase, epoch_seconds
from tests.support.limits import random_cart, reference_check

LINES, PRIOR = 20, 50


def small_line(rng: random.Random) -> CartLine:
    """A line sized so that 20 of them plus 50 priors are over a limit about half the time."""
    category = rng.choice(("flower", "flower", "concentrate", "edible", "infused_liquid"))
    return CartLine(
        category,
        rng.randint(1, 2),
        rng.randint(200, 4000) if category == "flower" else rng.randint(40, 900),
        rng.randint(2, 120),
        rng.randint(2, 50),
        rng.randint(10, 120),
        rng.randint(0, 20),  # cbd_mg: some rule files refuse an edible line without it
    )


def make_carts(engine: LimitEngine, count: int, seed: int) -> list[Cart]:
    rng = random.Random(seed)
    carts = []
    for _ in range(count):
        base = random_cart(rng, engine, max_lines=0)
        lines = tuple(small_line(rng) for _ in range(LINES))
        prior = tuple(
            PriorPurchase(base.at - timedelta(seconds=rng.randint(60, 60 * 86400)), small_line(rng))
            for _ in range(PRIOR)
        )
        carts.append(Cart(base.jurisdiction, base.customer_class, base.at, lines, prior))
    return carts


def timings(calls: Sequence[Callable[[], object]], rounds: int) -> list[int]:
    """Per-call times in ns. Each call runs once untimed right before it is timed: the daemon
    checks a cart it has just built, so the cart is in cache. GC is off while timing, as in
    timeit."""
    out = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(rounds):
            for call in calls:
                call()
                start = clock()
                call()
                out.append(clock() - start)
    finally:
        gc.enable()
    return out


def pct(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)

    engine = LimitEngine()
    carts = make_carts(engine, args.carts, args.seed)

    def prepared(cart: Cart) -> tuple[Any, list[Any], list[Any], int, int]:
        core = engine.compiled(cart.jurisdiction)
        zone = engine.zone_for(cart.jurisdiction)
        lines = [x.core() for x in cart.lines]
        prior = [
            (epoch_seconds(p.at), p.at.astimezone(zone).toordinal(), *p.line.core())
            for p in cart.prior
        ]
        return core, lines, prior, epoch_seconds(cart.at), cart.at.astimezone(zone).toordinal()

    def core_call(cart: Cart) -> Callable[[], object]:
        core, lines, prior, at_s, day = prepared(cart)

        def call() -> object:  # the gate: the verdict and the line that crosses
            result = core.check(cart.customer_class, at_s, day, lines, prior)
            return result.allowed, result.crossing

        return call

    def core_full_call(cart: Cart) -> Callable[[], object]:
        core, lines, prior, at_s, day = prepared(cart)

        def call() -> object:  # every bucket and largest-further amount as Python objects
            result = core.check(cart.customer_class, at_s, day, lines, prior)
            return result.allowed, result.crossing, result.buckets, result.max_more

        return call

    def ref_call(cart: Cart) -> Callable[[], object]:
        rules = engine.rules(cart.jurisdiction)
        zone = ZoneInfo(rules.timezone)
        return lambda: reference_check(rules, cart, zone)

    results = {
        "core": timings([core_call(c) for c in carts], args.rounds),
        "core-full": timings([core_full_call(c) for c in carts], args.rounds),
        "engine": timings([functools.partial(engine.check, c) for c in carts], args.rounds),
        "reference": timings([ref_call(c) for c in carts], 1),
    }
    allowed = sum(engine.check(c).allowed for c in carts)
    print(f"limits bench: {len(carts)} carts x {LINES} lines + {PRIOR} prior, {allowed} allowed")
    ref_p50 = statistics.median(results["reference"]) / 1000
    print(f"{'contender':<10} {'calls':>7} {'p50 us':>9} {'p99 us':>9} {'x ref (p50)':>12}")
    for name, samples in results.items():
        p50, p99 = pct(samples, 0.50), pct(samples, 0.99)
        print(f"{name:<10} {len(samples):>7} {p50:>9.1f} {p99:>9.1f} {ref_p50 / p50:>12.1f}")
    core_p99, speedup = pct(results["core"], 0.99), ref_p50 / pct(results["core"], 0.50)
    verdict = "met" if core_p99 <= 20 and speedup >= 20 else "NOT met"
    print(f"target (core p99 <= 20 us, >= 20x reference): {verdict}")


if __name__ == "__main__":
    main()
