"""Shared helpers for the limit tests: a pure-Python `fractions.Fraction` reference of the
engine's semantics and a cheap random cart generator.

The reference works from the validated rule model (`edge.limits.rules`) and Python datetimes;
it shares no arithmetic with the Rust core (no scaling to integers, no epoch seconds).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from edge.limits.engine import Cart, CartLine, LimitEngine, PriorPurchase
from edge.limits.rules import CATEGORIES, JurisdictionRules

CODES = ("AZ", "CA", "CO", "IL", "MA", "MD", "MI", "MO", "NJ", "NV", "NY", "OH", "OR", "WA")
_FIELDS = {
    "net_weight": "net_weight_mg",
    "concentrate": "concentrate_mg",
    "thc": "thc_mg",
    "volume": "volume_ml",
}


class MissingMeasure(Exception):
    """The reference's counterpart of the engine's missing-measure BadInput."""


@dataclass(frozen=True)
class RefVerdict:
    allowed: bool
    remaining: dict[str, Fraction]  # every bucket, including zero-cap "not sold" ones
    used: dict[str, Fraction]
    max_more: dict[tuple[str, str], int]
    crossing_line: int | None
    crossing_bucket: str | None


def line(category: str, quantity: int = 1, **measures: int) -> CartLine:
    """A cart line: `line("flower", 2, net_weight_mg=3500)`."""
    return CartLine(category, quantity, **measures)


def _amount(item: CartLine, measure: str) -> Fraction:
    if measure == "units":
        return Fraction(item.quantity)
    if measure == "thc_cbd":  # the total cannabinoid weight: both figures needed
        if item.thc_mg is None or item.cbd_mg is None:
            raise MissingMeasure(f"{item.category} needs thc_mg and cbd_mg")
        return (Fraction(item.thc_mg) + Fraction(item.cbd_mg)) * item.quantity
    value = getattr(item, _FIELDS[measure])
    if value is None:
        raise MissingMeasure(f"{item.category} needs {_FIELDS[measure]}")
    return Fraction(value) * item.quantity  # a weighed portion's content is a Fraction


def reference_check(rules: JurisdictionRules, cart: Cart, zone: ZoneInfo) -> RefVerdict:
    """What the engine must answer, computed with Fractions straight from the rule model."""
    local_day = cart.at.astimezone(zone).date()
    version = rules.version_at(local_day)
    assert version is not None
    buckets = rules.core_buckets(version.classes[cart.customer_class])
    total = {b.name: Fraction(0) for b in buckets}
    cart_used = dict(total)
    for p in cart.prior:
        for b in buckets:
            for m in b.members:
                if m.category != p.line.category:
                    continue
                amount = _amount(p.line, m.measure)
                w = b.window
                counts = (w.kind == "day" and p.at.astimezone(zone).date() == local_day) or (
                    w.kind == "rolling" and p.at > cart.at.astimezone(UTC) - timedelta(days=w.days)
                )
                if counts:
                    total[b.name] += amount * m.factor
    crossing: tuple[int, str] | None = None
    for i, item in enumerate(cart.lines):
        for b in buckets:
            for m in b.members:
                if m.category != item.category:
                    continue
                use = _amount(item, m.measure) * m.factor
                total[b.name] += use
                cart_used[b.name] += use
                if crossing is None and use > 0 and total[b.name] > b.cap.value:
                    crossing = (i, b.name)
    remaining = {b.name: b.cap.value - total[b.name] for b in buckets}
    over = [b.name for b in buckets if cart_used[b.name] > 0 and remaining[b.name] < 0]
    max_more: dict[tuple[str, str], int] = {}
    for b in buckets:
        for m in b.members:
            fits = int(max(Fraction(0), remaining[b.name]) / m.factor)  # floor: non-negative
            key = (m.category, m.measure)
            max_more[key] = min(max_more.get(key, fits), fits)
    return RefVerdict(
        not over,
        remaining,
        total,
        max_more,
        crossing[0] if crossing else None,
        crossing[1] if crossing else None,
    )


def random_line(rng: random.Random, category: str | None = None) -> CartLine:
    """A line with every measure present, sized around typical caps."""
    return CartLine(
        category or rng.choice(CATEGORIES),
        rng.randint(1, 4),
        rng.choice((0, 500, 1000, 3500, 7000, 14000, rng.randint(0, 30000))),
        rng.choice((0, 100, 500, 1000, rng.randint(0, 9000))),
        rng.choice((0, 10, 100, 250, rng.randint(0, 5000))),
        rng.choice((0, 100, 355, rng.randint(0, 3000))),
        rng.choice((0, 10, 400, rng.randint(0, 2000))),
    )


def random_cart(rng: random.Random, engine: LimitEngine, max_lines: int = 8) -> Cart:
    """A random cart for a random jurisdiction/class at a time some rule version covers."""
    code = rng.choice(CODES)
    rules = engine.rules(code)
    start = datetime.combine(rules.versions[0].effective, datetime.min.time(), UTC)
    start += timedelta(days=1)
    at = start + timedelta(seconds=rng.randint(0, 4000 * 86400))
    zone = ZoneInfo(rules.timezone)
    version = rules.version_at(at.astimezone(zone).date())
    assert version is not None
    cls = rng.choice(sorted(version.classes))
    weights = [1, 0] if rng.random() < 0.9 else [0, 1]  # mostly carts without "not sold" lines
    cats = [c for c in CATEGORIES if c not in ("plant", "seed")] if weights[0] else list(CATEGORIES)
    lines = tuple(random_line(rng, rng.choice(cats)) for _ in range(rng.randint(0, max_lines)))
    prior = tuple(
        PriorPurchase(
            at - timedelta(seconds=rng.randint(-3600, 100 * 86400)),
            random_line(rng, rng.choice(cats)),
        )
        for _ in range(rng.randint(0, 6))
    )
    return Cart(code, cls, at.astimezone(zone), lines, prior)
