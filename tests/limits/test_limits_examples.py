"""Worked examples per jurisdiction, from the rule files' sources (docs/limits-sources.md);
arithmetic in each test.

Ounces: CA 28.5 g, CO 28 g, NJ and MO 28.35 g, all others exact (28.349523125 g = OZ below).
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

import pytest

from edge.common.errors import BadInput
from edge.limits.engine import Cart, CartLine, LimitEngine, LimitVerdict, PriorPurchase
from tests.support.limits import line

ENGINE = LimitEngine()
OZ = Fraction("28349.523125")  # mg in an exact avoirdupois ounce
FLOZ = Fraction("29.5735295625")  # ml in a US fluid ounce


def run(
    code: str,
    cls: str,
    at: str,
    lines: list[CartLine],
    prior: list[tuple[str, CartLine]] | None = None,
) -> LimitVerdict:
    past = tuple(PriorPurchase(datetime.fromisoformat(t), x) for t, x in prior or [])
    return ENGINE.check(Cart(code, cls, datetime.fromisoformat(at), tuple(lines), past))


def rem(v: LimitVerdict, bucket: str) -> Fraction:
    return next(b.remaining for b in v.buckets if b.name == bucket)


def more(v: LimitVerdict, category: str, measure: str = "net_weight") -> int:
    return next(m.amount for m in v.max_more if (m.category, m.measure) == (category, measure))


def flower(mg: int, q: int = 1) -> CartLine:
    return line("flower", q, net_weight_mg=mg)


def conc(mg: int, q: int = 1, thc: int | None = None) -> CartLine:
    return line("concentrate", q, net_weight_mg=mg, thc_mg=thc)


def edible(thc: int, q: int = 1, conc_mg: int = 0, net: int = 0, cbd: int = 0) -> CartLine:
    return line("edible", q, thc_mg=thc, concentrate_mg=conc_mg, net_weight_mg=net, cbd_mg=cbd)


# --- California: 28.5 g flower, 8 g concentrate incl. concentrate in products, per day ---------
CA_AT = "2026-11-22T10:00:00-08:00"


def test_ca_flower_exactly_at_cap_is_allowed() -> None:
    # 8 x 3.5 g + 0.5 g = 28.5 g = cap -> remaining 0, nothing more fits.
    v = run("CA", "adult", CA_AT, [flower(3500, 8), flower(500)])
    assert v.allowed and rem(v, "non-concentrated cannabis") == 0
    assert more(v, "flower") == 0 and v.buckets[0].remaining_display == "0 g"


def test_ca_concentrate_inside_edibles_counts() -> None:
    # 5 x 1 g vape = 5 g; 2 edibles x 1.5 g concentrate = 3 g; total 8 g = cap.
    ok = run("CA", "adult", CA_AT, [conc(1000, 5), edible(100, 2, conc_mg=1500)])
    assert ok.allowed and rem(ok, "cannabis concentrate") == 0
    # one more edible holding 1 mg concentrate: 8.001 g > 8 g; line 3 (index 2) crosses.
    over = run(
        "CA", "adult", CA_AT, [conc(1000, 5), edible(100, 2, conc_mg=1500), edible(5, conc_mg=1)]
    )
    assert not over.allowed and over.crossing_line == 2
    assert over.crossing_bucket == "cannabis concentrate"
    assert over.reason.endswith(
        "of 8 g per calendar day (store time zone); the cart is 0.001 g over."
    )


def test_ca_day_window_is_the_store_local_day() -> None:
    # Prior 20 g at 07:30Z = 23:30 PST the day before: not today -> 10 g leaves 18.5 g.
    yesterday = [("2026-11-22T07:30:00+00:00", flower(20000))]
    v = run("CA", "adult", CA_AT, [flower(10000)], yesterday)
    assert v.allowed and rem(v, "non-concentrated cannabis") == Fraction(185, 10)
    # Prior 20 g at 09:00 PST today: 20 + 10 = 30 g > 28.5 g.
    today = [("2026-11-22T09:00:00-08:00", flower(20000))]
    v = run("CA", "adult", CA_AT, [flower(10000)], today)
    assert not v.allowed and rem(v, "non-concentrated cannabis") == Fraction(-3, 2)


def test_ca_medical_eight_ounces_of_flower() -> None:
    # 8 oz = 226796.185 mg cap (4 CCR 15409(b)(1)): 64 x 3.5 g = 224 g, 2796 mg more fits.
    v = run("CA", "medical", CA_AT, [flower(3500, 64)])
    assert v.allowed and more(v, "flower") == 2796


# --- Colorado: 1 oz (28 g) = 8 g concentrate = 800 mg THC, per transaction, topicals exempt ----
CO_AT = "2026-11-22T12:00:00-07:00"


def test_co_equivalency_exactly_one_ounce() -> None:
    # 14 g/28 g + 4 g/8 g = 1/2 + 1/2 = 1 oz.
    v = run("CO", "adult", CO_AT, [flower(14000), conc(4000)])
    assert v.allowed and rem(v, "one-ounce equivalent") == 0


def test_co_what_remains_in_every_category() -> None:
    # 7 g = 1/4 oz; 400 mg THC = 1/2 oz; 1/4 oz remains = 7 g flower = 2 g conc = 200 mg THC.
    v = run("CO", "adult", CO_AT, [flower(7000), edible(100, 4)])
    assert rem(v, "one-ounce equivalent") == Fraction(1, 4)
    assert (more(v, "flower"), more(v, "concentrate"), more(v, "edible", "thc")) == (
        7000,
        2000,
        200,
    )
    assert v.buckets[0].remaining_display == "0.25 oz"


def test_co_transaction_window_ignores_prior_and_topicals_are_exempt() -> None:
    # Per transaction: this morning's 28 g does not count; 28 g + a topical = 1 oz, allowed.
    prior = [("2026-11-22T09:00:00-07:00", flower(28000))]
    topical = line("topical", 3, thc_mg=500)
    assert run("CO", "adult", CO_AT, [flower(28000), topical], prior).allowed
    # + 1 mg THC edible: 1 + 1/800 oz > 1 oz -> the edible (index 2) crosses.
    v = run("CO", "adult", CO_AT, [flower(28000), topical, edible(1)], prior)
    assert not v.allowed and v.crossing_line == 2


def test_co_medical_18_to_20_concentrate_per_day() -> None:
    # 2 g/day since 2022: 1.5 g earlier today + 1 g = 2.5 g > 2 g.
    prior = [("2026-11-22T08:00:00-07:00", conc(1500))]
    assert not run("CO", "medical_18_20", CO_AT, [conc(1000)], prior).allowed
    assert run("CO", "medical_18_20", CO_AT, [conc(500)], prior).allowed  # 2 g exactly


# --- Michigan: 2.5 oz total, at most 15 g concentrate, per transaction ------------------------
MI_AT = "2026-11-22T12:00:00-05:00"


def test_mi_total_with_concentrate_sub_cap() -> None:
    # 15 g + 55 g = 70 g <= 2.5 x 28349.523125 = 70873.8078125 mg; 873 mg of flower fits.
    v = run("MI", "adult", MI_AT, [conc(15000), flower(55000)])
    assert v.allowed and rem(v, "total") == Fraction(5, 2) - 70000 / OZ
    assert more(v, "flower") == 873 and more(v, "concentrate") == 0


def test_mi_concentrate_over_the_sub_cap() -> None:
    # 16 g concentrate: within 2.5 oz, but 16 g > 15 g sub-cap.
    v = run("MI", "adult", MI_AT, [conc(16000)])
    assert not v.allowed and v.crossing_bucket == "concentrate"


def test_mi_infused_solids_at_sixteen_to_one() -> None:
    # 58 g flower + 200 g edible / 16 = 58 + 12.5 = 70.5 g <= 70.873 g.
    assert run("MI", "adult", MI_AT, [flower(58000), edible(0, net=200000)]).allowed
    # 58.4 g + 12.5 g = 70.9 g > 70.873 g.
    assert not run("MI", "adult", MI_AT, [flower(58400), edible(0, net=200000)]).allowed


def test_mi_medical_monthly_rolling_thirty_days() -> None:
    # 4 x 2.5 oz (70873 mg each) within 30 days = 283492 mg <= 10 oz = 283495.23 mg: 3 mg left.
    days = ("2026-10-25", "2026-11-01", "2026-11-08", "2026-11-15")
    prior = [(f"{d}T12:00:00-05:00", flower(70873)) for d in days]
    v = run("MI", "medical", MI_AT, [flower(3)], prior)
    assert v.allowed and more(v, "flower") == 0
    assert not run("MI", "medical", MI_AT, [flower(4)], prior).allowed
    # The first purchase 31 days back no longer counts.
    prior[0] = ("2026-10-22T12:00:00-04:00", flower(70873))
    assert run("MI", "medical", MI_AT, [flower(50000)], prior).allowed


# --- Illinois (statute): resident 30 g / 5 g / 500 mg; non-resident half --------------------
IL_AT = "2026-11-22T14:05:00-06:00"


def test_il_resident_all_three_caps_at_once() -> None:
    # 30 g + 5 g + 500 mg THC: each exactly at its own cap ("cumulative").
    v = run("IL", "adult", IL_AT, [flower(3500, 8), flower(2000), conc(5000), edible(100, 5)])
    assert v.allowed and all(b.remaining == 0 for b in v.buckets)


def test_il_readme_cart() -> None:
    # Non-resident: flower 2 x 3.5 = 7 g of 15 -> 8 g left; concentrate 1 g earlier today of
    # 2.5 -> 1.5 g left; edible counts THC 100 of 250 mg -> 150 mg left (concentrate_mg unused).
    v = run(
        "IL",
        "adult_nonresident",
        IL_AT,
        [flower(3500, 2), edible(100, conc_mg=120)],
        [("2026-11-22T09:00:00-06:00", conc(1000))],
    )
    assert v.allowed
    assert (more(v, "flower"), more(v, "concentrate"), more(v, "edible", "thc")) == (
        8000,
        1500,
        150,
    )


def test_il_nonresident_concentrate_over() -> None:
    # 2 g earlier today + 1 g = 3 g > 2.5 g.
    v = run(
        "IL", "adult_nonresident", IL_AT, [conc(1000)], [("2026-11-22T08:00:00-06:00", conc(2000))]
    )
    assert not v.allowed and rem(v, "cannabis concentrate") == Fraction(-1, 2)
    assert v.reason.startswith("Cart line 1 (concentrate) goes over the IL adult_nonresident")


def test_il_medical_fourteen_days() -> None:
    # 2.5 oz per 14 days: 60 g 13 days ago + 10 g = 70 g <= 70.873 g; 11 g -> 71 g over.
    prior = [("2026-11-09T15:00:00-06:00", flower(60000))]
    assert run("IL", "medical", IL_AT, [flower(10000)], prior).allowed
    assert not run("IL", "medical", IL_AT, [flower(11000)], prior).allowed


# --- Massachusetts: 1 oz = 5 g concentrate = 500 mg THC, per day, topicals exempt ------------
MA_AT = "2026-11-22T12:00:00-05:00"


def test_ma_half_concentrate_half_edibles() -> None:
    # 2.5 g THC / 5 g + 250 mg / 500 mg = 1 oz (concentrate counts by its active THC).
    v = run("MA", "adult", MA_AT, [conc(3000, thc=2500), edible(250)])
    assert v.allowed and rem(v, "combined dry weight equivalent") == 0


def test_ma_one_mg_over() -> None:
    # 5 g THC in concentrate = 1 oz; + 1 mg THC = 1/500 oz over; the edible line crosses.
    v = run("MA", "adult", MA_AT, [conc(6000, thc=5000), edible(1)])
    assert not v.allowed and v.crossing_line == 1
    assert rem(v, "combined dry weight equivalent") == Fraction(-1, 500)


def test_ma_prior_today_counts_topicals_do_not() -> None:
    # 500 mg THC this morning = 1 oz: a topical is still allowed, 1 g of flower is not.
    prior = [("2026-11-22T09:00:00-05:00", edible(100, 5))]
    assert run("MA", "adult", MA_AT, [line("topical", thc_mg=1000)], prior).allowed
    assert not run("MA", "adult", MA_AT, [flower(1000)], prior).allowed


# --- Washington: 1 oz, 7 g, 16 oz solid, 72 fl oz liquid, independent, per transaction -------
WA_AT = "2026-11-22T12:00:00-08:00"


def test_wa_one_ounce_boundary_in_exact_mg() -> None:
    # 1 oz = 28349.523125 mg: 28349 mg fits, 28350 mg does not.
    assert run("WA", "adult", WA_AT, [flower(28349)]).allowed
    assert not run("WA", "adult", WA_AT, [flower(28350)]).allowed


def test_wa_every_maximum_together() -> None:
    # Independent: 28 g + 7 g + 16 oz (453592 mg < 453592.37) + 72 fl oz (2129 ml < 2129.29).
    lines = [
        flower(28000),
        conc(7000),
        edible(0, net=453592),
        line("infused_liquid", volume_ml=2129),
    ]
    v = run("WA", "adult", WA_AT, lines)
    assert v.allowed
    assert rem(v, "infused product in liquid form") == 72 - 2129 / FLOZ


def test_wa_liquid_over() -> None:
    # 2130 ml > 72 x 29.5735295625 = 2129.29 ml.
    v = run("WA", "adult", WA_AT, [line("infused_liquid", 6, volume_ml=355)])
    assert not v.allowed and v.crossing_bucket == "infused product in liquid form"


# --- Nevada: CCB chart, 1 oz <-> 3,543 mg before 2024, 2.5 oz <-> 7,087 mg since -------------
def test_nv_concentrate_fills_the_2024_cap() -> None:
    # 7,087 mg concentrate = the whole 2.5 oz; 7,088 mg is over.
    at = "2026-11-22T12:00:00-08:00"
    assert rem(run("NV", "adult", at, [conc(7087)]), "usable cannabis equivalent") == 0
    assert not run("NV", "adult", at, [conc(7088)]).allowed


def test_nv_2024_change_is_data() -> None:
    # 28 g/28349.52 g + 100/3543 = 0.9877 + 0.0282 = 1.016 oz-equivalents > 1 before 2024 ...
    cart = [flower(28000), edible(100)]
    assert not run("NV", "adult", "2023-12-31T23:59:00-08:00", cart).allowed
    # ... and 0.395 + 0.014 of 2.5 oz after.
    assert run("NV", "adult", "2024-01-01T00:01:00-08:00", cart).allowed


def test_nv_chart_half_ounce_row() -> None:
    # Chart: 1/2 oz flower <-> 1,771 mg. 14174/28349.52 + 1771/3543 = 0.49998 + 0.49986 <= 1.
    at = "2023-06-01T12:00:00-07:00"
    assert run("NV", "adult", at, [flower(14174), conc(1771)]).allowed
    # 0.49998 + 1772/3543 (0.50014) > 1.
    assert not run("NV", "adult", at, [flower(14174), conc(1772)]).allowed


# --- Oregon: 1 oz before 2022, 2 oz since; 5 g; per day ---------------------------------------
def test_or_2022_change_is_data() -> None:
    # 40 g > 1 oz (28.35 g) on 2021-12-31; <= 2 oz (56.70 g) on 2022-01-01.
    assert not run("OR", "adult", "2021-12-31T18:00:00-08:00", [flower(40000)]).allowed
    assert run("OR", "adult", "2022-01-01T10:00:00-08:00", [flower(40000)]).allowed


def test_or_concentrate_per_day() -> None:
    # 4 g earlier today + 1 g = 5 g exactly; + 1 mg more is over.
    at, prior = "2026-11-22T15:00:00-08:00", [("2026-11-22T09:00:00-08:00", conc(4000))]
    assert run("OR", "adult", at, [conc(1000)], prior).allowed
    assert not run("OR", "adult", at, [conc(1001)], prior).allowed


def test_or_medical_month_leaves_a_fraction_of_a_mg() -> None:
    # 4 x 226796 mg = 907184 mg; 32 oz = 907184.74 mg: allowed, 0.74 mg left -> 0 mg more.
    at = "2026-11-22T15:00:00-08:00"
    days = ("2026-10-25", "2026-11-05", "2026-11-15")
    prior = [(f"{d}T12:00:00-07:00", flower(226796)) for d in days]
    v = run("OR", "medical", at, [flower(226796)], prior)
    assert v.allowed and more(v, "flower") == 0
    assert rem(v, "usable marijuana (month)") == 32 - Fraction(907184) / OZ


# --- Arizona: 1 oz total, of which at most 5 g concentrate, per transaction -------------------
AZ_AT = "2026-11-22T12:00:00-07:00"


def test_az_concentrate_inside_the_ounce() -> None:
    # 5 g + 23 g = 28 g <= 28.3495 g; 349 mg more flower fits, no more concentrate.
    v = run("AZ", "adult", AZ_AT, [conc(5000), flower(23000)])
    assert v.allowed and (more(v, "flower"), more(v, "concentrate")) == (349, 0)


def test_az_edible_concentrate_breaks_the_sub_cap() -> None:
    # 5 g + an edible holding 1 mg concentrate = 5.001 g > 5 g.
    v = run("AZ", "adult", AZ_AT, [conc(5000), edible(10, conc_mg=1)])
    assert not v.allowed and (v.crossing_line, v.crossing_bucket) == (1, "concentrate")


def test_az_medical_fourteen_days() -> None:
    # 60 g 13 days ago + 10 g = 70 g <= 70.87 g; a purchase 15 days ago does not count.
    recent = [("2026-11-09T12:00:00-07:00", flower(60000))]
    assert run("AZ", "medical", AZ_AT, [flower(10000)], recent).allowed
    assert not run("AZ", "medical", AZ_AT, [flower(11000)], recent).allowed
    old = [("2026-11-07T12:00:00-07:00", flower(60000))]
    assert run("AZ", "medical", AZ_AT, [flower(70000)], old).allowed


# --- New York: 3 oz, 24 g concentrated, per day ----------------------------------------------
NY_AT = "2026-11-22T12:00:00-05:00"


def test_ny_three_ounces() -> None:
    # 3 oz = 85048.569375 mg: 85048 mg fits, 85049 mg does not.
    assert run("NY", "adult", NY_AT, [flower(85048)]).allowed
    assert not run("NY", "adult", NY_AT, [flower(85049)]).allowed


def test_ny_concentrated_includes_products() -> None:
    # 24 g + an edible with 1 mg concentrate > 24 g.
    assert not run("NY", "adult", NY_AT, [conc(24000), edible(10, conc_mg=1)]).allowed


def test_ny_prior_today() -> None:
    # 20 g earlier today + 4 g = 24 g exactly.
    prior = [("2026-11-22T10:00:00-05:00", conc(20000))]
    v = run("NY", "adult", NY_AT, [conc(4000)], prior)
    assert v.allowed and rem(v, "concentrated cannabis") == 0


# --- New Jersey: 1 oz (28.35 g) = 4 g = 1,000 mg THC, per transaction ------------------------
NJ_AT = "2026-11-22T12:00:00-05:00"


def test_nj_crc_example_half_ounce_and_two_grams() -> None:
    # 14175 mg / 28350 + 2 g / 4 g = 1/2 + 1/2 = 1 oz.
    v = run("NJ", "adult", NJ_AT, [flower(14175), conc(2000)])
    assert v.allowed and rem(v, "one-ounce equivalent") == 0


def test_nj_crc_example_five_packages_and_half_ounce() -> None:
    # 5 x 100 mg / 1000 + 1/2 = 1 oz; + 1 mg THC is over.
    assert run("NJ", "adult", NJ_AT, [edible(100, 5), flower(14175)]).allowed
    assert not run("NJ", "adult", NJ_AT, [edible(100, 5), flower(14175), edible(1)]).allowed


def test_nj_medical_and_hospice() -> None:
    # 3 oz per 30 days = 85050 mg; hospice patients have no limit.
    prior = [("2026-11-01T12:00:00-04:00", flower(50000))]
    assert run("NJ", "medical", NJ_AT, [flower(35050)], prior).allowed
    assert not run("NJ", "medical", NJ_AT, [flower(35051)], prior).allowed
    assert run("NJ", "medical_hospice", NJ_AT, [flower(1_000_000)], prior).allowed


# --- Maryland: 1.5 oz, 12 g, 750 mg THC, at one time -----------------------------------------
MD_AT = "2026-11-22T12:00:00-05:00"


def test_md_750_mg_not_1000() -> None:
    # 750 mg THC fits exactly; 751 mg is over (the brief's 1,000 mg is UNVERIFIED).
    assert run("MD", "adult", MD_AT, [edible(75, 10)]).allowed
    assert not run("MD", "adult", MD_AT, [edible(75, 10), edible(1)]).allowed


def test_md_one_and_a_half_ounces() -> None:
    # 1.5 oz = 42524.28 mg: 42524 mg fits and nothing more; 12 g concentrate independent.
    v = run("MD", "adult", MD_AT, [flower(42524), conc(12000)])
    assert v.allowed and more(v, "flower") == 0 and more(v, "concentrate") == 0


def test_md_medical_needs_thc_on_concentrates() -> None:
    # 120 g per 30 days: 100 g 29 days ago + 20 g = 120 g exactly.
    prior = [("2026-10-24T12:00:00-04:00", flower(100000))]
    assert run("MD", "medical", MD_AT, [flower(20000)], prior).allowed
    # Concentrate counts by THC for patients: a line without thc_mg cannot be evaluated.
    with pytest.raises(BadInput, match=r"lines\[0\]: a concentrate line needs thc_mg"):
        run("MD", "medical", MD_AT, [conc(1000)])


# --- Missouri: MME; 1 MME = 3.5 g flower = 1 g concentrate = 100 mg THC ----------------------
MO_AT = "2026-11-22T12:00:00-06:00"


def test_mo_three_ounces_is_24_3_mme() -> None:
    # 85050 mg / 3500 = 24.3 MME = cap.
    v = run("MO", "adult", MO_AT, [flower(85050)])
    assert v.allowed and rem(v, "three-ounce equivalent") == 0
    assert v.buckets[0].cap_display == "24.3 MME"


def test_mo_mixed_mme() -> None:
    # 10 x 3.5 g = 10 MME; 14.3 g concentrate = 14.3 MME; total 24.3; + 1 mg THC = 0.01 over.
    cart = [flower(3500, 10), conc(14300)]
    assert run("MO", "adult", MO_AT, cart).allowed
    v = run("MO", "adult", MO_AT, [*cart, edible(1)])
    assert not v.allowed and rem(v, "three-ounce equivalent") == Fraction(-1, 100)


def test_mo_versions() -> None:
    # Medical 140 g = 40 MME: over 32 MME on 2022-12-07, within 48.6 MME from 2022-12-08.
    assert not run("MO", "medical", "2022-12-07T12:00:00-06:00", [flower(140000)]).allowed
    assert run("MO", "medical", "2022-12-08T12:00:00-06:00", [flower(140000)]).allowed
    # No adult-use class before 2023-02-03.
    with pytest.raises(BadInput, match='customer class "adult" is not defined'):
        run("MO", "adult", "2023-01-15T12:00:00-06:00", [flower(1000)])


# --- Ohio: plant material 1 oz/day (2.5 oz from 2025-06-04); 15,000 mg THC other products ---
def test_oh_2025_change_uses_the_store_local_date() -> None:
    # 1.5 oz (42524 mg): over 1 oz at 23:30 EDT on 06-03 (03:30Z on 06-04) ...
    assert not run("OH", "adult", "2025-06-03T23:30:00-04:00", [flower(42524)]).allowed
    # ... within 2.5 oz at 00:30 EDT on 06-04.
    assert run("OH", "adult", "2025-06-04T00:30:00-04:00", [flower(42524)]).allowed


def test_oh_two_independent_buckets() -> None:
    # 15,000 mg THC (10 g vape at 1,000 mg + 50 x 100 mg) and 2.5 oz flower together.
    cart = [conc(1000, 10, thc=1000), edible(100, 50), flower(70873)]
    v = run("OH", "adult", "2026-11-22T12:00:00-05:00", cart)
    assert v.allowed and rem(v, "THC in other products") == 0


def test_oh_medical_ninety_days() -> None:
    # Oral THC 9.9 g per 90 days: 9 g 80 days ago + 0.9 g = 9.9 g; 1 mg more is over.
    at = "2026-11-22T12:00:00-05:00"
    prior = [("2026-09-03T12:00:00-04:00", edible(900, 10))]
    assert run("OH", "medical", at, [edible(900)], prior).allowed
    assert not run("OH", "medical", at, [edible(901)], prior).allowed
