"""The event tail: central's stored station events -> report jobs and POS webhooks.

It reads `events` in gseq order from its own position (`statesys_meta.events_gseq`) and assembles
each order from what the station journalled (docs/journal.md): `order_loaded` (the ORDER.json),
accepted `verdict`s (the packages, Retail ID URLs in `raw`), `weight` (net mg; `child_tag` when the
station scanned a new container's tag at the weigh step), `order_status` (`ready_for_pickup` /
`out_for_delivery` = sealed: a sale; `cancelled` after a sale: an archive), `quarantine` (a move to
the quarantine location) and `count_adjustment` (an absolute adjustment, only with a supervisor's
badge on record). One chunk of events, the orders it touched, the jobs and webhooks it made and the
new position commit in one transaction, so a crash replays the chunk into the same keyed rows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from central.statesys import sale
from central.statesys.store import FAILED, NewJob, ReportStore
from edge.common.protocol import Published

LOG = logging.getLogger(__name__)
SEALED = ("ready_for_pickup", "out_for_delivery")
WEBHOOK_EVENTS = (*SEALED, "cancelled")


@dataclass
class IngestOptions:
    enabled: bool  # a state system is configured (else only webhooks are made)
    timezone: str
    repackage: bool
    quarantine_location: str
    adjustment_reasons: list[str]
    webhooks: bool
    deliveries: bool = False


@dataclass
class Chunk:
    orders: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    jobs: list[NewJob] = field(default_factory=list)
    webhooks: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    voids: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _body(ev: Published) -> dict[str, Any]:
    try:
        body = json.loads(ev.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Ingest:
    """Turns stored events into jobs; `step()` handles one chunk and says how many events."""

    def __init__(self, reports: ReportStore, options: IngestOptions, chunk: int = 500) -> None:
        self.reports = reports
        self.options = options
        self.chunk = chunk

    def step(self) -> int:
        since = int(self.reports.meta("events_gseq", "0"))
        events = self.reports.store.events_after(since, self.chunk)
        if not events:
            return 0
        bodies = [(ev, _body(ev)) for ev in events]
        keys = {(ev.station_id, str(b["order_id"])) for ev, b in bodies if b.get("order_id")}
        out = Chunk(orders=self.reports.orders(keys))
        badges = self._supervisors() if any(ev.type == "count_adjustment" for ev in events) else {}
        for ev, body in bodies:
            try:
                self._event(ev, body, out, badges)
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                # a malformed event must not stop every later report: skip it, loudly
                LOG.error(
                    "station event not usable for state reporting: skipped",
                    extra={
                        "station": ev.station_id,
                        "seq": ev.seq,
                        "type": ev.type,
                        "error": repr(exc),
                    },
                )
                out.problems.append(f"{ev.station_id} seq {ev.seq} ({ev.type}): {exc!r}")
        for problem in out.problems:
            self.reports.alert("event", f"event skipped by the state-system bridge: {problem}")
        created = self.reports.commit_ingest(
            events[-1].gseq, out.orders, out.jobs, out.webhooks, out.voids
        )
        if created:
            LOG.info("state reports queued", extra={"jobs": created, "gseq": events[-1].gseq})
        return len(events)

    def _supervisors(self) -> dict[str, bool]:
        with self.reports._read():
            rows = self.reports._x(
                "SELECT key, body FROM feed_state WHERE kind = 'badge'"
            ).fetchall()
        return {str(k): bool(json.loads(bytes(b)).get("supervisor")) for k, b in rows}

    def _event(
        self, ev: Published, body: dict[str, Any], out: Chunk, badges: dict[str, bool]
    ) -> None:
        if ev.type == "quarantine":
            self._quarantine(ev, body, out)
            return
        if ev.type == "count_adjustment":
            self._adjustment(ev, body, out, badges)
            return
        oid = body.get("order_id")
        if not oid or ev.type not in (
            "order_loaded",
            "verdict",
            "weight",
            "child_tag",
            "order_status",
        ):
            return
        key = (ev.station_id, str(oid))
        asm = out.orders.setdefault(
            key, {"station": ev.station_id, "order_id": str(oid), "picks": [], "weights": {}}
        )
        if asm.get("sealed") and ev.type != "order_status":
            return  # the order is reported as sealed: later picks cannot change the receipt
        if ev.type == "order_loaded":
            asm["order"] = body.get("order") or asm.get("order") or {}
            asm["loaded_at"] = ev.at
            _carry_picked(asm)
        elif ev.type == "verdict" and body.get("outcome") in ("accepted", "accepted_with_warning"):
            asm["picks"].append({"line": body.get("line"), "uid": body["uid"], "raw": body["raw"]})
        elif ev.type == "weight" and body.get("ok"):
            asm["weights"][f"{body.get('line')}:{body.get('uid')}"] = {
                "net_mg": int(body["net_mg"]),
                "child_tag": body.get("child_tag"),
            }
        elif ev.type == "child_tag" and body.get("child_tag"):
            asm.setdefault("child_tags", {})[f"{body.get('line')}:{body.get('uid')}"] = str(
                body["child_tag"]
            )
        elif ev.type == "order_status":
            self._status(ev, body, asm, out)

    def _status(self, ev: Published, body: dict[str, Any], asm: dict[str, Any], out: Chunk) -> None:
        status = str(body.get("status"))
        was_sealed = bool(asm.get("sealed"))
        asm["status"], asm["status_at"] = status, ev.at
        if status in SEALED and not was_sealed:
            asm["sealed"] = True
            if self.options.enabled and asm.get("picks"):
                packages = self.reports.package_bodies([p["uid"] for p in asm["picks"]])
                out.jobs += sale.sale_jobs(
                    asm,
                    packages,
                    self.options.timezone,
                    self.options.repackage,
                    self.options.deliveries,
                )
        elif status == "cancelled" and was_sealed and self.options.enabled:
            out.voids.append((asm["station"], asm["order_id"]))
        if self.options.webhooks and status in WEBHOOK_EVENTS:
            out.webhooks.append(webhook(status, asm, ev.at))

    def _quarantine(self, ev: Published, body: dict[str, Any], out: Chunk) -> None:
        uid = body.get("uid")
        location = self.options.quarantine_location
        if not (self.options.enabled and location and isinstance(uid, str) and uid):
            return
        note = f"quarantined at {ev.station_id}: {body.get('code')}: {body.get('reason')}"
        out.jobs.append(
            NewJob(
                key=f"move:{ev.station_id}:{ev.seq}",
                kind="move",
                station=ev.station_id,
                order_id=str(body.get("order_id") or ""),
                external=uid,
                packages=[uid],
                body={"label": uid, "location": location, "note": note[:250]},
                origin_at=ev.at,
            )
        )

    def _adjustment(
        self, ev: Published, body: dict[str, Any], out: Chunk, badges: dict[str, bool]
    ) -> None:
        """A cycle-count correction: absolute (`PUT /packages/v2/adjust`), supervisor-gated."""
        if not self.options.enabled:
            return
        label = str(body.get("uid") or body.get("label") or "")
        supervisor = str(body.get("supervisor") or "")
        reason = str(body.get("reason") or "")
        problem = ""
        if not supervisor or not badges.get(supervisor):
            problem = "not sent: no supervisor's badge on record for this adjustment"
        elif reason not in self.options.adjustment_reasons:
            problem = f"not sent: reason {reason!r} is not in [state_system] adjustment_reasons"
        adjust = {
            "Label": label,
            "Quantity": body.get("quantity"),
            "UnitOfMeasure": body.get("unit", "Each"),
            "AdjustmentReason": reason,
            "AdjustmentDate": ev.at[:10],
            "ReasonNote": body.get("note") or f"cycle count at {ev.station_id} by {supervisor}",
        }
        out.jobs.append(
            NewJob(
                key=f"adjust:{ev.station_id}:{ev.seq}",
                kind="adjust",
                station=ev.station_id,
                order_id="",
                external=label,
                packages=[label],
                body={"adjust": adjust},
                origin_at=ev.at,
                state=FAILED if problem else "pending",
                reason=problem,
            )
        )


def _carry_picked(asm: dict[str, Any]) -> None:
    """An order loaded with `lines[].picked` (packed in part elsewhere, docs/formats.md) starts with
    those packages accepted: count them unless this station's own verdicts already did."""
    lines = (asm.get("order") or {}).get("lines") or []
    for i, line in enumerate(lines if isinstance(lines, list) else []):
        picked = line.get("picked") if isinstance(line, dict) else None
        if not isinstance(picked, list):
            continue
        number = line.get("line", i + 1)
        have = [p["uid"] for p in asm["picks"] if p.get("line") == number]
        for uid in picked:
            if isinstance(uid, str) and uid:
                if uid in have:
                    have.remove(uid)
                else:
                    asm["picks"].append({"line": number, "uid": uid, "raw": uid})


def webhook(event: str, asm: dict[str, Any], at: str) -> tuple[str, str, dict[str, Any]]:
    """(idempotency key, event, body) of one POS webhook."""
    station, order_id = asm["station"], asm["order_id"]
    key = f"{event}:{station}:{order_id}"
    body = {
        "event": event,
        "order_id": order_id,
        "station": station,
        "at": at,
        "idempotency_key": key,
    }
    return key, event, body
