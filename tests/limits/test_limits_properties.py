"""The Rust limit engine against a `fractions.Fraction` reference, and its algebraic properties.

Agreement: 100,000 seeded random carts over all 14 rule files (one test, a plain loop: cheap
to generate, bounded in count). Properties (hypothesis): order independence, splitting a line
never changes the verdict, adding a line never increases what remains.
"""

from __future__ import annotations

import random
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.limits.engine import Cart, CartLine, LimitEngine, LimitVerdict, PriorPurchase
from tests.support.limits import RefVerdict, random_cart, random_line, reference_check

ENGINE = LimitEngine()


def _compare(cart: Cart, got: LimitVerdict, want: RefVerdict) -> None:
    assert got.allowed == want.allowed, cart
    assert (got.crossing_line, got.crossing_bucket) == (want.crossing_line, want.crossing_bucket)
    for b in got.buckets:
        assert b.remaining == want.remaining[b.name], (cart, b)
        assert b.prior_used + b.cart_used == want.used[b.name], (cart, b)
        assert b.over == (b.cart_used > 0 and b.remaining < 0)
    shown = {b.name for b in got.buckets}
    for name, remaining in want.remaining.items():  # hidden buckets are untouched zero caps
        assert name in shown or (remaining == 0 and want.used[name] == 0), (cart, name)
    assert {(m.category, m.measure): m.amount for m in got.max_more} == want.max_more, cart


def _check_pair(cart: Cart) -> tuple[LimitVerdict, RefVerdict]:
    rules = ENGINE.rules(cart.jurisdiction)
    return ENGINE.check(cart), reference_check(rules, cart, ZoneInfo(rules.timezone))


@pytest.mark.slow
def test_agrees_with_fraction_reference_on_100000_random_carts() -> None:
    rng = random.Random(20261122)
    over = 0
    for _ in range(100_000):
        cart = random_cart(rng, ENGINE)
        got, want = _check_pair(cart)
        _compare(cart, got, want)
        over += not got.allowed
    # Both outcomes are well represented, so the agreement means something.
    assert 10_000 < over < 90_000


@st.composite
def carts(draw: st.DrawFn) -> Cart:
    return random_cart(random.Random(draw(st.integers(0, 2**32))), ENGINE)


def _signature(v: LimitVerdict) -> tuple[object, ...]:
    return (
        v.allowed,
        tuple((b.name, b.remaining) for b in v.buckets),
        tuple((m.category, m.measure, m.amount) for m in v.max_more),
    )


@settings(max_examples=300)
@given(carts(), st.randoms(use_true_random=False))
def test_order_of_lines_and_prior_does_not_matter(cart: Cart, rnd: random.Random) -> None:
    lines, prior = list(cart.lines), list(cart.prior)
    rnd.shuffle(lines)
    rnd.shuffle(prior)
    shuffled = replace(cart, lines=tuple(lines), prior=tuple(prior))
    assert _signature(ENGINE.check(shuffled)) == _signature(ENGINE.check(cart))


def _split(item: CartLine, rnd: random.Random) -> tuple[CartLine, CartLine]:
    """Two lines that together are `item`: by units, or one unit's measures in two parts."""
    if item.quantity > 1:
        q = rnd.randint(1, item.quantity - 1)
        return replace(item, quantity=q), replace(item, quantity=item.quantity - q)
    fields = ("net_weight_mg", "concentrate_mg", "thc_mg", "volume_ml", "cbd_mg")
    parts = {f: rnd.randint(0, getattr(item, f) or 0) for f in fields}
    first = replace(item, **parts)
    second = replace(item, **{f: (getattr(item, f) or 0) - parts[f] for f in fields})
    return first, second


@settings(max_examples=300)
@given(carts(), st.randoms(use_true_random=False))
def test_splitting_a_line_in_two_never_changes_the_verdict(cart: Cart, rnd: random.Random) -> None:
    # A one-unit plant or seed line cannot be split: those count by units.
    splittable = [
        i for i, x in enumerate(cart.lines) if x.quantity > 1 or x.category not in ("plant", "seed")
    ]
    if not splittable:
        return
    i = rnd.choice(splittable)
    a, b = _split(cart.lines[i], rnd)
    split = replace(cart, lines=(*cart.lines[:i], a, b, *cart.lines[i + 1 :]))
    assert _signature(ENGINE.check(split)) == _signature(ENGINE.check(cart))


@settings(max_examples=300)
@given(carts(), st.integers(0, 2**32))
def test_adding_a_line_never_increases_what_remains(cart: Cart, seed: int) -> None:
    before = ENGINE.check(cart)
    extra = random_line(random.Random(seed))
    after = ENGINE.check(replace(cart, lines=(*cart.lines, extra)))
    assert before.allowed or not after.allowed
    remaining = {b.name: b.remaining for b in after.buckets}
    for b in before.buckets:
        assert remaining[b.name] <= b.remaining
    more = {(m.category, m.measure): m.amount for m in after.max_more}
    for m in before.max_more:
        assert more[(m.category, m.measure)] <= m.amount


@pytest.mark.parametrize("seed", range(3))
def test_reference_agrees_on_long_carts(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        cart = random_cart(rng, ENGINE, max_lines=25)
        got, want = _check_pair(cart)
        _compare(cart, got, want)


_amount = st.one_of(st.none(), st.integers(0, 40_000))
_lines = st.builds(
    CartLine,
    st.sampled_from(("flower", "concentrate", "edible", "infused_liquid", "topical", "plant")),
    st.integers(0, 5),
    _amount,
    _amount,
    _amount,
    _amount,
)


@settings(max_examples=300)
@given(st.data())
def test_agrees_with_reference_on_structured_carts(data: st.DataObject) -> None:
    """Hypothesis builds the cart field by field (so failures shrink to a minimal cart);
    missing measures must be refused by both implementations alike."""
    from datetime import datetime, timedelta

    from edge.common.errors import BadInput
    from tests.support.limits import CODES, MissingMeasure

    code = data.draw(st.sampled_from(CODES))
    rules = ENGINE.rules(code)
    zone = ZoneInfo(rules.timezone)
    at = datetime(2026, 11, 22, 12, tzinfo=zone) + timedelta(
        seconds=data.draw(st.integers(-86_400 * 400, 86_400 * 400))
    )
    version = rules.version_at(at.date())
    assert version is not None
    cls = data.draw(st.sampled_from(sorted(version.classes)))
    lines = tuple(data.draw(st.lists(_lines, max_size=6)))
    offsets = data.draw(st.lists(st.integers(-3600, 95 * 86_400), max_size=5))
    prior = tuple(PriorPurchase(at - timedelta(seconds=s), data.draw(_lines)) for s in offsets)
    cart = Cart(code, cls, at, lines, prior)
    try:
        want = reference_check(rules, cart, zone)
    except MissingMeasure:
        with pytest.raises(BadInput, match="needs"):
            ENGINE.check(cart)
        return
    _compare(cart, ENGINE.check(cart), want)
