"""The pack workflow as a pure state machine: every step, every refusal, the supervisor override."""

from __future__ import annotations

import pytest

from edge.workflow.ports import Signal
from edge.workflow.run import iso_at
from edge.workflow.state import (
    BadgeScanned,
    DeviceStateChanged,
    DiskStateChanged,
    NextOrderRequested,
    OrderStatus,
    PackageScanned,
    Phase,
    PrintFailed,
    PrintFinished,
    PrintLabel,
    PrintSlip,
    RequestWeight,
    Resumed,
    SealScanned,
    Tick,
    TicketScanned,
    WeightCaptured,
    decode_state,
    encode_state,
)
from tests.support.station import tag
from tests.support.workflow import T0, Harness


def pick_all_1042(h: Harness) -> None:
    h.do(PackageScanned(tag(1)), PackageScanned(tag(2)), PackageScanned(tag(6)))
    assert h.state.phase == Phase.WEIGHING
    h.do(WeightCaptured(3550))


def test_happy_path_pickup_order_ends_ready_for_pickup() -> None:
    h = Harness()
    fx = h.do(BadgeScanned("BADGE-ALICE"))
    assert h.state.phase == Phase.READY and h.types(fx) == ["scan", "login"]
    h.do(TicketScanned("1042", "ORD-1042"))
    fx = h.do(PackageScanned(tag(1)))
    assert h.signals(fx) == [Signal.SCAN_OK]
    assert h.records(fx)[1].body["verdict"] == "match"
    h.do(PackageScanned(tag(2)))
    fx = h.do(PackageScanned(tag(6)))
    assert h.state.phase == Phase.WEIGHING
    assert RequestWeight("1042", 3, tag(6)) in fx
    fx = h.do(WeightCaptured(3550))
    assert h.types(fx) == ["weight", "limits", "label_requested"]
    assert h.state.phase == Phase.LABEL
    label = next(e for e in fx if isinstance(e, PrintLabel)).job
    assert [p.uid for p in label.picks] == [tag(1), tag(2), tag(6)]
    assert label.picks[2].net_mg == 3550
    h.label_printed()
    assert h.state.phase == Phase.SEAL
    fx = h.do(SealScanned("SEAL-00000000000000AA"))
    assert OrderStatus("1042", "ready_for_pickup") in fx
    assert h.signals(fx)[-1] == Signal.SEALED
    assert h.state.phase == Phase.READY and h.state.order is None
    status = [r for r in h.records() if r.type == "order_status"]
    assert [r.body["status"] for r in status] == ["ready_for_pickup"]


def test_delivery_order_from_the_queue_ends_out_for_delivery() -> None:
    h = Harness()
    h.central.queue = ["2001"]
    h.do(BadgeScanned("BADGE-ALICE"))
    fx = h.do(BadgeScanned("BADGE-ALICE"))  # badge again = next assigned order
    assert h.records(fx)[1].body["source"] == "queue"
    h.do(PackageScanned(tag(4)))
    h.label_printed()
    fx = h.do(SealScanned("SEAL-00000000000000AA"))
    assert OrderStatus("2001", "out_for_delivery") in fx


def test_next_order_with_empty_queue_is_refused_with_reason() -> None:
    h = Harness()
    h.do(BadgeScanned("BADGE-ALICE"))
    fx = h.do(NextOrderRequested())
    assert h.records(fx)[0].body["reason"] == "no order is assigned to this station"
    assert h.state.phase == Phase.READY


