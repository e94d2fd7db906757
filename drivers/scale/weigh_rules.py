"""The weigh-out rule: may this captured weight go out under this label?

Sources: NIST HB 133 has no tolerance below the label ("Individual Package
Requirement"; "a short package" is the top consumer complaint), so any net weight below the label
is refused. Above the label the station allows a configured give-away (NCWM moisture-loss guidance:
flower may lose up to 3 %, about 0.10 g on a 3.50 g eighth). Packaging scales must read in steps
of e = d = 0.01 g (HB 44 policy; Class II), so a coarser scale is refused for weigh-out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from drivers.scale.capture import Capture
from drivers.scale.units import format_grams


@dataclass(frozen=True, slots=True)
class WeighOutRules:
    """From [scale]: over_tolerance_mg and max_division_mg."""

    over_tolerance_mg: int = 100
    max_division_mg: int = 10


class Refusal(enum.Enum):
    """Why a weighed-out package is refused."""

    UNDER = "under"
    OVER = "over"
    COARSE_SCALE = "coarse-scale"


@dataclass(frozen=True, slots=True)
class WeighOutAccepted:
    """The package may be labelled: `net_mg` is what goes on the label and the journal."""

    net_mg: int
    labelled_mg: int

    @property
    def over_mg(self) -> int:
        """Product given away above the label."""
        return self.net_mg - self.labelled_mg


@dataclass(frozen=True, slots=True)
class WeighOutRefused:
    """The package may not go out; `reason` is one sentence for the discrepancy slip."""

    refusal: Refusal
    net_mg: int
    labelled_mg: int
    reason: str


WeighOutResult = WeighOutAccepted | WeighOutRefused


def check_weigh_out(capture: Capture, labelled_mg: int, rules: WeighOutRules) -> WeighOutResult:
    """Judge a captured net weight against the labelled weight."""
    net, label = capture.net_mg, labelled_mg
    if capture.division_mg > rules.max_division_mg:
        reason = (
            f"The scale reads in steps of {format_grams(capture.division_mg)}, coarser than the "
            f"{format_grams(rules.max_division_mg)} required for weigh-out: use a packaging balance."
        )
        return WeighOutRefused(Refusal.COARSE_SCALE, net, label, reason)
    if net < label:
        reason = (
            f"Net {format_grams(net)} is below the labelled {format_grams(label)}: "
            "add product and weigh again."
        )
        return WeighOutRefused(Refusal.UNDER, net, label, reason)
    if net > label + rules.over_tolerance_mg:
        reason = (
            f"Net {format_grams(net)} is above the labelled {format_grams(label)} plus the "
            f"{format_grams(rules.over_tolerance_mg)} allowance: remove product and weigh again."
        )
        return WeighOutRefused(Refusal.OVER, net, label, reason)
    return WeighOutAccepted(net, label)
