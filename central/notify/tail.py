"""What becomes a notification: one pass over what is new since the last pass."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from central.notify.config import NotifySection
from central.statesys.store import ReportStore
from edge.common import events as ev

CURSOR = "notify_gseq"  # statesys_meta name of the tail's position in the stored events
CHUNK = 500


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(int(t), UTC).isoformat()


class NotifyTail:
    def __init__(
        self,
        section: NotifySection,
        reports: ReportStore,
        last_contact: dict[str, float],
        started: float,
        stations: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.cfg = section
        self.reports = reports
        self.last_contact = last_contact  # station -> time of its last message (central/service)
        self.started = started
        self.known = stations  # the allowed stations (central's key ring)
        self.halt_kinds = set(section.halt_kinds)

    def rows(self, source: str, note: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """One outbox row per target for the notification `source` (its unique key)."""
        body = {**note, "key": source}
        return [
            (f"notify:{t}:{source}", f"notify:{t}:{note['kind']}", body) for t in self.cfg.targets
        ]

    def poll_once(self) -> int:
        """Queue what is new; returns the number of notifications queued (per target once)."""
        queued = self._events()
        queued += self._offline()
        if self.cfg.state_report_failures:
            queued += self._state_system()
        return queued

    def _events(self) -> int:
        total = 0
        while True:
            after = int(self.reports.meta(CURSOR, "0"))
            batch = self.reports.store.events_after(after, CHUNK)
            if not batch:
                return total
            out: list[tuple[str, str, dict[str, Any]]] = []
            for pub in batch:
                note = self._of_event(pub.type, pub.body)
                if note is not None:
                    note.update(station=pub.station_id, at=pub.at)
                    out += self.rows(f"event:{pub.gseq}", note)
                    total += 1
            self.reports.add_webhooks(out, {CURSOR: str(batch[-1].gseq)})

    def _of_event(self, type_: str, raw: bytes) -> dict[str, Any] | None:
        if type_ not in ("halt", "quarantine"):
            return None
        try:
            body = ev.decode_body(type_, raw)
        except ev.BodyError:
            return None
        if isinstance(body, ev.Halt) and body.code in self.halt_kinds:
            return {
                "kind": "halt",
                "subject": f"halt {body.code} on order {body.order_id}",
                "text": body.reason,
                "order_id": body.order_id,
                "code": body.code,
            }
        if isinstance(body, ev.Quarantine) and self.cfg.quarantines:
            return {
                "kind": "quarantine",
                "subject": f"package {body.uid} quarantined",
                "text": body.reason,
                "order_id": body.order_id,
                "code": body.code,
                "uid": body.uid,
            }
        return None

    def _offline(self) -> int:
        limit_s = self.cfg.station_offline_min * 60
        if not limit_s:
            return 0
        now = time.time()
        out: list[tuple[str, str, dict[str, Any]]] = []
        for station in sorted(self._stations()):
            seen = self.last_contact.get(station, self.started)
            if now - seen >= limit_s:
                minutes = int(now - seen) // 60
                note = {
                    "kind": "station_offline",
                    "subject": f"station {station} offline for {minutes} min",
                    "text": f"no message from {station} since {_stamp(seen)}",
                    "station": station,
                    "at": _stamp(now),
                }
                out += self.rows(f"offline:{station}:{int(seen)}", note)  # once per outage
        if out:
            self.reports.add_webhooks(out)
        return len(out) // max(1, len(self.cfg.targets))

    def _stations(self) -> set[str]:
        return set(self.last_contact) | set(self.known())

    def _state_system(self) -> int:
        out: list[tuple[str, str, dict[str, Any]]] = []
        for job in self.reports.jobs(state="failed"):
            note = {
                "kind": "state_report_failed",
                "subject": f"state-system report {job.kind} of order {job.order_id} failed",
                "text": job.reason,
                "station": job.station,
                "order_id": job.order_id,
                "at": job.updated_at,
            }
            out += self.rows(f"statesys:{job.key}:{job.attempts}", note)
        for alert in self.reports.alerts():
            note = {
                "kind": "state_alert",
                "subject": f"state system: {alert['kind']}",
                "text": alert["message"],
                "at": alert["at"],
            }
            out += self.rows(f"alert:{alert['id']}", note)
        if out:
            self.reports.add_webhooks(out)
        return len(out) // max(1, len(self.cfg.targets))
