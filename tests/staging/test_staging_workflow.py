"""Staging after the seal and release at hand-off, in the pure workflow: every step, every refusal."""

from __future__ import annotations

import msgspec

from edge.label.slips import RESOLUTION, SLIPS
from edge.workflow.ports import Signal
from edge.workflow.staging import Staging, StagingSection
from edge.workflow.state import (
    BadgeScanned,
    OrderStatus,
    PackageScanned,
    Phase,
    PrintFinished,
    PrintLabel,
    PrintSlip,
    SealScanned,
    TicketScanned,
)
from tests.support.station import tag
from tests.support.workflow import Harness

SECTION = StagingSection(pickup=[r"^LOC-SHELF-[A-Z0-9]{1,8}$"], delivery=[r"^LOC-BIN-[0-9]{1,4}$"])
SEAL_2001 = "SEAL-2001-00000000000000AA"


def staged_harness() -> Harness:
    h = Harness()
    h.wf.staging = Staging(SECTION)
    return h


def seal_2001(h: Harness) -> None:
    h.do(BadgeScanned("BADGE-ALICE"), TicketScanned("2001", "ORD-2001"), PackageScanned(tag(4)))
    job = next(e.job for e in reversed(h.effects) if isinstance(e, PrintLabel))
    h.do(PrintFinished(job.job_id, SEAL_2001))
    fx = h.do(SealScanned(SEAL_2001))
    assert h.state.phase == Phase.STAGE
    assert not any(isinstance(e, OrderStatus) for e in fx)  # not ready until staged
    assert h.signals(fx)[-1] == Signal.SEALED


def test_staging_off_by_default_the_seal_finishes() -> None:
    assert not Staging().enabled
    h = Harness()
    h.do(BadgeScanned("BADGE-ALICE"), TicketScanned("2001", "ORD-2001"), PackageScanned(tag(4)))
    job = next(e.job for e in reversed(h.effects) if isinstance(e, PrintLabel))
    h.do(PrintFinished(job.job_id, SEAL_2001))
    fx = h.do(SealScanned(SEAL_2001))
    assert OrderStatus("2001", "out_for_delivery") in fx and h.state.phase == Phase.READY


def test_wrong_kind_halts_with_slip_then_the_right_bin_stages() -> None:
    h = staged_harness()
    seal_2001(h)
    fx = h.do(PackageScanned("LOC-SHELF-A1"))
    assert h.state.phase == Phase.HALTED
    halt = next(r for r in h.records(fx) if r.type == "halt")
    assert halt.body["code"] == "wrong_location" and "LOC-SHELF-A1" in halt.body["reason"]
    assert "quarantine" not in h.types(fx)
    assert any(isinstance(e, PrintSlip) and e.job.halt.code == "wrong_location" for e in fx)
    assert h.records(fx)[0].body["kind"] == "location"
    h.do(BadgeScanned("BADGE-BOSS"), BadgeScanned("BADGE-BOSS"))
    assert h.state.phase == Phase.STAGE
    fx = h.do(PackageScanned("LOC-BIN-7"))
    staged = next(r for r in h.records(fx) if r.type == "order_staged")
    assert staged.body == {
        "order_id": "2001",
        "location": "LOC-BIN-7",
        "kind": "delivery",
        "channel": "delivery",
        "seal_code": SEAL_2001,
        "agent": "BADGE-ALICE",
    }
    assert OrderStatus("2001", "out_for_delivery") in fx
    assert h.state.phase == Phase.READY and h.state.bags["2001"].location == "LOC-BIN-7"


def test_wrong_location_slip_is_one_table_entry_cleared_by_a_supervisor() -> None:
    assert "wrong_location" in SLIPS and RESOLUTION["wrong_location"] == "clear"


def test_release_refusals_then_departure_with_the_driver() -> None:
    h = staged_harness()
    seal_2001(h)
    h.do(PackageScanned("LOC-BIN-7"))

    def refused(*scans: str) -> str:
        fx = h.do(*(SealScanned(s) if s.startswith("SEAL") else PackageScanned(s) for s in scans))
        rec = next(r for r in h.records(fx) if r.type == "release_refused")
        assert h.signals(fx)[-1] == Signal.HALT
        return str(rec.body["code"])

    assert refused(SEAL_2001) == "no_location"
    assert refused("LOC-BIN-8", SEAL_2001) == "wrong_location"
    assert refused("LOC-BIN-7", "SEAL-2001-00000000000000BB") == "seal_mismatch"
    assert refused("LOC-BIN-7", "SEAL-9999-00000000000000BB") == "not_staged"
    h.do(PackageScanned("LOC-BIN-7"), SealScanned(SEAL_2001))
    assert h.state.release is not None and h.state.release.order_id == "2001"
    fx = h.do(BadgeScanned("BADGE-ALICE"))  # the releasing agent is not the driver
    assert "departed" not in h.types(fx)
    fx = h.do(BadgeScanned("BADGE-BOSS"))
    departed = next(r for r in h.records(fx) if r.type == "departed")
    assert departed.body["driver"] == "BADGE-BOSS" and departed.body["agent"] == "BADGE-ALICE"
    assert h.state.session is not None and h.state.session.agent == "BADGE-ALICE"
    assert refused("LOC-BIN-7", SEAL_2001) == "already_released"


def test_pickup_is_picked_up_without_a_driver() -> None:
    h = staged_harness()
    h.central.orders = [
        msgspec.structs.replace(o, channel="pickup") if o.order_id == "2001" else o
        for o in h.central.orders
    ]
    seal_2001(h)
    fx = h.do(PackageScanned("LOC-BIN-7"))
    assert next(r for r in h.records(fx) if r.type == "halt").body["code"] == "wrong_location"
    h.do(BadgeScanned("BADGE-BOSS"), BadgeScanned("BADGE-BOSS"))
    fx = h.do(PackageScanned("LOC-SHELF-A1"))
    assert OrderStatus("2001", "ready_for_pickup") in fx
    fx = h.do(PackageScanned("LOC-SHELF-A1"), SealScanned(SEAL_2001))
    picked = next(r for r in h.records(fx) if r.type == "picked_up")
    assert picked.body["location"] == "LOC-SHELF-A1" and "driver" not in picked.body
    assert h.state.release is None and h.state.bags["2001"].released
