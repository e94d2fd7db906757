"""The station's limit check (`EngineLimits.check`, the daemon's call) against the Fraction
reference: the picks' measures read from the inventory records in the core, weighed portions
counted in proportion to their captured net weight (exactly), the history prepared once per order,
and the exact values the journal records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from math import floor
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.limits.engine import Cart, CartLine, LimitEngine, PriorPurchase
from edge.scan import Inventory, Package
from edge.scan.pipeline import Pipeline, Scan
from edge.station.config import StationConfig, StationSection
from edge.station.wiring.limits import EngineLimits, LimitsPreparation
from edge.workflow.ports import LimitBucket, LimitResult, Order, Pick, ScanVerdict
from tests.support.limits import CODES, reference_check

ENGINE = LimitEngine()
CATS = ("flower", "concentrate", "edible", "infused_liquid", "topical")


def uid(n: int) -> str:
    return f"1A4{n:021X}"


def limits_for(code: str, records: list[dict[str, Any]]) -> EngineLimits:
    full = [{"Item": {"Name": "P"}, "Sku": "S", "Batch": "B", **r} for r in records]
    inventory = Inventory.from_json(json.dumps(full).encode())
    cfg = StationConfig(
        station=StationSection(jurisdiction=code, timezone=ENGINE.rules(code).timezone)  # type: ignore[arg-type]
    )
    return EngineLimits(cfg, lambda: inventory)


def order_of(picks: list[Pick], cls: str, prior: list[dict[str, object]]) -> Order:
    return msgspec.convert(
        {
            "order_id": "O-1",
            "channel": "pickup",
            "customer": {"id": "C-1", "class": cls},
            "lines": [{"line": p.line, "uid": p.uid} for p in picks] or [{"line": 1, "uid": "X"}],
            "prior": prior,
        },
        Order,
    )


def reference_line(pkg: Package, pick: Pick) -> CartLine:
    """The rule: a weighed portion counts net as its weight and bulk mg * net / bulk net of its
    contents (THC, CBD, concentrate); a bulk package without a positive net weight keeps them whole."""
    net, bulk = pick.net_mg, pkg.net_weight_mg
    share = Fraction(net, bulk) if net is not None and bulk else Fraction(1)
    assert pkg.category is not None

    def content(v: int | None) -> Any:
        return None if v is None else v * share

    weight = net if net is not None else pkg.net_weight_mg
    return CartLine(
        pkg.category,
        1,
        weight,
        content(pkg.concentrate_mg),
        content(pkg.thc_mg),
        pkg.volume_ml,
        content(pkg.cbd_mg),
    )


def scanned(limits: EngineLimits, order: Order, picks: list[Pick], at: str) -> None:
    """The verifier pipeline's first stage at each of the order's scans, as the daemon runs it
    (it prepares the history and reads the picks accepted so far)."""
    stage = LimitsPreparation(limits)
    for k, p in enumerate(picks):
        stage.before(Scan(order, tuple(picks[:k]), p.raw, at))


def assert_matches_reference(
    limits: EngineLimits,
    code: str,
    cls: str,
    at: datetime,
    picks: list[Pick],
    prior: list[Any],
    scans: bool = False,
) -> LimitResult:
    order = order_of(picks, cls, prior)
    if scans:
        scanned(limits, order, picks, at.isoformat())
    got = limits.check(order, picks, at.isoformat())
    inventory = limits.inventory()
    lines = []
    for p in picks:
        pkg = inventory.lookup(p.uid)
        assert pkg is not None
        lines.append(reference_line(pkg, p))
    cart = Cart(
        code,
        cls,
        at,
        tuple(lines),
        tuple(
            PriorPurchase(
                datetime.fromisoformat(x["at"]),
                CartLine(x["category"], x["quantity"], *(x[k] for k in MEASURES)),
            )
            for x in prior
        ),
    )
    rules = ENGINE.rules(code)
    want = reference_check(rules, cart, ZoneInfo(rules.timezone))
    assert got.allowed == want.allowed, got.reason
    touched = {n for n, used in want.used.items() if used or want.remaining[n] + used}
    assert {b.name for b in got.buckets} == touched
    for b in got.buckets:
        used, cap = want.used[b.name], want.remaining[b.name] + want.used[b.name]
        assert (b.used, b.limit) == (floor(used), floor(cap))
        assert (b.used_exact, b.limit_exact) == (str(used), str(cap))
        assert Fraction(b.prior_exact) + Fraction(b.cart_exact) == used
    if want.crossing_line is not None:
        assert f"Cart line {want.crossing_line + 1} " in got.reason
        assert f"'{want.crossing_bucket}'" in got.reason
    return got


MEASURES = ("net_weight_mg", "concentrate_mg", "thc_mg", "volume_ml", "cbd_mg")

records_st = st.lists(
    st.fixed_dictionaries(
        {
            "Category": st.sampled_from(CATS),
            "NetWeightMg": st.integers(0, 500_000),
            "ThcMg": st.integers(0, 150_000),
            "CbdMg": st.integers(0, 50_000),
            "ConcentrateMg": st.integers(0, 30_000),
            "VolumeMl": st.integers(0, 1_000),
        }
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(
    code=st.sampled_from(CODES),
    records=records_st,
    chosen=st.lists(st.tuples(st.integers(0, 7), st.none() | st.integers(0, 60_000)), max_size=6),
    prior=st.lists(
        st.tuples(
            st.sampled_from(CATS), st.integers(1, 3), st.integers(0, 20_000), st.integers(0, 90)
        ),
        max_size=5,
    ),
    seconds=st.integers(61 * 86400, 3000 * 86400),
    pick_class=st.integers(0, 10),
)
def test_station_check_equals_the_fraction_reference(
    code: str,
    records: list[dict[str, Any]],
    chosen: list[tuple[int, int | None]],
    prior: list[tuple[str, int, int, int]],
    seconds: int,
    pick_class: int,
) -> None:
    for n, r in enumerate(records):
        r["Label"] = uid(n)
    rules = ENGINE.rules(code)
    start = datetime.combine(rules.versions[0].effective, datetime.min.time(), UTC)
    at = (start + timedelta(seconds=seconds)).astimezone(ZoneInfo(rules.timezone))
    version = rules.version_at(at.date())
    assert version is not None
    classes = sorted(version.classes)
    cls = classes[pick_class % len(classes)]
    picks = [
        Pick(line=i + 1, uid=uid(n % len(records)), raw=uid(n % len(records)), net_mg=net)
        for i, (n, net) in enumerate(chosen)
    ]
    history = [
        {
            "at": (at - timedelta(days=days, seconds=1)).isoformat(),
            "category": cat,
            "quantity": q,
            "net_weight_mg": mg,
            "concentrate_mg": mg // 10,
            "thc_mg": mg // 100,
            "volume_ml": mg // 50,
            "cbd_mg": mg // 300,
        }
        for cat, q, mg, days in prior
    ]
    plain = assert_matches_reference(limits_for(code, records), code, cls, at, picks, history)
    # The daemon's path: history summed and picks read ahead at the scans; the same verdict.
    ahead = assert_matches_reference(
        limits_for(code, records), code, cls, at, picks, history, scans=True
    )
    assert (ahead.allowed, ahead.reason, ahead.buckets) == (
        plain.allowed,
        plain.reason,
        plain.buckets,
    )


def test_a_weighed_portion_counts_its_share_of_the_bulk_thc_exactly() -> None:
    # CO adult: edibles count by THC, 800 mg fills the 1 oz budget (config/limits/CO.toml).
    bulk = {"Label": uid(1), "Category": "edible", "NetWeightMg": 100_000, "ThcMg": 1_000}
    limits = limits_for("CO", [bulk])
    at = datetime(2026, 11, 22, 12, tzinfo=ZoneInfo("America/Denver"))
    picks = [Pick(line=1, uid=uid(1), raw=uid(1), net_mg=33_333)]
    got = assert_matches_reference(limits, "CO", "adult", at, picks, [])
    (bucket,) = got.buckets
    # 1000 mg * 33333 / 100000 = 33333/100 mg THC; / 800 mg per oz = 33333/80000 oz
    assert bucket.used_exact == "33333/80000" and bucket.used == 0
    assert bucket.limit_exact == "1" and bucket.unit == "oz"
    for bad_at in ("", "2026-11-22T12:00:00"):  # no time, no offset: refused, not raised
        refused = limits.check(order_of(picks, "adult", []), picks, bad_at)
        assert not refused.allowed and refused.reason.startswith("limits cannot be checked")
    unweighed = [Pick(line=1, uid=uid(1), raw=uid(1))]
    got = limits.check(order_of(unweighed, "adult", []), unweighed, at.isoformat())
    assert got.buckets[0].used_exact == "5/4" and not got.allowed  # the bulk's 1000 mg


def test_nj_counts_the_portions_share_of_the_bulk_thc_and_cbd() -> None:
    # NJ adult: edibles count by THC + CBD, 1,000 mg fills the ounce (nj.gov/cannabis/adult-personal/).
    bulk = {
        "Label": uid(1),
        "Category": "edible",
        "NetWeightMg": 30_000,
        "ThcMg": 1_000,
        "CbdMg": 2_000,
    }
    limits = limits_for("NJ", [bulk])
    at = datetime(2026, 11, 22, 12, tzinfo=ZoneInfo("America/New_York"))
    picks = [Pick(line=1, uid=uid(1), raw=uid(1), net_mg=10_000)]  # a third: 1000 mg THC + CBD
    got = assert_matches_reference(limits, "NJ", "adult", at, picks, [])
    bucket = next(b for b in got.buckets if b.name == "one-ounce equivalent")
    assert got.allowed and bucket.used_exact == "1" and bucket.limit_exact == "1"
    picks = [Pick(line=1, uid=uid(1), raw=uid(1), net_mg=10_001)]  # 3 mg/10 g more: over
    got = assert_matches_reference(limits, "NJ", "adult", at, picks, [])
    assert not got.allowed
    assert next(b for b in got.buckets if b.name == "one-ounce equivalent").used_exact == (
        "10001/10000"
    )
    no_cbd = limits_for("NJ", [{**bulk, "CbdMg": None}])
    refused = no_cbd.check(order_of(picks, "adult", []), picks, at.isoformat())
    assert not refused.allowed and "cbd_mg" in refused.reason


def test_refusals_name_the_package() -> None:
    records = [
        {"Label": uid(1), "Category": "flower", "NetWeightMg": 3_500},
        {"Label": uid(2), "Category": "clone", "NetWeightMg": 3_500},
    ]
    limits = limits_for("IL", records)
    at = datetime(2026, 11, 22, 12, tzinfo=UTC).isoformat()
    for picked, words in [
        (uid(3), f"package {uid(3)} is not in the inventory"),
        (uid(2), f"package {uid(2)}: category must be one of flower,"),
    ]:
        picks = [Pick(line=1, uid=picked, raw=picked)]
        result = limits.check(order_of(picks, "adult", []), picks, at)
        assert not result.allowed and words in result.reason, result.reason
        # as the engine words a cart it cannot evaluate: the state and the store's date
        assert result.reason.startswith("limits cannot be checked: IL on 2026-11-22: ")
    bad_prior = [{"at": "yesterday", "category": "flower"}]
    picks = [Pick(line=1, uid=uid(1), raw=uid(1))]
    result = limits.check(order_of(picks, "adult", bad_prior), picks, at)
    assert not result.allowed and "prior[0].at" in result.reason


class _Verifier:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def check(
        self, order: Order, accepted: Any, raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        self.seen.append(raw)
        return ScanVerdict(verdict="unknown", reason="x")

    def forget(self) -> None:
        pass


def test_the_history_is_prepared_at_the_first_scan_and_reused() -> None:
    limits = limits_for("IL", [{"Label": uid(1), "Category": "flower", "NetWeightMg": 3_500}])
    at = datetime(2026, 11, 22, 12, tzinfo=UTC)
    prior = [
        {"at": (at - timedelta(hours=2)).isoformat(), "category": "flower", "net_weight_mg": 1}
    ]
    picks = [Pick(line=1, uid=uid(1), raw=uid(1))]
    order = order_of(picks, "adult", prior)
    inner = _Verifier()
    verifier = Pipeline(inner, [LimitsPreparation(limits)])
    assert verifier.check(order, [], "scan-1", at.isoformat()).verdict == "unknown"
    assert inner.seen == ["scan-1"]
    prepared = limits.prepare(order)
    assert len(prepared) == 1
    copy = msgspec.json.decode(msgspec.json.encode(order), type=Order)  # an equal order
    assert limits.prepare(copy) is prepared
    other = msgspec.structs.replace(order, order_id="O-2")
    assert limits.prepare(other) is not prepared
    result = limits.check(order, picks, at.isoformat())
    assert result.allowed and result.buckets[0].prior_exact != "0"


def test_the_buckets_are_converted_when_first_read_and_then_kept() -> None:
    limits = limits_for("CO", [{"Label": uid(1), "Category": "flower", "NetWeightMg": 3_500}])
    at = datetime(2026, 11, 22, 12, tzinfo=ZoneInfo("America/Denver"))
    picks = [Pick(line=1, uid=uid(1), raw=uid(1))]
    result = limits.check(order_of(picks, "adult", []), picks, at.isoformat())
    assert isinstance(result, LimitResult)
    with pytest.raises(TypeError):  # unread, the field holds the core's result: never "none"
        msgspec.json.encode(result)
    buckets = result.buckets
    assert buckets and all(isinstance(b, LimitBucket) for b in buckets)
    assert result.buckets is buckets
    record = msgspec.json.decode(msgspec.json.encode(result))
    assert record["buckets"] == [msgspec.structs.asdict(b) for b in buckets]
    assert buckets[0].used_exact == "1/8" and buckets[0].limit_exact == "1"  # 3.5 g of 1 oz
    assert record["customer_class"] == "adult" and record["jurisdiction"] == "CO"


def test_picks_read_ahead_follow_a_changed_pick_a_new_inventory_and_refusals() -> None:
    flower = {"Label": uid(1), "Category": "flower", "NetWeightMg": 454_000}
    edible = {"Label": uid(2), "Category": "edible", "NetWeightMg": 100, "ThcMg": 100}
    limits = limits_for("CO", [flower, edible])
    at = datetime(2026, 11, 22, 12, tzinfo=ZoneInfo("America/Denver")).isoformat()
    picks = [
        Pick(line=1, uid=uid(1), raw=uid(1), net_mg=14_000),
        Pick(line=2, uid=uid(2), raw=uid(2)),
    ]
    order = order_of(picks, "adult", [])
    scanned(limits, order, [*picks, picks[-1]], at)  # both picks read ahead
    # 14 g flower (1/2 oz) + 100 mg THC (1/8 oz) = 5/8 oz
    assert limits.check(order, picks, at).buckets[0].used_exact == "5/8"
    # The line re-weighed: a new Pick at the same place is read again.
    reweighed = [msgspec.structs.replace(picks[0], net_mg=28_000), picks[1]]
    over = limits.check(order, reweighed, at)
    assert over.buckets[0].used_exact == "9/8" and not over.allowed
    assert limits.check(order, picks, at).buckets[0].used_exact == "5/8"
    # The inventory replaced (a feed change): the picks are read from the new records.
    replaced = Inventory.from_json(
        json.dumps(
            [
                {"Item": {"Name": "P"}, "Sku": "S", "Batch": "B", **r}
                for r in (flower, {**edible, "ThcMg": 400})
            ]
        ).encode()
    )
    limits.inventory = lambda: replaced
    assert limits.check(order, picks, at).buckets[0].used_exact == "1"
    # A pick the inventory does not hold: reading ahead says nothing, the check refuses it.
    stray = [*picks, Pick(line=3, uid=uid(9), raw=uid(9))]
    scanned(limits, order, [*stray, stray[-1]], at)
    refused = limits.check(order, stray, at)
    assert not refused.allowed and f"package {uid(9)} is not in the inventory" in refused.reason
    # A bad time at the scans is left to the check, which reports it.
    fresh = limits_for("CO", [flower, edible])
    scanned(fresh, order, [*picks, picks[-1]], "not a time")
    assert fresh.check(order, picks, at).buckets[0].used_exact == "5/8"
