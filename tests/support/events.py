"""Valid event bodies for tests that need events of a real type (edge/common/events.py):
central quarantines a body that does not fit its type, and every unknown type.

SAMPLES holds one complete body per type a test commits (without `station`, and without
`order_id` unless the struct requires it); tests/common/test_event_samples.py checks each fits
its struct exactly."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from central.store.base import SqlStore
from edge.common import protocol as p
from edge.common.chain import GENESIS, canonical_json, chain_hash

if TYPE_CHECKING:
    from edge.common.protocol import Event

SAMPLES: dict[str, dict[str, Any]] = {
    "scan": {
        "kind": "package",
        "raw": "1A4060300002C9B000012345",
        "aim_id": None,
        "device": "test",
        "phase": "picking",
    },
    "seal": {"code": "SEAL-1", "expected": "SEAL-1", "ok": True},
    "device_state": {"device": "scanner", "ok": True, "detail": ""},
    "login": {"agent": "BADGE-1", "name": "Ana", "supervisor": False, "resumes_order": None},
    "order_loaded": {
        "order_id": "A1",
        "source": "queue",
        "channel": "pickup",
        "customer_id": "C-1",
        "lines": 1,
        "order": {"order_id": "A1", "channel": "pickup", "lines": [{"sku": "A", "qty": 1}]},
    },
    "verdict": {
        "raw": "1A4060300002C9B000012345",
        "verdict": "match",
        "line": 1,
        "uid": "1A4060300002C9B000012345",
        "reason": "",
        "candidates": [],
        "outcome": "accepted",
    },
    "halt": {
        "code": "wrong_batch",
        "reason": "batch B2, order wants B1",
        "raw": "1A4060300002C9B000012345",
        "uid": "1A4060300002C9B000012345",
        "line": 1,
        "candidates": [],
        "step": "picking",
    },
    "quarantine": {"uid": "1A4060300002C9B000012345", "code": "wrong_batch", "reason": "batch B2"},
    "supervisor_present": {"supervisor": "BADGE-S", "name": "Sam"},
    "override": {"action": "clear", "supervisor": "BADGE-S", "halt_code": "wrong_batch"},
    "label_requested": {"job_id": "A1-label-1", "attempt": 1},
    "order_status": {"status": "ready_for_pickup", "channel": "pickup"},
}


def body(type_: str = "scan", station: str = "station-01", **extra: Any) -> dict[str, Any]:
    """A body that central accepts for `type_` (a key of SAMPLES), with `extra` fields added."""
    return {**SAMPLES[type_], "station": station, **extra}


def assert_fits(type_: str, body: dict[str, Any], station: str = "station-01") -> None:
    """A journalled body (the workflow's Record, plus the station the daemon adds) is exactly
    its event struct: it decodes, and it has no field the struct does not list."""
    import msgspec

    from edge.common.chain import canonical_json
    from edge.common.events import EVENT_TYPES, decode_body

    full = {"station": station, **body}
    decode_body(type_, canonical_json(full))
    fields = {f.encode_name for f in msgspec.structs.fields(EVENT_TYPES[type_])}
    extra = sorted(set(full) - fields)
    assert not extra, f"{type_}: fields {extra} are not in edge/common/events.py"


def chain(items: list[tuple[str, dict[str, Any]]]) -> list[Event]:
    """Wire events (type, body) chained from the genesis hash, seq from 1."""
    from edge.common.protocol import Event

    out, prev = [], GENESIS
    for seq, (type_, obj) in enumerate(items, start=1):
        event_id, at, raw = str(uuid.uuid4()), "2026-11-22T12:00:00+00:00", canonical_json(obj)
        digest = chain_hash(prev, seq, event_id, type_, at, raw)
        out.append(
            Event(
                seq=seq, event_id=event_id, at=at, type=type_, body=raw, prev_hash=prev, hash=digest
            )
        )
        prev = digest
    return out


class Chain:
    """Correctly chained events of one station, committed to a real store. `add` commits the
    SAMPLES body of its type with the given fields put over it, so every event fits its struct
    and central accepts it; a body that still does not fit fails the test with the reason."""

    def __init__(self, store: SqlStore, station: str) -> None:
        self.store, self.station, self.seq, self.prev = store, station, 0, GENESIS

    def add(self, type_: str, **body: Any) -> None:
        self.seq += 1
        event_id, at = str(uuid.uuid4()), f"2026-12-01T10:00:{self.seq:02d}+00:00"
        from edge.common.events import decode_body

        raw = canonical_json({**SAMPLES.get(type_, {}), **body, "station": self.station})
        decode_body(type_, raw)  # BodyError: the reason central would quarantine it
        digest = chain_hash(self.prev, self.seq, event_id, type_, at, raw)
        ev = p.Event(
            seq=self.seq, event_id=event_id, at=at, type=type_, body=raw,
            prev_hash=self.prev, hash=digest,
        )  # fmt: skip
        self.prev = digest
        result = self.store.commit_batch([(self.station, ev)], [])
        assert result.accepted == 1, result
