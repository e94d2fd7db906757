"""One test per rule value corrected against its source (docs/limits-sources.md, "Corrections
of 2026-12-01"); each test names the source and does the arithmetic."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

import pytest

from edge.common.errors import BadInput
from edge.limits.engine import Cart, CartLine, LimitEngine, LimitVerdict, PriorPurchase
from tests.support.limits import line

ENGINE = LimitEngine()


def run(
    code: str,
    cls: str,
    at: str,
    lines: list[CartLine],
    prior: list[tuple[str, CartLine]] | None = None,
) -> LimitVerdict:
    past = tuple(PriorPurchase(datetime.fromisoformat(t), x) for t, x in prior or [])
    return ENGINE.check(Cart(code, cls, datetime.fromisoformat(at), tuple(lines), past))


def plants(n: int) -> CartLine:
    return line("plant", n)


def seeds(n: int) -> CartLine:
    return line("seed", n)


CA_AT = "2026-11-22T10:00:00-08:00"


def test_ca_six_immature_plants_per_adult() -> None:
    # 4 CCR 15409(a)(3): 6 immature cannabis plants per adult-use customer per day.
    assert run("CA", "adult", CA_AT, [plants(6)]).allowed
    assert not run("CA", "adult", CA_AT, [plants(7)]).allowed
    prior = [("2026-11-22T08:00:00-08:00", plants(4))]
    assert not run("CA", "adult", CA_AT, [plants(3)], prior).allowed  # 4 + 3 = 7 in the day


def test_ca_twelve_immature_plants_per_patient() -> None:
    # 4 CCR 15409(b)(2): 12 immature cannabis plants per medicinal patient per day.
    assert run("CA", "medical", CA_AT, [plants(12)]).allowed
    assert not run("CA", "medical", CA_AT, [plants(13)]).allowed


def test_ca_medical_has_no_unsourced_concentrate_cap() -> None:
    # 4 CCR 15409(b) limits only dried flower (8 oz) and immature plants: 10 g of concentrate,
    # refused before under an 8 g cap with no source, is not limited for a patient.
    assert run("CA", "medical", CA_AT, [line("concentrate", 1, net_weight_mg=10000)]).allowed
    # ... while the adult-use 8 g (15409(a)(2)) still holds
    assert not run("CA", "adult", CA_AT, [line("concentrate", 1, net_weight_mg=8001)]).allowed


def test_ca_medical_eight_ounces_exactly() -> None:
    # 15409(b)(1): 8 ounces = 8 x 28.349523125 g = 226796.185 mg (no rounding up to 226.8 g).
    eight_oz = Fraction("226796.185")
    assert run("CA", "medical", CA_AT, [line("flower", 1, net_weight_mg=226796)]).allowed
    assert not run("CA", "medical", CA_AT, [line("flower", 1, net_weight_mg=226797)]).allowed
    assert int(eight_oz) == 226796


OR_AT = "2026-11-22T15:00:00-08:00"


def test_or_four_immature_plants_and_ten_seeds_a_day() -> None:
    # OLCC retail sale limits: 4 immature marijuana plants and 10 marijuana seeds per day.
    assert run("OR", "adult", OR_AT, [plants(4), seeds(10)]).allowed
    assert not run("OR", "adult", OR_AT, [plants(5)]).allowed
    assert not run("OR", "adult", OR_AT, [seeds(11)]).allowed
    prior = [("2026-11-22T09:00:00-08:00", seeds(6))]
    assert not run("OR", "adult", OR_AT, [seeds(5)], prior).allowed  # 6 + 5 = 11 in the day
    assert run("OR", "medical", OR_AT, [plants(4), seeds(10)]).allowed


def test_or_ommp_eight_ounces_from_2018_12_28() -> None:
    # OMMP at OLCC retailers: 8 oz/day from 2018-12-28; before, the adult-use 1 oz applied.
    two_oz = line("flower", 1, net_weight_mg=56699)
    assert not run("OR", "medical", "2018-12-27T12:00:00-08:00", [two_oz]).allowed
    assert run("OR", "medical", "2018-12-28T12:00:00-08:00", [two_oz]).allowed


MA_AT = "2026-11-22T12:00:00-05:00"


def test_ma_concentrate_counts_by_active_thc() -> None:
    # 935 CMR 500.140(3)(a)1: 1 oz = 5 g active THC in concentrate. 8 g of concentrate holding
    # 4 g THC is 0.8 oz: allowed (it was refused when counted by net weight, 8 g > 5 g).
    assert run(
        "MA", "adult", MA_AT, [line("concentrate", 1, net_weight_mg=8000, thc_mg=4000)]
    ).allowed
    # 5001 mg THC is over the ounce whatever the concentrate weighs
    assert not run(
        "MA", "adult", MA_AT, [line("concentrate", 1, net_weight_mg=6000, thc_mg=5001)]
    ).allowed


def test_ma_half_ounce_flower_and_half_of_the_concentrate_thc() -> None:
    # 14174.76 mg flower (1/2 oz) + 2.5 g THC in concentrate (1/2 of 5 g) = 1 oz exactly.
    half_oz = line("flower", 1, net_weight_mg=14174)
    assert run(
        "MA", "adult", MA_AT, [half_oz, line("concentrate", 1, net_weight_mg=3000, thc_mg=2500)]
    ).allowed
    assert not run(
        "MA", "adult", MA_AT, [half_oz, line("concentrate", 1, net_weight_mg=3000, thc_mg=2501)]
    ).allowed


def test_mo_pre_2022_medical_uses_the_same_ounce() -> None:
    # 4 oz x 28.35 g = 113.4 g = 32.4 MME: 113.4 g of flower is allowed on 2022-12-07 (the
    # old 32 MME = 112 g mixed in a 28 g ounce), 113.401 g is not.
    at = "2022-12-07T12:00:00-06:00"
    assert run("MO", "medical", at, [line("flower", 1, net_weight_mg=113400)]).allowed
    assert not run("MO", "medical", at, [line("flower", 1, net_weight_mg=113401)]).allowed


NJ_AT = "2026-11-22T12:00:00-05:00"


def test_nj_equivalency_counts_thc_and_cbd() -> None:
    # nj.gov/cannabis/adult-personal/ (NJ CRC, N.J.A.C. 17:30): equivalency by the total
    # cannabinoid weight, THC + CBD; 1,000 mg fills the ounce. 500 mg THC + 500 mg CBD is the cap
    # (allowed under the THC-only reading too, which left 1/2 oz free).
    at_cap = line("edible", 1, thc_mg=500, cbd_mg=500)
    v = run("NJ", "adult", NJ_AT, [at_cap])
    assert v.allowed
    assert next(b for b in v.buckets if b.name == "one-ounce equivalent").remaining == 0
    # 1 mg CBD more is over; counted by THC alone it was 1/2 oz and allowed
    over = line("edible", 1, thc_mg=500, cbd_mg=501)
    assert not run("NJ", "adult", NJ_AT, [over]).allowed
    # the CRC's example: 100 mg THC + 400 mg CBD counts 500 mg, half the ounce, with 1/2 oz flower
    half_oz = line("flower", 1, net_weight_mg=14175)
    assert run("NJ", "adult", NJ_AT, [half_oz, line("edible", 1, thc_mg=100, cbd_mg=400)]).allowed
    assert not run(
        "NJ", "adult", NJ_AT, [half_oz, line("edible", 1, thc_mg=100, cbd_mg=401)]
    ).allowed


def test_nj_medical_counts_thc_and_cbd_against_three_ounces() -> None:
    # 3 oz = 3,000 mg THC + CBD of edibles per 30 days (the adult equivalency, UNVERIFIED).
    assert run("NJ", "medical", NJ_AT, [line("edible", 3, thc_mg=100, cbd_mg=900)]).allowed
    assert not run("NJ", "medical", NJ_AT, [line("edible", 3, thc_mg=100, cbd_mg=901)]).allowed


def test_nj_an_edible_without_its_cbd_cannot_be_checked() -> None:
    # Without the CBD figure the total cannot be known: refused, never counted as THC only.
    with pytest.raises(BadInput, match=r"lines\[0\]: a edible line needs thc_mg and cbd_mg"):
        run("NJ", "adult", NJ_AT, [line("edible", 1, thc_mg=100)])


def test_co_rule_dates_are_the_reported_ones_and_marked_unverified() -> None:
    # MED Industry Bulletin 15-12 (as reported, no primary source retrieved): the equivalency from
    # 2016-10-01; HB21-1317's medical amounts from 2022-01-01. Both flagged UNVERIFIED in the file.
    rules = ENGINE.rules("CO")
    assert [v.effective.isoformat() for v in rules.versions] == ["2016-10-01", "2022-01-01"]
    for v in rules.versions:
        assert any("UNVERIFIED" in n for n in v.notes), v.effective
    with pytest.raises(BadInput, match="no rule version"):
        run("CO", "adult", "2016-09-30T12:00:00-06:00", [line("flower", 1, net_weight_mg=1)])
    assert run(
        "CO", "adult", "2016-10-01T00:00:00-06:00", [line("flower", 1, net_weight_mg=28000)]
    ).allowed
