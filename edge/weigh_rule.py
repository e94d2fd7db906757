"""The weighed-out line rule: net >= labelled and net <= labelled + tolerance (integer milligrams).

NIST Handbook 133 allows no short package (shared/domain.md (d) [W1]); the over-fill allowance is
the store's choice ([scale] over_tolerance_mg).
"""

from __future__ import annotations

from edge.ports import OrderLine, WeighResult


class ToleranceWeighRule:
    """edge.ports.WeighRule with a fixed over-fill tolerance."""

    def __init__(self, tolerance_mg: int) -> None:
        self.tolerance_mg = tolerance_mg

    def judge(self, line: OrderLine, net_mg: int) -> WeighResult:
        labelled = line.labelled_weight_mg
        if labelled is None:
            return WeighResult(
                ok=False,
                reason=f"line {line.line} is weighed out but has no labelled weight",
                min_mg=0,
                max_mg=0,
            )
        low, high = labelled, labelled + self.tolerance_mg
        if net_mg < low:
            reason = f"short weight: {net_mg} mg is {low - net_mg} mg under the labelled {low} mg"
        elif net_mg > high:
            reason = f"over weight: {net_mg} mg is more than {high} mg (labelled + tolerance)"
        else:
            reason = f"{net_mg} mg within {low}..{high} mg"
        return WeighResult(ok=low <= net_mg <= high, reason=reason, min_mg=low, max_mg=high)
