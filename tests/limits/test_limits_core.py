"""The PyO3 boundary of the limit engine (`edge._core.LimitRules`): shapes in, errors out."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from edge import _core

AT, DAY = 1_795_000_000, 739_577


def version(
    effective_day: int = 739_000,
    label: str = "2024-05-01",
    *,
    cap: Fraction = Fraction(10),
    window: str = "day",
    measure: str = "net_weight",
    factor: Fraction = Fraction(1, 1000),
) -> _core.LimitRuleVersion:
    """One class, one bucket: `cap` g of flower per `window` (factor: g per mg)."""
    member = _core.LimitRuleMember(category="flower", measure=measure, factor=factor)
    bucket = _core.LimitRuleBucket(
        name="flower", unit="g", cap=cap, window=window, window_days=1, members=[member]
    )
    cls = _core.LimitRuleClass(name="adult", buckets=[bucket])
    return _core.LimitRuleVersion(effective_day=effective_day, label=label, classes=[cls])


def rules() -> _core.LimitRules:
    return _core.LimitRules("XX", [version()])


def test_rule_model_reads_back() -> None:
    v = version()
    (cls,) = v.classes
    (bucket,) = cls.buckets
    (member,) = bucket.members
    assert (v.effective_day, v.label, cls.name) == (739_000, "2024-05-01", "adult")
    assert (bucket.name, bucket.unit, bucket.cap, bucket.window) == ("flower", "g", 10, "day")
    assert (member.category, member.measure, member.factor) == (
        "flower",
        "net_weight",
        Fraction(1, 1000),
    )


def test_check_returns_a_lazy_result() -> None:
    prior = [(AT - 60, DAY, "flower", 1, 4000, None, None, None)]
    result = rules().check("adult", AT, DAY, [("flower", 2, 3000, None, None, None)], prior)
    assert result.allowed and result.crossing is None and result.version == "2024-05-01"
    (b,) = result.buckets
    assert (b.name, b.unit, b.window, b.window_days, b.over) == ("flower", "g", "day", 1, False)
    assert (b.cap, b.prior_used, b.cart_used, b.remaining) == ((10, 1), (4, 1), (6, 1), (0, 1))
    assert (b.cap_display, b.remaining_display) == ("10 g", "0 g")
    (m,) = result.max_more
    assert (m.category, m.measure, m.amount, m.display) == ("flower", "net_weight", 0, "0 g")


def test_crossing_names_line_and_bucket() -> None:
    result = rules().check("adult", AT, DAY, [("flower", 1, 11_000, None, None, None)], [])
    assert not result.allowed and result.crossing is not None
    assert (result.crossing.line, result.crossing.bucket) == (0, "flower")
    (b,) = result.buckets
    assert b.over and b.remaining == (-1, 1)


@pytest.mark.parametrize(
    ("lines", "prior", "message"),
    [
        ([("flower", 1, -5, None, None, None)], [], "negative amount -5"),
        ([("flower", 1, 5)], [], r"lines\[0\]: expected a tuple of 6 or 7 items"),
        ([("bud", 1, 5, None, None, None)], [], r'lines\[0\]: unknown category "bud"'),
        (
            [],
            [(AT, DAY, "flower", 1, None, None, None, None)],
            r"prior\[0\]: a flower line needs net_weight_mg",
        ),
    ],
)
def test_bad_input_raises_limit_input_error(lines: Any, prior: Any, message: str) -> None:
    with pytest.raises(_core.LimitInputError, match=message):
        rules().check("adult", AT, DAY, lines, prior)


def test_wrong_python_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        rules().check("adult", AT, DAY, [(1, 1, 5, None, None, None)], [])
    with pytest.raises(TypeError):
        rules().check("adult", AT, DAY, ("not", "a list"), [])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _core.LimitRuleMember("flower", "net_weight", Fraction(1))  # type: ignore[misc]
    with pytest.raises(TypeError):
        _core.LimitRuleMember(category="flower", measure="net_weight", factor="1/2")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        ([version(window="weekly")], "bad window"),
        ([version(measure="weight")], 'unknown measure "weight"'),
        ([version(factor=Fraction(0))], "factor of flower must be positive"),
        ([version(2, "b"), version(1, "a")], "version b must come before version a"),
        ([], "no rule versions"),
    ],
)
def test_bad_rule_models_raise_limit_rule_error(
    versions: list[_core.LimitRuleVersion], message: str
) -> None:
    with pytest.raises(_core.LimitRuleError, match=message):
        _core.LimitRules("XX", versions)


def test_every_core_error_is_a_core_error() -> None:
    for exc in (
        _core.LimitRuleError,
        _core.LimitInputError,
        _core.ScanCoreError,
        _core.InventoryFormatError,
        _core.OrderFormatError,
        _core.TagPatternError,
        _core.RestoreError,
    ):
        assert issubclass(exc, _core.CoreError) and issubclass(exc, ValueError)


def test_version_at() -> None:
    assert rules().version_at(739_000) == "2024-05-01"
    assert rules().version_at(738_999) is None
    assert rules().code == "XX"
