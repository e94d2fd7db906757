"""One pass over central's stored events, folded per order: who packed it, when it was sealed,
where it was staged, when and by whom it was released, what was sold, every halt and override.

The events are the station journals as central stored them (edge/common/events.py); a body that
does not decode is skipped here (central quarantined it on ingest).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from central.store.base import SqlStore
from edge.common import events as ev
from edge.common.protocol import Published


@dataclass
class Halt:
    station: str
    order_id: str
    at: str
    code: str
    reason: str
    uid: str | None
    cleared_by: str | None = None  # the supervisor badge of the override that ended it
    action: str | None = None  # clear / cancel; None = still open


@dataclass
class Sold:
    uid: str
    line: int
    order_id: str
    net_mg: int | None  # weighed-out lines


@dataclass
class OrderRow:
    order_id: str
    station: str = ""
    channel: str = ""
    received: str = ""  # loaded at the station (order_loaded)
    packed_by: str = ""  # the agent logged in when it was loaded
    sealed: str = ""
    staged: str = ""
    location: str = ""
    status: str = ""  # ready_for_pickup / out_for_delivery / cancelled
    released: str = ""
    released_how: str = ""  # picked_up / departed
    released_by: str = ""
    driver: str = ""
    seal_code: str = ""
    picks: list[Sold] = field(default_factory=list)


@dataclass
class Ledger:
    orders: dict[str, OrderRow] = field(default_factory=dict)
    halts: list[Halt] = field(default_factory=list)
    release_refusals: list[dict[str, Any]] = field(default_factory=list)
    quarantines: list[dict[str, Any]] = field(default_factory=list)
    counts: list[dict[str, Any]] = field(default_factory=list)  # closed cycle counts

    def order(self, order_id: str) -> OrderRow:
        return self.orders.setdefault(order_id, OrderRow(order_id=order_id))


def stored_events(store: SqlStore, batch: int = 5000) -> Iterator[Published]:
    position = 0
    while rows := store.events_after(position, batch):
        yield from rows
        position = rows[-1].gseq


class _Folder:
    """Applies one decoded event at a time to a ledger (one method per kind of event)."""

    def __init__(self) -> None:
        self.led = Ledger()
        self.agents: dict[str, str] = {}  # station -> agent logged in
        self.weights: dict[tuple[str, str, int], int] = {}

    def apply(self, pub: Published, body: ev.EventBody) -> None:
        st, oid, led = pub.station_id, body.order_id, self.led
        if isinstance(body, ev.Login):
            self.agents[st] = body.agent
        elif isinstance(body, ev.OrderLoaded):
            row = led.order(body.order_id)
            row.station, row.channel, row.received = st, body.channel, pub.at
            row.packed_by, row.picks = self.agents.get(st, ""), []
        elif isinstance(body, ev.CountClosed):
            led.counts.append(
                {
                    "station": st,
                    "at": pub.at,
                    "count_id": body.count_id,
                    "scope": body.scope,
                    "supervisor": body.supervisor,
                    "counted": body.counted,
                    "missing": list(body.missing),
                    "unexpected": [u[0] for u in body.unexpected],
                    "wrong_place": [w[0] for w in body.wrong_place],
                    "approved_by": None,
                }
            )
        elif isinstance(body, ev.CountReviewed) and body.action == "approve":
            for count in led.counts:
                if count["count_id"] == body.count_id and count["station"] == st:
                    count["approved_by"] = body.supervisor
        elif isinstance(body, ev.ReleaseRefused):
            led.release_refusals.append(
                {
                    "station": st,
                    "at": pub.at,
                    "code": body.code,
                    "reason": body.reason,
                    "order_id": oid,
                }
            )
        elif oid is not None:
            self._order_event(pub, oid, body)

    def _order_event(self, pub: Published, oid: str, body: ev.EventBody) -> None:
        st, led = pub.station_id, self.led
        if isinstance(body, ev.Weight) and body.ok:
            self.weights[(st, oid, body.line)] = body.net_mg
        elif isinstance(body, ev.Verdict) and body.outcome != "halt" and body.line is not None:
            sold = Sold(uid=body.uid or body.raw, line=body.line, order_id=oid, net_mg=None)
            led.order(oid).picks.append(sold)
        elif isinstance(body, ev.Seal) and body.ok:
            row = led.order(oid)
            row.sealed, row.seal_code = pub.at, body.code
        elif isinstance(body, ev.OrderStaged):
            row = led.order(oid)
            row.staged, row.location = pub.at, body.location
        elif isinstance(body, ev.OrderStatus):
            led.order(oid).status = body.status
        elif isinstance(body, ev.PickedUp | ev.Departed):
            row = led.order(oid)
            row.released, row.released_by, row.location = pub.at, body.agent, body.location
            row.released_how = "departed" if isinstance(body, ev.Departed) else "picked_up"
            row.driver = body.driver if isinstance(body, ev.Departed) else ""
        elif isinstance(body, ev.Halt):
            led.halts.append(
                Halt(st, oid, pub.at, code=body.code, reason=body.reason, uid=body.uid)
            )
        elif isinstance(body, ev.Override) and body.action in ("clear", "cancel"):
            for halt in reversed(led.halts):
                if halt.station == st and halt.order_id == oid and halt.action is None:
                    halt.cleared_by, halt.action = body.supervisor, body.action
                    break
        elif isinstance(body, ev.Quarantine):
            led.quarantines.append(
                {"station": st, "at": pub.at, "uid": body.uid, "code": body.code, "order_id": oid}
            )

    def finish(self) -> Ledger:
        for (st, oid, line), net in self.weights.items():
            row = self.led.orders.get(oid)
            if row is None or row.station != st:
                continue
            for pick in row.picks:
                if pick.line == line and pick.net_mg is None:
                    pick.net_mg = net
        return self.led


def fold(events: Iterable[Published], day: str | None = None) -> Ledger:
    """The ledger of `events`; with `day` (YYYY-MM-DD, UTC), only orders loaded that day."""
    folder = _Folder()
    for pub in events:
        try:
            body = ev.decode_body(pub.type, pub.body)
        except ev.BodyError:
            continue
        folder.apply(pub, body)
    led = folder.finish()
    if day is not None:
        keep = {k for k, r in led.orders.items() if r.received[:10] == day}
        led.orders = {k: v for k, v in led.orders.items() if k in keep}
        led.halts = [h for h in led.halts if h.order_id in keep]
        led.quarantines = [q for q in led.quarantines if q.get("order_id") in keep]
        led.release_refusals = [r for r in led.release_refusals if r["at"][:10] == day]
        led.counts = [c for c in led.counts if c["at"][:10] == day]
    return led


def bag_locations(store: SqlStore) -> dict[str, dict[str, Any]]:
    """Where every staged bag is: order id -> station, location, seal code, staged at, released
    (how, when, by whom; "" while it is still on its shelf or in its bin)."""
    led = fold(stored_events(store))
    return {
        r.order_id: msgspec.to_builtins(
            {
                "station": r.station,
                "location": r.location,
                "seal_code": r.seal_code,
                "staged_at": r.staged,
                "released": r.released_how,
                "released_at": r.released,
                "released_by": r.released_by,
                "driver": r.driver or None,
            }
        )
        for r in led.orders.values()
        if r.staged
    }
