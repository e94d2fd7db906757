"""Sold-once test support: a station's journal events as central receives them, and packages.

`Bench` is one station as central sees it: it appends chained events (the station's journal rows,
edge.common.protocol.Event) and commits them to a real central store, keeping the same rows in a
LocalBook, exactly as the daemon's Availability stage folds its own journal.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from central import stock
from central.store.base import SqlStore
from edge.common import protocol as p
from edge.common.chain import GENESIS, canonical_json, chain_hash
from edge.common.protocol import FeedItem
from edge.scan.availability import LocalBook

T0 = "2026-11-22T16:00:00+00:00"


def package(label: str, quantity: object = 1, **extra: Any) -> dict[str, Any]:
    """An INVENTORY.json package (docs/formats.md) of `quantity` units (or grams with
    UnitOfMeasureName "Grams")."""
    return {
        "Label": label,
        "Item": {"Name": f"{label[-5:]} product", "ProductCategoryName": "Flower"},
        "Sku": extra.pop("Sku", "SKU-1"),
        "Batch": extra.pop("Batch", "B-1"),
        "Quantity": quantity,
        "UnitOfMeasureName": extra.pop("UnitOfMeasureName", "Each"),
        "LabTestingState": "TestPassed",
        **extra,
    }


def import_packages(store: SqlStore, packages: list[dict[str, Any]]) -> None:
    """An inventory import (as `central import inventory` commits it)."""
    store.feed_put(
        [
            (FeedItem(kind="package", key=pkg["Label"], body=canonical_json(pkg)), None)
            for pkg in packages
        ]
    )


def served(store: SqlStore, label: str) -> dict[str, Any]:
    """The package as central serves it to every station now."""
    with store._lock:
        row = store._x(
            "SELECT body FROM feed_state WHERE kind = 'package' AND key = ?", (label,)
        ).fetchone()
        store._end_read()
    assert row is not None, f"{label} not served"
    value: dict[str, Any] = json.loads(bytes(row[0]))
    return value


@dataclass
class Bench:
    """One station: chained journal events committed to central, and its own LocalBook."""

    store: SqlStore
    station: str
    seq: int = 0
    prev: bytes = GENESIS
    book: LocalBook = field(init=False)
    offline: list[p.Event] = field(default_factory=list)
    online: bool = True

    def __post_init__(self) -> None:
        self.book = LocalBook(station=self.station)

    def event(self, type_: str, at: str = T0, **body: Any) -> None:
        self.seq += 1
        raw = canonical_json({**body, "station": self.station})
        event_id = str(uuid.uuid4())
        digest = chain_hash(self.prev, self.seq, event_id, type_, at, raw)
        ev = p.Event(
            seq=self.seq,
            event_id=event_id,
            at=at,
            type=type_,
            body=raw,
            prev_hash=self.prev,
            hash=digest,
        )
        self.prev = digest
        self.book.fold(self.seq, type_, json.loads(raw), at)
        self.offline.append(ev)
        if self.online:
            self.flush()

    def flush(self) -> None:
        if self.offline:
            result = self.store.commit_batch([(self.station, ev) for ev in self.offline], [])
            assert result.acks[self.station] == self.seq
            self.offline = []

    def claim(
        self, order_id: str, uid: str, amount: int = 1, unit: int | None = None
    ) -> p.Claimed | None:
        if not self.online:
            return None
        req = p.Claim(
            claim_id=uuid.uuid4().hex, order_id=order_id, uid=uid, amount=amount, unit=unit, at=T0
        )
        return stock.claim(self.store, self.station, req)

    def pick(
        self, order_id: str, uid: str, line: int = 1, unit: int | None = None, at: str = T0
    ) -> None:
        self.event(
            "verdict",
            at,
            order_id=order_id,
            raw=uid,
            uid=uid,
            line=line,
            verdict="match",
            reason="",
            candidates=[],
            outcome="accepted",
            unit=unit,
        )

    def seal(self, order_id: str, at: str = T0) -> None:
        self.event(
            "order_status", at, order_id=order_id, status="ready_for_pickup", channel="pickup"
        )

    def cancel(self, order_id: str, at: str = T0) -> None:
        self.event("order_status", at, order_id=order_id, status="cancelled", channel="pickup")
