"""The weigh-out rule: short packages and over-fills refused with a slip-ready sentence."""

from __future__ import annotations

import pytest

from drivers.scale import (
    Capture,
    Refusal,
    WeighOutAccepted,
    WeighOutRefused,
    WeighOutRules,
    check_weigh_out,
)

RULES = WeighOutRules(over_tolerance_mg=100, max_division_mg=10)


def cap(mg: int, division: int = 10) -> Capture:
    return Capture(mg, "g", division, b"S S 0 g")


def test_short_package_refused_with_slip_sentence() -> None:
    result = check_weigh_out(cap(3480), 3500, RULES)
    assert isinstance(result, WeighOutRefused)
    assert result.refusal is Refusal.UNDER
    assert result.reason == "Net 3.48 g is below the labelled 3.50 g: add product and weigh again."


def test_one_division_short_is_still_short() -> None:
    result = check_weigh_out(cap(3490), 3500, RULES)
    assert isinstance(result, WeighOutRefused) and result.refusal is Refusal.UNDER


@pytest.mark.parametrize("net", [3500, 3550, 3600])
def test_label_up_to_tolerance_accepted(net: int) -> None:
    assert check_weigh_out(cap(net), 3500, RULES) == WeighOutAccepted(net, 3500)


def test_over_tolerance_refused() -> None:
    result = check_weigh_out(cap(3610), 3500, RULES)
    assert isinstance(result, WeighOutRefused) and result.refusal is Refusal.OVER
    assert result.reason == (
        "Net 3.61 g is above the labelled 3.50 g plus the 0.10 g allowance: "
        "remove product and weigh again."
    )


def test_coarse_scale_refused_even_when_weight_fits() -> None:
    result = check_weigh_out(cap(3500, division=100), 3500, RULES)
    assert isinstance(result, WeighOutRefused) and result.refusal is Refusal.COARSE_SCALE
    assert "steps of 0.10 g, coarser than the 0.01 g" in result.reason


def test_lb_scale_is_too_coarse_for_weigh_out() -> None:
    # 0.01 lb = 4 536 mg divisions: a retail 8217 scale cannot weigh out an eighth.
    result = check_weigh_out(cap(4536, division=4536), 3500, RULES)
    assert isinstance(result, WeighOutRefused) and result.refusal is Refusal.COARSE_SCALE


def test_accepted_reports_give_away() -> None:
    result = check_weigh_out(cap(3540), 3500, RULES)
    assert isinstance(result, WeighOutAccepted) and result.over_mg == 40
