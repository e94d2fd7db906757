"""`copy_state`: what the JSON round trip gave, without the JSON, and independent of the original."""

from __future__ import annotations

import msgspec

from edge.workflow.ports import HaltInfo, Order, Pick
from edge.workflow.state import (
    Bag,
    CountProgress,
    Halt,
    OrderProgress,
    Phase,
    Release,
    Session,
    WorkflowState,
    copy_state,
    decode_state,
    encode_state,
)


def full_state() -> WorkflowState:
    order = msgspec.convert(
        {
            "order_id": "1042",
            "channel": "pickup",
            "customer": {"id": "C-1", "class": "adult"},
            "lines": [{"line": 1, "uid": "1A4000000000000000000001", "quantity": 2}],
            "prior": [{"at": "2026-11-20T10:00:00+00:00", "category": "flower"}],
        },
        Order,
    )
    return WorkflowState(
        phase=Phase.HALTED,
        session=Session(agent="BADGE-1", name="Alice", last_activity_ms=5),
        order=OrderProgress(
            order=order,
            source="ticket",
            picks=[Pick(line=1, uid="1A4000000000000000000001", raw="x", net_mg=3500)],
            halt=Halt(
                info=HaltInfo(code="over_limit", reason="r"), resume_phase=Phase.PICKING, at="t"
            ),
            quarantined=["1A4000000000000000000009"],
        ),
        devices_down={"scale": "gone"},
        bags={"2001": Bag(channel="pickup", seal_code="S-1", location="LOC-P1", staged_at="t")},
        release=Release(location="LOC-P1", order_id="2001"),
        count=CountProgress(
            count_id="c1",
            ticket="COUNT-V1",
            scope="V1",
            kind="location",
            counted=["1A4000000000000000000001"],
            missing=["1A4000000000000000000004"],
        ),
    )


def test_copy_equals_the_json_round_trip() -> None:
    for state in (WorkflowState(), full_state()):
        assert encode_state(copy_state(state)) == encode_state(state)
        assert copy_state(state) == decode_state(encode_state(state))


def test_mutating_the_copy_leaves_the_original() -> None:
    state = full_state()
    before = encode_state(state)
    copy = copy_state(state)
    assert copy.order is not None and copy.session is not None and copy.order.halt is not None
    copy.phase = Phase.READY
    copy.session.last_activity_ms = 99
    copy.order.picks.append(Pick(line=1, uid="1A4000000000000000000002", raw="y"))
    copy.order.quarantined.clear()
    copy.order.halt.at = "later"
    copy.order.label_attempt += 1
    copy.devices_down.clear()
    copy.bags["2001"].released = True
    copy.bags["2002"] = copy.bags["2001"]
    assert copy.release is not None and copy.count is not None
    copy.release.order_id = "other"
    copy.count.counted.append("1A4000000000000000000003")
    copy.count.missing.clear()
    assert encode_state(state) == before


def test_copy_state_knows_every_field() -> None:
    """A new mutable field must be copied by `copy_state`: this names the fields it was written
    for, so adding one fails here until copy_state is checked."""
    known = {
        WorkflowState: {
            "version",
            "phase",
            "session",
            "order",
            "disk_block",
            "devices_down",
            "bags",
            "release",
            "count",
        },
        Bag: {"channel", "seal_code", "location", "staged_at", "released"},
        Release: {"location", "order_id"},
        CountProgress: {"count_id", "ticket", "scope", "kind", "supervisor", "counted", "missing"},
        OrderProgress: {
            "order",
            "source",
            "picks",
            "weighing",
            "label_attempt",
            "label_at",
            "label_agent",
            "label_job",
            "label_failed",
            "seal_code",
            "halt",
            "halts",
            "quarantined",
            "override_by",
            "override_from",
        },
        Session: {"agent", "name", "supervisor", "last_activity_ms"},
        Halt: {"info", "resume_phase", "at"},
    }
    for cls, names in known.items():
        assert {f.name for f in msgspec.structs.fields(cls)} == names, cls
