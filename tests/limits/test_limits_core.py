"""The PyO3 boundary of the limit engine (`edge._core.LimitRules`): shapes in, errors out."""

from __future__ import annotations

from typing import Any

import pytest

from edge import _core

# One class, one bucket: 10 g of flower per calendar day (factor: g per mg = 1/1000).
VERSIONS: list[Any] = [
    (
        739_000,
        "2024-05-01",
        [("adult", [("flower", "g", (10, 1), "day", 1, [("flower", "net_weight", (1, 1000))])])],
    )
]
AT, DAY = 1_795_000_000, 739_577


def rules() -> _core.LimitRules:
    return _core.LimitRules("XX", VERSIONS)


def test_check_returns_a_lazy_result() -> None:
    prior = [(AT - 60, DAY, "flower", 1, 4000, None, None, None)]
    result = rules().check("adult", AT, DAY, [("flower", 2, 3000, None, None, None)], prior)
    assert result.allowed and result.crossing is None and result.version == "2024-05-01"
    ((name, unit, kind, days, cap, prior_used, cart_used, remaining, over, cap_d, rem_d),) = (
        result.buckets
    )
    assert (name, unit, kind, days, over) == ("flower", "g", "day", 1, False)
    assert (cap, prior_used, cart_used, remaining) == ((10, 1), (4, 1), (6, 1), (0, 1))
    assert (cap_d, rem_d) == ("10 g", "0 g")
    assert result.max_more == [("flower", "net_weight", 0, "0 g")]


@pytest.mark.parametrize(
    ("lines", "prior", "message"),
    [
        ([("flower", 1, -5, None, None, None)], [], "negative amount -5"),
        ([("flower", 1, 5)], [], r"lines\[0\]: expected a tuple of 6 items"),
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


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        (
            [
                (
                    1,
                    "v",
                    [("adult", [("b", "g", (1, 0), "day", 1, [("flower", "net_weight", (1, 1))])])],
                )
            ],
            "zero denominator",
        ),
        (
            [
                (
                    1,
                    "v",
                    [
                        (
                            "adult",
                            [("b", "g", (1, 1), "weekly", 1, [("flower", "net_weight", (1, 1))])],
                        )
                    ],
                )
            ],
            "bad window",
        ),
        (
            [(1, "v", [("adult", [("b", "g", (1, 1), "day", 1, [("flower", "weight", (1, 1))])])])],
            'unknown measure "weight"',
        ),
        (
            [
                (
                    1,
                    "v",
                    [("adult", [("b", "g", (1, 1), "day", 1, [("flower", "net_weight", (0, 1))])])],
                )
            ],
            "factor of flower must be positive",
        ),
        ([(2, "b", []), (1, "a", [])], "version b must come before version a"),
        ([], "no rule versions"),
    ],
)
def test_bad_rule_models_raise_limit_rule_error(versions: Any, message: str) -> None:
    with pytest.raises(_core.LimitRuleError, match=message):
        _core.LimitRules("XX", versions)


def test_version_at() -> None:
    assert rules().version_at(739_000) == "2024-05-01"
    assert rules().version_at(738_999) is None
    assert rules().code == "XX"
