"""Cycle count mode in the workflow, reconciled by the Rust core (edge._core Inventory.reconcile
through edge/station/wiring/count.py): open, count, close, slip, quarantines, supervisor review."""

from __future__ import annotations

import json
from typing import Any

from edge.scan import Inventory
from edge.station.wiring.count import CoreCounter
from edge.workflow.counting import Counting
from edge.workflow.state import BadgeScanned, PackageScanned, Phase, PrintSlip
from tests.support.station import tag
from tests.support.workflow import Harness


def vault() -> Inventory:
    def pkg(n: int, sku: str, location: str) -> dict[str, Any]:
        return {
            "Label": tag(n),
            "Item": {"Name": sku},
            "Sku": sku,
            "Batch": "B",
            "Location": location,
        }

    return Inventory.from_json(
        json.dumps(
            [
                pkg(1, "FLW-BD-35", "SHELF-A"),
                pkg(2, "FLW-BD-35", "SHELF-A"),
                pkg(3, "FLW-BD-35", "SHELF-A"),
                pkg(4, "EDI-GUM-10", "SHELF-B"),
                pkg(5, "EDI-GUM-10", "SHELF-B"),
            ]
        ).encode()
    )


def counting_harness() -> Harness:
    h = Harness()
    inv = vault()
    h.wf.counting = Counting(None, CoreCounter(lambda: inv))
    return h


def test_a_count_with_discrepancies_waits_for_the_supervisor_then_adjusts() -> None:
    h = counting_harness()
    h.do(BadgeScanned("BADGE-ALICE"), PackageScanned("COUNT-SHELF-A"))
    assert h.state.phase == Phase.READY  # a technician alone cannot open a count
    fx = h.do(BadgeScanned("BADGE-BOSS"))
    assert h.state.phase == Phase.COUNT
    assert next(r for r in h.records(fx) if r.type == "count_opened").body["kind"] == "location"
    # tag(1) on its shelf, tag(4) belongs on SHELF-B, tag(3) counted twice, tag(2) missing, and
    # an unknown tag
    unknown = "1A4000000000000000000099"
    for t in (tag(1), tag(4), tag(3), tag(3), unknown):
        h.do(PackageScanned(t))
    fx = h.do(PackageScanned("COUNT-SHELF-A"))
    closed = next(r for r in h.records(fx) if r.type == "count_closed").body
    assert closed["missing"] == [tag(2)]
    assert closed["wrong_place"] == [[tag(4), "SHELF-A", "SHELF-B"]]
    assert closed["unexpected"] == [[unknown, "SHELF-A"]]
    assert closed["counted"] == 4 and closed["supervisor"] == "BADGE-BOSS"
    per_sku = {s["sku"]: (s["counted"], s["expected"]) for s in closed["per_sku"]}
    assert per_sku == {"FLW-BD-35": (2, 3), "EDI-GUM-10": (1, 0)}
    quarantined = {r.body["uid"]: r.body["code"] for r in h.records(fx) if r.type == "quarantine"}
    assert quarantined == {
        tag(2): "count_missing",
        tag(4): "count_wrong_place",
        unknown: "count_unexpected",
    }
    slip = next(e.job for e in fx if isinstance(e, PrintSlip))
    assert slip.halt.code == "count_discrepancy" and "FLW-BD-35: counted 2 of 3" in slip.halt.reason
    assert h.state.phase == Phase.COUNT_REVIEW
    assert "count_adjustment" not in h.types(h.do(BadgeScanned("BADGE-ALICE")))  # not a supervisor
    fx = h.do(BadgeScanned("BADGE-BOSS"))
    adjustments = [r.body for r in h.records(fx) if r.type == "count_adjustment"]
    assert [(a["uid"], a["quantity"], a["supervisor"]) for a in adjustments] == [
        (tag(2), 0, "BADGE-BOSS")
    ]
    assert h.state.phase == Phase.READY and h.state.count is None


def test_a_clean_sku_count_ends_at_once_and_a_dismissed_count_adjusts_nothing() -> None:
    h = counting_harness()
    h.do(BadgeScanned("BADGE-BOSS"), PackageScanned("COUNT-EDI-GUM-10"))
    assert h.state.phase == Phase.COUNT and h.state.count is not None
    assert h.state.count.kind == "sku"
    fx = h.do(PackageScanned(tag(4)), PackageScanned(tag(5)), PackageScanned("COUNT-EDI-GUM-10"))
    closed = next(r for r in h.records(fx) if r.type == "count_closed").body
    assert closed["missing"] == [] and closed["wrong_place"] == [] and closed["unexpected"] == []
    assert "quarantine" not in h.types(fx) and h.state.phase == Phase.READY
    h.do(PackageScanned("COUNT-SHELF-B"), PackageScanned(tag(4)), PackageScanned("COUNT-SHELF-B"))
    assert h.state.phase == Phase.COUNT_REVIEW
    fx = h.do(PackageScanned("COUNT-SHELF-B"))
    assert "count_adjustment" not in h.types(fx) and h.state.phase == Phase.READY
    assert next(r for r in h.records(fx) if r.type == "count_reviewed").body["action"] == "dismiss"


def test_a_ticket_naming_nothing_is_refused() -> None:
    h = counting_harness()
    fx = h.do(BadgeScanned("BADGE-BOSS"), PackageScanned("COUNT-NOWHERE"))
    assert "scan_refused" in h.types(fx) and h.state.count is None
