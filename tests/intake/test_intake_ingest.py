"""Central validates event bodies on ingest: an unknown type, or a body that does not fit its
type, is quarantined (kept whole, acknowledged, never published), like a malformed frame."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from central.store import open_store
from edge.common import protocol as p
from tests.support.central import RawStation, make_setup, running_central
from tests.support.events import body, chain

EVENTS = [
    ("scan", body("scan")),
    ("pick_verified", {"station": "station-01", "uid": "X"}),  # a type that does not exist
    ("device_state", body("device_state", ok="yes")),  # a field of the wrong type
    ("seal", {"code": "SEAL-1", "expected": None, "ok": True}),  # no station
    ("seal", body("seal", new_field="kept")),  # unknown fields are kept
]


def test_store_quarantines_bodies_that_do_not_fit(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'c.sqlite3'}")
    result = store.commit_batch([("station-01", ev) for ev in chain(EVENTS)], [])
    assert (result.acks, result.accepted, result.quarantined) == ({"station-01": 5}, 2, 3)
    assert [e.seq for e in store.events_after(0, 10)] == [1, 5]
    reasons = {q["seq"]: q["reason"] for q in store.quarantined()}
    assert reasons[2] == "unknown event type 'pick_verified'"
    assert "`$.ok`" in reasons[3] and "body of a device_state event" in reasons[3]
    assert "`station`" in reasons[4]
    store.close()


@pytest.mark.slow
def test_central_acks_and_quarantines_an_unknown_type(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    events = chain(EVENTS)
    with running_central(setup):
        raw = RawStation(setup, "station-01")
        raw.hello()
        raw.send(p.encode(p.EVENTS, p.Events(events=events)))
        assert raw.recv_until(p.ACK).seq == 5  # covered: the station never resends them
        raw.close()
    store = open_store(setup.store)
    (unknown,) = [q for q in store.quarantined() if q["seq"] == 2]
    assert msgspec.msgpack.decode(unknown["raw"], type=p.Event) == events[1]  # kept whole
    assert store.counts() == {"events": 2, "quarantined": 3}
    store.close()
