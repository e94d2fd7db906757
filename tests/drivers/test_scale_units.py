"""Exact weight arithmetic: decimal text to integer mg, rounding toward the customer."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.scale.units import (
    MG_PER_UNIT,
    WeightFormatError,
    format_grams,
    normalise_unit,
    parse_weight,
)


@pytest.mark.parametrize(
    ("text", "unit", "mg", "step"),
    [
        ("3.50", "g", 3500, 10),
        ("  +3.50", "g", 3500, 10),
        ("0.01", "g", 10, 10),
        ("100.000", "g", 100_000, 1),
        ("1.234", "kg", 1_234_000, 1000),
        ("12", "g", 12_000, 1000),
        ("-0.50", "g", -500, 10),
        ("- 0.50", "g", -500, 10),
        ("250", "mg", 250, 1),
        ("1", "lb", 453_592, 453_593),  # 453 592.37 mg, floored; step rounded up
        ("1.00", "lb", 453_592, 4536),  # 0.01 lb = 4 535.9237 mg
        ("1", "oz", 28_349, 28_350),  # 28 349.523125 mg
        ("0.125", "oz", 3543, 29),  # an eighth: 3 543.69... mg, never overstated
        ("16", "oz", 453_592, 28_350),  # 16 oz = 1 lb exactly
        (".5", "g", 500, 100),
        ("3.4567", "g", 3456, 1),  # sub-mg digits dropped, not rounded up
    ],
)
def test_parse_weight_exact(text: str, unit: str, mg: int, step: int) -> None:
    assert parse_weight(text, unit) == (mg, step)


def test_negative_lb_rounds_down_too() -> None:
    assert parse_weight("-1", "lb") == (-453_593, 453_593)


@pytest.mark.parametrize("text", ["", ".", "abc", "1.2.3", "1e3", "12345678901234", "0x10", "+-1"])
def test_parse_weight_rejects_non_numbers(text: str) -> None:
    with pytest.raises(WeightFormatError, match="not a decimal number"):
        parse_weight(text, "g")


@pytest.mark.parametrize("unit", ["ct", "gr", "PCS", "%", ""])
def test_units_that_are_not_accepted(unit: str) -> None:
    with pytest.raises(WeightFormatError, match="not a mass unit"):
        normalise_unit(unit)


@pytest.mark.parametrize(("text", "unit"), [("KG", "kg"), ("Lbs", "lb"), (" g ", "g")])
def test_unit_spellings(text: str, unit: str) -> None:
    assert normalise_unit(text) == unit


def test_exact_legal_definitions() -> None:
    assert MG_PER_UNIT["lb"] == Fraction("453592.37")
    assert MG_PER_UNIT["oz"] * 16 == MG_PER_UNIT["lb"]


@given(
    whole=st.integers(0, 9999),
    frac=st.integers(0, 9999),
    unit=st.sampled_from(["lb", "oz", "g", "kg"]),
)
def test_converted_weight_never_overstates(whole: int, frac: int, unit: str) -> None:
    text = f"{whole}.{frac:04d}"
    mg, step = parse_weight(text, unit)
    exact = Fraction(text) * MG_PER_UNIT[unit]
    assert mg <= exact < mg + 1
    assert step >= Fraction(1, 10_000) * MG_PER_UNIT[unit]


@pytest.mark.parametrize(
    ("mg", "text"),
    [(3480, "3.48 g"), (3500, "3.50 g"), (3485, "3.485 g"), (100, "0.10 g"), (-20, "-0.02 g")],
)
def test_format_grams(mg: int, text: str) -> None:
    assert format_grams(mg) == text
