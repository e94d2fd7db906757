"""The lab-result gate: a package the core accepts is refused when its lab result says no.

A stage of the verifier pipeline (edge/scan/pipeline.py) after the Rust core's session
(edge/station/wiring/verifier.py): the core judges the scan first (tags, batches, holds,
`LabTestingState`); when it would count the package toward a line, the results central fed for
the package (else for its batch) are looked up at that moment, so a result revoked while the
order is open refuses the next scan. The verdict is `lab_result` with the reason from
edge/common/labs.py `refusal`. The day that counts is the later of the order's date
(`placed_at`) and the packing day, so a result that expired on the order date, or since,
refuses the package.

Lab results are the state system's data (METRC `/labtests/v2/results`), or a COA record typed in
at central; see edge/common/labs.py and central/labs.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import msgspec

from edge.common.labs import LabResult, refusal
from edge.scan import Inventory
from edge.scan.config import ScanSettings
from edge.scan.pipeline import Scan, Stage
from edge.scan.verify import store_today
from edge.workflow.ports import Order, ScanVerdict

# (package tag, its batch) -> the results that govern it (the package's own, else the batch's)
LabLookup = Callable[[str, str | None], Sequence[LabResult]]


class LabGate(Stage):
    """The verdict before it, or `lab_result` when the lab says no."""

    def __init__(
        self,
        inventory: Callable[[], Inventory],
        results: LabLookup,
        cfg: ScanSettings,
    ) -> None:
        self.inventory = inventory
        self.results = results
        self.cfg = cfg

    def judge(self, scan: Scan, verdict: ScanVerdict) -> ScanVerdict:
        order, at = scan.order, scan.at
        if verdict.verdict not in ("match", "fifo") or verdict.uid is None:
            return verdict
        package = self.inventory().lookup(verdict.uid)
        batch = package.batch if package is not None else None
        day = order_day(order, store_today(self.cfg, datetime.fromisoformat(at)))
        try:
            why = refusal(self.results(verdict.uid, batch), day)
        except msgspec.DecodeError as exc:  # central validates; a bad copy still refuses
            why = f"The lab result central sent for {verdict.uid} cannot be read ({exc})."
        if why is None:
            return verdict
        return ScanVerdict(
            verdict="lab_result", reason=why, line=verdict.line, uid=verdict.uid, kind=verdict.kind
        )


def order_day(order: Order, today: str) -> str:
    """The later of the order's date (`placed_at`, when it reads as a date) and `today`."""
    placed = order.placed_at[:10]
    try:
        datetime.strptime(placed, "%Y-%m-%d")
    except ValueError:
        return today
    return max(placed, today)
