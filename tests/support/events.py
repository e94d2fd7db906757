"""Typed, correctly chained station events committed to a real central store."""

from __future__ import annotations

import uuid
from typing import Any

from central.store.base import SqlStore
from edge.common import protocol as p
from edge.common.chain import GENESIS, canonical_json, chain_hash


class Chain:
    """Correctly chained events of one station, committed to a real store."""

    def __init__(self, store: SqlStore, station: str) -> None:
        self.store, self.station, self.seq, self.prev = store, station, 0, GENESIS

    def add(self, type_: str, **body: Any) -> None:
        self.seq += 1
        event_id, at = str(uuid.uuid4()), f"2026-12-01T10:00:{self.seq:02d}+00:00"
        raw = canonical_json({**body, "station": self.station})
        digest = chain_hash(self.prev, self.seq, event_id, type_, at, raw)
        ev = p.Event(
            seq=self.seq, event_id=event_id, at=at, type=type_, body=raw,
            prev_hash=self.prev, hash=digest,
        )  # fmt: skip
        self.prev = digest
        result = self.store.commit_batch([(self.station, ev)], [])
        assert result.accepted == 1
