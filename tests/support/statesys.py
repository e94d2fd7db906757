"""Helpers for the state-system bridge tests: station events written into a real central store
(hash-chained, as a station's link would deliver them), a vault, and the bridge's pieces wired to
a real METRC emulator over HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from central.statesys.bridge import Bridge
from central.statesys.emulator import MetrcEmulator
from central.statesys.ingest import Ingest, IngestOptions
from central.statesys.metrc import MetrcClient
from central.statesys.store import ReportStore
from central.store import SqlStore, open_store
from edge.common.chain import GENESIS, canonical_json, chain_hash
from edge.common.protocol import Event, FeedItem

LICENSE = "050-X0001"
VENDOR, USER = "vendor-key-for-tests", "user-key-for-tests"
TZ = "America/Chicago"


def tag(n: int, prefix: str = "1A4060300002C9B") -> str:
    return prefix + format(n, "X").rjust(24 - len(prefix), "0")


def package(label: str, qty: int | str = 1, unit: str = "Each", **extra: Any) -> dict[str, Any]:
    return {
        "Label": label,
        "PackageType": "Product",
        "Quantity": qty,
        "UnitOfMeasureName": unit,
        "IsOnHold": False,
        "LabTestingState": "TestPassed",
        "Item": {"Name": f"item of {label[-4:]}"},
        "Sku": "SKU-" + unit,
        "Batch": "B-1",
        **extra,
    }


class StationEvents:
    """A station's journal, as events committed into central's store."""

    def __init__(
        self, store: SqlStore, station: str = "station-01", real_clock: bool = False
    ) -> None:
        self.store = store
        self.real_clock = real_clock
        self.station = station
        self.seq = store.last_committed(station)
        self.prev = GENESIS
        if self.seq:
            chain = store.station_chain(station)
            self.prev = chain[-1][1]
        self.clock = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)

    def add(self, type_: str, quarantined: bool = False, **body: Any) -> Event:
        self.seq += 1
        self.clock = datetime.now(UTC) if self.real_clock else self.clock + timedelta(seconds=7)
        at = self.clock.isoformat(timespec="microseconds")
        raw = canonical_json({"station": self.station, **body})
        event_id = str(uuid.uuid4())
        digest = chain_hash(self.prev, self.seq, event_id, type_, at, raw)
        ev = Event(
            seq=self.seq,
            event_id=event_id,
            at=at,
            type=type_,
            body=raw,
            prev_hash=self.prev,
            hash=digest,
        )
        self.prev = digest
        result = self.store.commit_batch([(self.station, ev)], [])
        if quarantined:  # central's ingest refuses the body (edge/common/events.py)
            assert result.accepted == 0 and result.quarantined == 1, result
        else:
            assert result.accepted == 1, result
        return ev

    def sealed_order(
        self,
        order_id: str,
        picks: list[str],
        weights: dict[str, int] | None = None,
        child_tags: dict[str, str] | None = None,
        channel: str = "pickup",
        customer_class: str = "adult",
        raws: dict[str, list[str]] | None = None,
    ) -> None:
        """order_loaded, one accepted verdict per pick (a weight for weighed ones), sealed."""
        weights, child_tags, raws = weights or {}, child_tags or {}, raws or {}
        lines = [
            {"line": i + 1, "uid": uid, "weigh": uid in weights, "price": "10.00"}
            for i, uid in enumerate(dict.fromkeys(picks))
        ]
        line_of = {ln["uid"]: ln["line"] for ln in lines}
        order = {
            "order_id": order_id,
            "channel": channel,
            "customer": {"id": "C-1", "class": customer_class},
            "lines": lines,
        }
        self.add(
            "order_loaded",
            order_id=order_id,
            source="queue",
            channel=channel,
            customer_id="C-1",
            lines=len(lines),
            order=order,
        )
        used: dict[str, int] = {}
        for uid in picks:
            n = used.get(uid, 0)
            used[uid] = n + 1
            raw = raws.get(uid, [uid] * (n + 1))[n] if uid in raws else uid
            self.add(
                "verdict",
                order_id=order_id,
                raw=raw,
                verdict="match",
                line=line_of[uid],
                uid=uid,
                reason="",
                candidates=[],
                outcome="accepted",
            )
            if uid in weights:
                self.add(
                    "weight",
                    order_id=order_id,
                    line=line_of[uid],
                    uid=uid,
                    net_mg=weights[uid],
                    labelled_mg=None,
                    min_mg=weights[uid],
                    max_mg=weights[uid],
                    ok=True,
                    reason="",
                    child_tag=child_tags.get(uid),
                )
        status = "ready_for_pickup" if channel == "pickup" else "out_for_delivery"
        self.add(
            "seal", order_id=order_id, code=f"SEAL-{order_id}", expected=f"SEAL-{order_id}", ok=True
        )
        self.add("order_status", order_id=order_id, status=status, channel=channel)

    def cancel(self, order_id: str) -> None:
        self.add("order_status", order_id=order_id, status="cancelled", channel="pickup")


def import_inventory(store: SqlStore, packages: list[dict[str, Any]]) -> None:
    store.feed_put(
        [(FeedItem(kind="package", key=p["Label"], body=canonical_json(p)), None) for p in packages]
    )


def options(**kw: Any) -> IngestOptions:
    base: dict[str, Any] = {
        "enabled": True,
        "timezone": TZ,
        "repackage": False,
        "quarantine_location": "Quarantine",
        "adjustment_reasons": ["Entry Error", "Scale Variance"],
        "webhooks": False,
    }
    base.update(kw)
    return IngestOptions(**base)


@dataclass
class Rig:
    """A real SQLite central store, the bridge's pieces and a METRC emulator over HTTP."""

    store: SqlStore
    reports: ReportStore
    emulator: MetrcEmulator
    client: MetrcClient
    bridge: Bridge
    ingest: Ingest
    station: StationEvents
    extra: dict[str, Any] = field(default_factory=dict)

    async def drain(self, rounds: int = 200) -> None:
        """Ingest everything, then run bridge rounds until nothing is runnable now."""
        while self.ingest.step():
            pass
        for _ in range(rounds):
            if not await self.bridge.round():
                return

    async def close(self) -> None:
        await self.client.close()
        await self.emulator.stop()
        self.store.close()