@pytest.mark.parametrize(
    ("raw", "verdict", "quarantined"),
    [
        (tag(3), "wrong_batch", [tag(3)]),
        ("1A406O300002C9B000000001", "near_miss", []),  # hand-typed, one slip
        (tag(7), "on_hold", [tag(7)]),
        (tag(4), "not_in_order", [tag(4)]),
        ("NOT-A-TAG", "malformed", []),
        ("1A4060300002C9B000099999", "unknown", []),
    ],
)
def test_refused_scan_halts_with_slip_and_quarantine(
    raw: str, verdict: str, quarantined: list[str]
) -> None:
    h = Harness()
    h.login_and_load()
    h.do(PackageScanned(tag(1)))
    fx = h.do(PackageScanned(raw))
    assert h.state.phase == Phase.HALTED
    types = h.types(fx)
    assert types[:3] == ["scan", "verdict", "halt"]
    assert ("quarantine" in types) == bool(quarantined)
    assert h.state.order is not None and h.state.order.quarantined == quarantined
    slip = next(e for e in fx if isinstance(e, PrintSlip)).job
    assert slip.halt.code == verdict and slip.order_id == "1042"
    assert h.signals(fx) == [Signal.HALT]
    assert [p.uid for p in h.state.order.picks] == [tag(1)]  # the refused scan counts for nothing


def test_near_miss_names_candidates_on_the_slip() -> None:
    h = Harness()
    h.login_and_load()
    fx = h.do(PackageScanned("1A406O300002C9B000000001"))
    slip = next(e for e in fx if isinstance(e, PrintSlip)).job
    assert slip.halt.candidates == [tag(1)]


def test_expired_package_halts() -> None:
    h = Harness()
    h.login_and_load("4001")
    fx = h.do(PackageScanned(tag(5)))
    assert h.records(fx)[1].body["verdict"] == "expired"
    assert h.state.phase == Phase.HALTED


def test_duplicate_scan_halts_without_quarantining_the_bagged_package() -> None:
    h = Harness()
    h.login_and_load()
    h.do(PackageScanned(tag(1)))
    fx = h.do(PackageScanned(tag(1)))
    assert h.records(fx)[1].body["verdict"] == "duplicate"
    assert "quarantine" not in h.types(fx)
    assert h.state.phase == Phase.HALTED


def test_halted_order_ignores_everything_but_a_supervisor() -> None:
    h = Harness()
    h.login_and_load()
    h.do(PackageScanned(tag(3)))
    for event in (PackageScanned(tag(1)), TicketScanned("1042", "ORD-1042"), SealScanned("SEAL-X")):
        fx = h.do(event)
        assert h.types(fx) == ["scan", "scan_refused"]
        assert h.state.phase == Phase.HALTED
    fx = h.do(BadgeScanned("BADGE-ALICE"))
    assert h.types(fx) == ["scan", "scan_refused"]


def test_supervisor_clears_a_halt_and_picking_resumes() -> None:
    h = Harness()
    h.login_and_load()
    h.do(PackageScanned(tag(3)))
    fx = h.do(BadgeScanned("BADGE-BOSS"))
    assert h.state.phase == Phase.OVERRIDE and h.types(fx) == ["scan", "supervisor_present"]
    fx = h.do(BadgeScanned("BADGE-BOSS"))
    override = h.records(fx)[1]
    assert override.type == "override" and override.body["action"] == "clear"
    assert override.body["halt_code"] == "wrong_batch"
    assert h.state.phase == Phase.PICKING
    pick_all_1042(h)
    assert h.state.phase == Phase.LABEL


def test_supervisor_cancels_with_the_order_ticket() -> None:
    h = Harness()
    h.login_and_load()
    h.do(PackageScanned(tag(3)), BadgeScanned("BADGE-BOSS"))
    fx = h.do(TicketScanned("1042", "ORD-1042"))
    assert OrderStatus("1042", "cancelled") in fx
    assert h.state.phase == Phase.READY and h.state.order is None


def test_over_limit_cannot_be_cleared_only_cancelled() -> None:
    h = Harness()
    h.login_and_load("3001")
    fx = h.do(PackageScanned(tag(4)))
    limits = next(r for r in h.records(fx) if r.type == "limits")
    assert limits.body["allowed"] is False
    assert h.state.phase == Phase.HALTED
    assert not any(isinstance(e, PrintLabel) for e in fx)
    h.do(BadgeScanned("BADGE-BOSS"))
    fx = h.do(BadgeScanned("BADGE-BOSS"))
    assert "override_refused" in h.types(fx)
    assert h.state.phase == Phase.OVERRIDE
    fx = h.do(TicketScanned("3001", "ORD-3001"))
    assert OrderStatus("3001", "cancelled") in fx


