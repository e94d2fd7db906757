"""Central's per-event chain check in the compiled core (core_rs/src/chain.rs): byte-identical to
the Python chain (edge/common/chain.py) on random rows and on every sample event, Python deciding
the event_ids the core leaves to it, and a batch still quarantining exactly its bad events."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central.store import SqlStore
from central.store.chain_check import recompute
from edge import _core
from edge.common.chain import GENESIS, canonical_json, chain_hash
from edge.common.protocol import Event
from tests.support.central import chain_events
from tests.support.events import SAMPLES
from tests.support.events import body as event_body

AT = "2026-11-22T12:00:00.123456+00:00"


def _py(ev: Event) -> bytes:
    return chain_hash(ev.prev_hash, ev.seq, ev.event_id, ev.type, ev.at, ev.body)


def _event(
    seq: int, event_id: str, type_: str, at: str, body: bytes, prev_hash: bytes = GENESIS
) -> Event:
    return Event(
        seq=seq,
        event_id=event_id,
        at=at,
        type=type_,
        body=body,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, seq, event_id, type_, at, body),
    )


_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)  # UTF-8-encodable
_id_forms = st.sampled_from(
    [str, lambda u: str(u).upper(), lambda u: u.hex, lambda u: u.hex.upper()]
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.binary(max_size=64),  # prev_hash: 32 bytes on the wire, any length hashes
            st.integers(0, 2**64 - 1),
            st.uuids(),
            _id_forms,
            _text,
            _text,
            st.binary(max_size=4096),
        ),
        max_size=20,
    )
)
def test_core_hash_is_the_python_hash_on_random_rows(
    rows: list[tuple[bytes, int, uuid.UUID, object, str, str, bytes]],
) -> None:
    events = [
        Event(
            seq=seq,
            event_id=form(u),  # type: ignore[operator]
            at=at,
            type=type_,
            body=body,
            prev_hash=prev,
            hash=b"",
        )
        for prev, seq, u, form, type_, at, body in rows
    ]
    assert _core.chain_hashes(events) == [_py(ev) for ev in events]


def test_core_hash_matches_on_every_sample_event_chained() -> None:
    prev, events = GENESIS, []
    for seq, type_ in enumerate(sorted(SAMPLES), start=1):
        body = canonical_json(event_body(type_, "station-07", note="ünïcödé ✓"))
        ev = _event(seq, str(uuid.uuid4()), type_, AT, body, prev)
        events.append(ev)
        prev = ev.hash
    assert len(events) == len(SAMPLES) > 10
    assert recompute(events) == [ev.hash for ev in events] == [_py(ev) for ev in events]


@pytest.mark.parametrize(
    "event_id",
    [
        "{12345678-9abc-def0-1234-56789abcdef0}",
        "urn:uuid:12345678-9abc-def0-1234-56789abcdef0",
        "12345678-9abc-def0-1234-56789abcdef0-",
        "1234-56789abc-def0-1234-56789abcdef0",
        "not-a-uuid",
        " 12345678-9abc-def0-1234-56789abcdef0",
    ],
)
def test_ids_python_alone_judges_are_left_to_it(event_id: str) -> None:
    ev = Event(
        seq=1, event_id=event_id, at=AT, type="scan", body=b"{}", prev_hash=GENESIS, hash=b""
    )
    assert recompute([ev]) == [None]


def test_fields_off_their_wire_type_are_left_to_python() -> None:
    ev = chain_events(1)[0]
    assert isinstance(ev, Event)
    assert recompute([msgspec.structs.replace(ev, seq=-1)]) == [None]
    assert recompute([msgspec.structs.replace(ev, seq=2**64)]) == [None]
    assert recompute([msgspec.structs.replace(ev, body=bytearray(ev.body))]) == [None]  # type: ignore[arg-type]
    assert recompute([ev, ev]) == [ev.hash, ev.hash]
    assert recompute([]) == []


def test_a_bad_hash_in_a_batch_quarantines_exactly_that_event(store: SqlStore) -> None:
    events: list[Event] = chain_events(20)  # type: ignore[assignment]
    tampered = msgspec.structs.replace(events[6], body=events[6].body.replace(b'"test"', b'"tesT"'))
    assert tampered.body != events[6].body
    events[6] = tampered  # seq 7: its body changed, its hash kept; seq 8 still chains to it
    result = store.commit_batch([("s1", ev) for ev in events], [])
    assert (result.acks, result.accepted, result.quarantined) == ({"s1": 20}, 19, 1)
    assert (result.forks, result.integrity_alarms) == ([], [])
    (q,) = store.quarantined()
    assert (q["seq"], q["event_id"]) == (7, tampered.event_id)
    assert q["reason"] == "hash does not match the event's contents"
    assert msgspec.msgpack.decode(bytes(q["raw"]), type=Event) == tampered
    assert [seq for seq, _ in store.station_chain("s1")] == [s for s in range(1, 21) if s != 7]


def test_ids_python_judges_get_the_same_verdict_in_a_batch(store: SqlStore) -> None:
    u = uuid.uuid4()
    braced = _event(1, "{" + str(u) + "}", "scan", AT, canonical_json(event_body("scan")))
    bad = Event(  # no hash can be computed for it: any 32 bytes
        seq=2,
        event_id="not-a-uuid",
        at=AT,
        type="scan",
        body=b"{}",
        prev_hash=braced.hash,
        hash=bytes(range(32)),
    )
    plain = _event(3, str(uuid.uuid4()), "scan", AT, canonical_json(event_body("scan")), bad.hash)
    result = store.commit_batch([("s1", braced), ("s1", bad), ("s1", plain)], [])
    assert (result.acks, result.accepted, result.quarantined) == ({"s1": 3}, 2, 1)
    (q,) = store.quarantined()
    assert (q["seq"], q["reason"]) == (2, "event_id is not a UUID")