async def make_rig(
    root: Path,
    packages: list[dict[str, Any]],
    timeout_s: float = 1.0,
    store_url: str | None = None,
    **opts: Any,
) -> Rig:
    store = open_store(store_url or f"sqlite://{root / 'central.sqlite3'}")
    import_inventory(store, packages)
    emulator = MetrcEmulator(VENDOR, USER)
    emulator.facility(LICENSE, CanCreateDerivedPackages=bool(opts.get("repackage")))
    emulator.load_packages(LICENSE, packages)
    url = await emulator.start()
    client = MetrcClient(url, LICENSE, VENDOR, USER, timeout_s=timeout_s)
    reports = ReportStore(store)
    bridge = Bridge(reports, client, base_backoff_s=0.0, max_backoff_s=0.0)
    return Rig(
        store=store,
        reports=reports,
        emulator=emulator,
        client=client,
        bridge=bridge,
        ingest=Ingest(reports, options(**opts)),
        station=StationEvents(store),
    )


def wholesale(station: StationEvents, order_id: str, buyer: str, gross: dict[str, int]) -> None:
    """What the station journals for a wholesale order packed and sealed `ready_to_ship`."""
    lines = [
        {"line": i + 1, "uid": uid, "weigh": True, "gross": True} for i, uid in enumerate(gross)
    ]
    order = {
        "order_id": order_id,
        "channel": "wholesale",
        "customer": {"id": "B-1", "name": "Green Shelf"},
        "buyer": {"license": buyer, "name": "Green Shelf"},
        "ship_date": "2026-12-03",
        "lines": lines,
    }
    station.add(
        "order_loaded",
        order_id=order_id,
        source="queue",
        channel="wholesale",
        customer_id="B-1",
        lines=len(lines),
        order=order,
    )
    for line in lines:
        uid = line["uid"]
        station.add(
            "verdict",
            order_id=order_id,
            raw=uid,
            verdict="match",
            line=line["line"],
            uid=uid,
            reason="",
            candidates=[],
            outcome="accepted",
        )
        station.add(
            "weight",
            order_id=order_id,
            line=line["line"],
            uid=uid,
            net_mg=gross[uid],
            labelled_mg=None,
            min_mg=gross[uid],
            max_mg=gross[uid],
            ok=True,
            reason="",
            child_tag=None,
        )
    station.add("order_status", order_id=order_id, status="ready_to_ship", channel="wholesale")