@pytest.mark.parametrize(("net", "code"), [(3400, "short_weight"), (3601, "over_weight")])
def test_bad_weight_halts_and_clear_reweighs(net: int, code: str) -> None:
    h = Harness()
    h.login_and_load()
    h.do(PackageScanned(tag(1)), PackageScanned(tag(2)), PackageScanned(tag(6)))
    fx = h.do(WeightCaptured(net))
    assert next(r for r in h.records(fx) if r.type == "halt").body["code"] == code
    assert h.state.order is not None and h.state.order.quarantined == [tag(6)]
    h.do(BadgeScanned("BADGE-BOSS"))
    fx = h.do(BadgeScanned("BADGE-BOSS"))
    assert h.state.phase == Phase.WEIGHING
    assert any(isinstance(e, RequestWeight) for e in fx)
    h.do(WeightCaptured(3500))
    assert h.state.phase == Phase.LABEL


def test_weight_outside_weighing_is_not_an_event() -> None:
    h = Harness()
    h.login_and_load()
    assert h.do(WeightCaptured(10)) == []


def test_printer_out_of_paper_then_back_reprints_the_label() -> None:
    h = Harness()
    h.login_and_load("2001")
    fx = h.do(PackageScanned(tag(4)))
    job = next(e for e in fx if isinstance(e, PrintLabel)).job
    fx = h.do(PrintFailed(job.job_id, "paper out"))
    assert h.signals(fx) == [Signal.DEVICE_ERROR]
    assert h.state.phase == Phase.LABEL
    h.do(DeviceStateChanged("printer", False, "paper out"))
    fx = h.do(DeviceStateChanged("printer", True, ""))
    retry = next(e for e in fx if isinstance(e, PrintLabel)).job
    assert retry.job_id == "2001-label-2"
    fx = h.do(PrintFinished(job.job_id, "SEAL-00000000000000AA"))  # the stale job
    assert h.state.phase == Phase.LABEL
    fx = h.do(PrintFinished(retry.job_id, "SEAL-00000000000000AB"))
    assert h.state.phase == Phase.SEAL
    fx = h.do(SealScanned("SEAL-00000000000000AA"))  # the first (failed) label's code
    assert h.state.phase == Phase.HALTED


def test_wrong_label_qr_halts_and_clear_returns_to_sealing() -> None:
    h = Harness()
    h.login_and_load("2001")
    h.do(PackageScanned(tag(4)))
    h.label_printed()
    fx = h.do(SealScanned("SEAL-FFFFFFFFFFFFFFFF"))
    assert next(r for r in h.records(fx) if r.type == "halt").body["code"] == "seal_mismatch"
    h.do(BadgeScanned("BADGE-BOSS"), BadgeScanned("BADGE-BOSS"))
    assert h.state.phase == Phase.SEAL
    h.do(SealScanned("SEAL-00000000000000AA"))
    assert h.state.phase == Phase.READY


def test_fifo_warns_or_refuses_by_config() -> None:
    warn = Harness(fifo="warn")
    warn.login_and_load()
    fx = warn.do(PackageScanned(tag(8)))
    assert warn.records(fx)[1].body["outcome"] == "accepted_with_warning"
    assert warn.state.phase == Phase.PICKING
    refuse = Harness(fifo="refuse")
    refuse.login_and_load()
    refuse.do(PackageScanned(tag(8)))
    assert refuse.state.phase == Phase.HALTED


def test_badges_unknown_or_expired_are_refused() -> None:
    h = Harness()
    fx = h.do(BadgeScanned("BADGE-NOBODY"))
    assert h.records(fx)[1].body["reason"] == "badge not allowed on this station"
    fx = h.do(BadgeScanned("BADGE-OLD"))
    assert "expired" in h.records(fx)[1].body["reason"]
    assert h.state.phase == Phase.IDLE and h.state.session is None


def test_scans_before_login_are_refused() -> None:
    h = Harness()
    fx = h.do(TicketScanned("1042", "ORD-1042"))
    assert h.types(fx) == ["scan", "scan_refused"] and h.state.phase == Phase.IDLE


