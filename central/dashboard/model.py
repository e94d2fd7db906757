"""What the dashboard shows, folded from central's store: stations, orders, halts, quarantines,
and the feed records stations could not use (`feed_record_skipped`, edge/link/usable.py).

`DashboardModel.refresh()` (blocking: run it off the loop) reads the events committed since its
last call and folds them into per-station and per-order state, then re-reads the order queue (the
feed), central's quarantine, and the state-system report queue when that table exists. The result
is one JSON-able dict (`snapshot`), the same for the page, its live updates and the tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from central.stock import CENTRAL
from central.store.base import SqlStore

PAGE = 5000
RECENT = 50  # rows kept in the recent lists (quarantines, finished orders)

# The step a station is at after an event of this type (edge/workflow/machine.py records them).
STEP_AFTER = {
    "order_loaded": "picking",
    "verdict": "picking",
    "weigh_requested": "weighing",
    "weight": "picking",
    "limits": "limits",
    "label_requested": "label",
    "label_printed": "seal",
    "print_failed": "label",
    "halt": "halted",
    "supervisor_present": "override",
}
STATESYS_TABLE = "statesys_jobs"


def _ms_between(earlier: str, later: str) -> int | None:
    try:
        a, b = datetime.fromisoformat(earlier), datetime.fromisoformat(later)
    except ValueError:
        return None
    delta = b - a
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


@dataclass
class StationView:
    station_id: str
    last_type: str = ""
    last_at: str = ""
    last_seq: int = 0
    received_at: str = ""
    agent: str | None = None
    order_id: str | None = None
    step: str = "idle"
    halt: dict[str, Any] | None = None
    devices_down: dict[str, str] = field(default_factory=dict)
    events: int = 0
    feed_skipped: int = 0

    def as_dict(self, online: bool) -> dict[str, Any]:
        return {
            "station_id": self.station_id,
            "online": online,
            "last_event": {"type": self.last_type, "at": self.last_at, "seq": self.last_seq},
            "agent": self.agent,
            "order_id": self.order_id,
            "step": self.step,
            "halt": self.halt,
            "devices_down": dict(sorted(self.devices_down.items())),
            "events": self.events,
            "feed_skipped": self.feed_skipped,
            "lag_ms": _ms_between(self.last_at, self.received_at),
        }


class DashboardModel:
    """The fold; thread-safe (`refresh` runs in a worker thread, `snapshot` anywhere)."""

    def __init__(self, store: SqlStore, online: Callable[[], set[str]] | None = None) -> None:
        self.store = store
        self.online = online or set
        self.cursor = 0
        self.stations: dict[str, StationView] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # order id -> where it is, from events
        self.package_quarantines: list[dict[str, Any]] = []
        self.feed_skipped: list[dict[str, Any]] = []  # the most recent RECENT
        self.feed_skipped_total = 0
        self.version = 0
        self._lock = threading.Lock()
        self._snapshot: dict[str, Any] = {}
        self._digest = ""

    # -- folding -------------------------------------------------------------------------------
    def _fold(self, station_id: str, seq: int, at: str, type_: str, body: dict[str, Any]) -> None:
        if station_id == CENTRAL:
            return  # central's own chain (central/stock.py) is no station; its quarantine is listed
        st = self.stations.setdefault(station_id, StationView(station_id))
        st.last_type, st.last_at, st.last_seq = type_, at, seq
        st.events += 1
        oid = body.get("order_id") if isinstance(body.get("order_id"), str) else None
        if type_ == "order_status":
            st.order_id, st.halt, st.step = None, None, "ready" if st.agent else "idle"
            if oid:
                self.orders[oid] = {"station": station_id, "status": body.get("status"), "at": at}
            return
        self._station_event(st, type_, body, oid, at)
        if type_ in STEP_AFTER and st.order_id:
            st.step = STEP_AFTER[type_]
        elif type_ == "seal" and body.get("ok"):
            st.step = "sealed"
        elif type_ in ("login", "logout") and st.order_id is None:
            st.step = "ready" if st.agent else "idle"
        seen = self.orders.get(st.order_id or "")
        if seen is not None and seen["status"] in ("packing", "halted"):
            seen["status"] = "halted" if st.halt else "packing"
            seen["step"] = st.step

    def _station_event(
        self, st: StationView, type_: str, body: dict[str, Any], oid: str | None, at: str
    ) -> None:
        if type_ == "login":
            st.agent = str(body.get("agent") or "") or None
        elif type_ == "logout":
            st.agent = None
        elif type_ == "order_loaded" and oid:
            st.order_id, st.halt = oid, None
            self.orders[oid] = {"station": st.station_id, "status": "packing", "at": at}
        elif type_ == "halt":
            st.halt = {"code": body.get("code"), "reason": body.get("reason"), "order_id": oid}
            st.halt["at"] = at
        elif type_ == "override" and body.get("action") in ("clear", "resume"):
            st.halt = None
        elif type_ == "quarantine":
            entry = {k: body.get(k) for k in ("uid", "code", "reason")}
            self.package_quarantines.append(
                {"station_id": st.station_id, **entry, "order_id": oid, "at": at}
            )
            del self.package_quarantines[:-RECENT]
        elif type_ == "feed_record_skipped":
            st.feed_skipped += 1
            self.feed_skipped_total += 1
            entry = {k: body.get(k) for k in ("kind", "key", "reason")}
            self.feed_skipped.append({"station_id": st.station_id, **entry, "at": at})
            del self.feed_skipped[:-RECENT]
        elif type_ == "device_state":
            device = str(body.get("device", ""))
            if body.get("ok"):
                st.devices_down.pop(device, None)
            else:
                st.devices_down[device] = str(body.get("detail", ""))

    def _read_events(self) -> None:
        while True:
            page = self.store.events_after(self.cursor, PAGE)
            for ev in page:
                try:
                    body = json.loads(ev.body)
                except ValueError:
                    body = {}
                self._fold(
                    ev.station_id, ev.seq, ev.at, ev.type, body if isinstance(body, dict) else {}
                )
                self.cursor = ev.gseq
            if len(page) < PAGE:
                return

    # -- reading the rest ----------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read what changed; True when the snapshot differs from the last one."""
        with self._lock:
            self._read_events()
            for sid, view in self.stations.items():
                view.received_at = _station_received(self.store, sid) or view.received_at
            snap = {
                "stations": self._stations(),
                "orders": self._orders(),
                "halts": [
                    {"station_id": s.station_id, **s.halt}
                    for s in self.stations.values()
                    if s.halt is not None
                ],
                "quarantine": {
                    "packages": list(reversed(self.package_quarantines)),
                    "frames": _quarantined_frames(self.store),
                },
                "feed_skipped": {
                    "count": self.feed_skipped_total,
                    "recent": list(reversed(self.feed_skipped)),
                },
                "statesys": _statesys(self.store),
                "head": self.cursor,
            }
            digest = json.dumps(snap, sort_keys=True, default=str)
            changed = digest != self._digest
            if changed:
                self._digest, self.version = digest, self.version + 1
            self._snapshot = {**snap, "version": self.version}
            return changed

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._snapshot)

    def _stations(self) -> list[dict[str, Any]]:
        online = self.online()
        names = sorted(set(self.stations) | online)
        return [self.stations.get(n, StationView(n)).as_dict(n in online) for n in names]

    def _orders(self) -> dict[str, Any]:
        queue = []
        for key, station, body in _feed_orders(self.store):
            seen = self.orders.get(key)
            if seen is not None and seen["status"] not in ("packing", "halted"):
                continue  # finished: listed below
            entry: dict[str, Any] = {"order_id": key, "assigned": station}
            try:
                order = json.loads(body)
                entry["lines"] = len(order.get("lines", []))
                entry["channel"] = order.get("channel")
            except (ValueError, AttributeError):
                pass
            if seen is None:
                entry.update(where="queued", status="queued", step=None)
            else:
                entry.update(
                    where=f"at {seen['station']}", status=seen["status"], step=seen.get("step")
                )
            queue.append(entry)
        done = [
            {"order_id": k, "where": f"at {v['station']}", **v}
            for k, v in self.orders.items()
            if v["status"] not in ("packing", "halted")
        ]
        counts: dict[str, int] = {}
        for v in self.orders.values():
            counts[str(v["status"])] = counts.get(str(v["status"]), 0) + 1
        counts["queued"] = sum(1 for e in queue if e["status"] == "queued")
        return {"queue": queue, "finished": done[-RECENT:][::-1], "counts": counts}


