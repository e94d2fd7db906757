"""Central's Prometheus metrics on [central] metrics_listen (off by default).

Counted from the store when scraped (events committed since the last scrape are read off the
loop): scans, verdicts by kind and halts by code across stations, feed records skipped by
station and kind; the commit latency histogram
from the committer; stations connected (the link state), events quarantined, and the
state-system report queue by state when the METRC bridge's table exists.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable

from central.dashboard.model import STATESYS_TABLE, _rows, _table_exists
from central.store.base import SqlStore
from edge.common.metrics import Labels, MetricsServer, Registry, one


class CentralMetrics:
    def __init__(self, store: SqlStore, connected: Callable[[], int]) -> None:
        self.store = store
        self.registry = Registry()
        self.cursor = 0
        self._lock = threading.Lock()
        self.scans = self.registry.counter(
            "packstation_central_scans_total", "Scan events stored, by station"
        )
        self.verdicts = self.registry.counter(
            "packstation_central_verdicts_total", "Verdict events stored, by kind"
        )
        self.halts = self.registry.counter(
            "packstation_central_halts_total", "Halt events stored, by code"
        )
        self.skipped = self.registry.counter(
            "packstation_central_feed_records_skipped_total",
            "Feed records a station could not use and skipped (feed_record_skipped), by station"
            " and kind",
        )
        self.commit = self.registry.histogram(
            "packstation_central_commit_seconds", "Group commit latency (one transaction)"
        )
        self.registry.gauge(
            "packstation_central_stations_connected",
            "Stations with a live session (HELLO answered)",
            lambda: one(float(connected())),
        )
        self.registry.gauge(
            "packstation_central_quarantined", "Messages in the quarantine", self._quarantined
        )
        self.registry.gauge(
            "packstation_central_statesys_jobs",
            "State-system report jobs by state (absent: not configured)",
            self._statesys,
        )

    def catch_up(self) -> None:
        """Count the events stored since the last call (blocking: run it off the loop)."""
        with self._lock:
            while True:
                page = self.store.events_after(self.cursor, 5000)
                for ev in page:
                    self.cursor = ev.gseq
                    if ev.type not in ("scan", "verdict", "halt", "feed_record_skipped"):
                        continue
                    try:
                        body = json.loads(ev.body)
                    except ValueError:
                        continue
                    if ev.type == "scan":
                        self.scans.inc(station=ev.station_id)
                    elif ev.type == "feed_record_skipped":
                        self.skipped.inc(station=ev.station_id, kind=str(body.get("kind", "")))
                    elif ev.type == "verdict":
                        self.verdicts.inc(kind=str(body.get("verdict", "")))
                    else:
                        self.halts.inc(code=str(body.get("code", "")))
                if len(page) < 5000:
                    return

    def _quarantined(self) -> dict[Labels, float]:
        return one(float(self.store.counts()["quarantined"]))

    def _statesys(self) -> dict[Labels, float]:
        if not _table_exists(self.store, STATESYS_TABLE):
            return {}
        rows = _rows(self.store, f"SELECT state, COUNT(*) FROM {STATESYS_TABLE} GROUP BY state")
        return {(("state", str(state)),): float(n) for state, n in rows}


class CentralMetricsServer(MetricsServer):
    """The metrics port; each scrape first catches up with the store, off the loop."""

    def __init__(self, metrics: CentralMetrics, listen: str) -> None:
        super().__init__(metrics.registry, listen)
        self.metrics = metrics

    async def render(self) -> str:
        await asyncio.to_thread(self.metrics.catch_up)
        return await asyncio.to_thread(self.registry.render)