def test_inactivity_logs_out_and_the_open_order_waits_for_the_next_login() -> None:
    h = Harness(inactivity_logout_s=60)
    h.login_and_load()
    h.do(PackageScanned(tag(1)))
    assert h.do(Tick(), advance_ms=59_000) == []
    fx = h.do(Tick(), advance_ms=2_000)
    assert h.types(fx) == ["logout"] and h.state.session is None
    assert h.state.phase == Phase.PICKING
    assert h.types(h.do(PackageScanned(tag(2)))) == ["scan", "scan_refused"]
    fx = h.do(BadgeScanned("BADGE-ALICE"))
    assert h.records(fx)[1].body["resumes_order"] == "1042"
    h.do(PackageScanned(tag(2)))
    assert h.state.order is not None and len(h.state.order.picks) == 2


def test_disk_guard_refuses_new_orders_but_not_the_open_one() -> None:
    h = Harness()
    h.login_and_load()
    fx = h.do(DiskStateChanged(False, "disk space low: 10 MiB free"))
    assert h.types(fx) == ["disk_guard"]
    assert h.do(DiskStateChanged(False, "disk space low: 10 MiB free")) == []
    pick_all_1042(h)
    h.label_printed()
    h.do(SealScanned("SEAL-00000000000000AA"))
    fx = h.do(TicketScanned("2001", "ORD-2001"))
    refused = h.records(fx)[1]
    assert refused.type == "order_refused" and "disk space low" in refused.body["reason"]
    h.do(DiskStateChanged(True, ""))
    h.do(TicketScanned("2001", "ORD-2001"))
    assert h.state.phase == Phase.PICKING


def test_device_states_are_journalled_once_per_change() -> None:
    h = Harness()
    fx = h.do(DeviceStateChanged("central", False, "no reply for 15 s"))
    assert h.signals(fx) == [Signal.CENTRAL_OFFLINE]
    assert h.do(DeviceStateChanged("central", False, "still")) == []
    assert h.state.devices_down == {"central": "still"}  # the latest reason, not journalled
    assert h.types(h.do(DeviceStateChanged("central", True))) == ["device_state"]


def test_resume_reissues_what_the_step_waited_for() -> None:
    h = Harness()
    h.login_and_load()
    h.do(PackageScanned(tag(1)), PackageScanned(tag(2)), PackageScanned(tag(6)))
    fx = h.do(Resumed("boot-2"))
    assert h.types(fx) == ["station_resumed", "weigh_requested"]
    h.do(WeightCaptured(3500))
    fx = h.do(Resumed("boot-3"))  # the label job's outcome died with the process: print again
    assert next(e for e in fx if isinstance(e, PrintLabel)).job.job_id == "1042-label-2"


def test_step_never_mutates_its_input_state_and_state_round_trips() -> None:
    h = Harness()
    h.login_and_load()
    before = encode_state(h.state)
    step = h.wf.step(h.state, PackageScanned(tag(1)), T0 + 10_000)
    assert encode_state(h.state) == before
    assert decode_state(encode_state(step.state)) == step.state


def test_event_bodies_name_the_order() -> None:
    h = Harness()
    h.login_and_load()
    pick_all_1042(h)
    for record in h.records():
        if record.type not in ("scan", "login"):
            assert record.body.get("order_id") == "1042", record


def test_iso_at_is_exact_milliseconds() -> None:
    assert iso_at(1_795_000_000_123) == "2026-11-18T11:06:40.123+00:00"


def test_a_late_reading_for_another_package_is_ignored() -> None:
    h = Harness()
    h.login_and_load()
    h.do(PackageScanned(tag(1)), PackageScanned(tag(2)), PackageScanned(tag(6)))
    assert h.do(WeightCaptured(3500, for_uid=tag(2))) == []
    assert h.state.phase == Phase.WEIGHING
    h.do(WeightCaptured(3500, for_uid=tag(6)))
    assert h.state.phase == Phase.LABEL