# -- store reads (read-only; the store's own lock and connection) -----------------------------


def _rows(store: SqlStore, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with store._lock:
        try:
            return list(store._x(sql, params).fetchall())
        finally:
            store._end_read()


def _station_received(store: SqlStore, station_id: str) -> str:
    rows = _rows(store, "SELECT updated_at FROM stations WHERE station_id = ?", (station_id,))
    return str(rows[0][0]) if rows else ""


def _feed_orders(store: SqlStore) -> list[tuple[str, str | None, bytes]]:
    rows = _rows(
        store, "SELECT key, station, body FROM feed_state WHERE kind = 'order' ORDER BY qseq"
    )
    return [(str(r[0]), r[1], bytes(r[2])) for r in rows]


def _quarantined_frames(store: SqlStore) -> dict[str, Any]:
    (total,) = _rows(store, "SELECT COUNT(*) FROM quarantine")[0]
    recent = _rows(
        store,
        "SELECT id, station_id, seq, reason, received_at FROM quarantine ORDER BY id DESC LIMIT ?",
        (RECENT,),
    )
    keys = ("id", "station_id", "seq", "reason", "received_at")
    return {"count": int(total), "recent": [dict(zip(keys, r, strict=True)) for r in recent]}


def _table_exists(store: SqlStore, name: str) -> bool:
    if store.PARAM == "?":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        sql = "SELECT 1 FROM information_schema.tables WHERE table_name = ?"
    return bool(_rows(store, sql, (name,)))


def _statesys(store: SqlStore) -> dict[str, Any]:
    """The state-system report queue (the METRC bridge's table), or 'not configured'."""
    if not _table_exists(store, STATESYS_TABLE):
        return {"configured": False}
    counts = {
        str(state): int(n)
        for state, n in _rows(store, f"SELECT state, COUNT(*) FROM {STATESYS_TABLE} GROUP BY state")
    }
    open_jobs = _rows(
        store,
        f"SELECT id, kind, station, order_id, state, reason, attempts, created_at"
        f" FROM {STATESYS_TABLE} WHERE state <> 'confirmed' ORDER BY id LIMIT ?",
        (RECENT,),
    )
    keys = ("id", "kind", "station", "order_id", "state", "reason", "attempts", "created_at")
    return {
        "configured": True,
        "counts": counts,
        "open": [dict(zip(keys, r, strict=True)) for r in open_jobs],
    }
