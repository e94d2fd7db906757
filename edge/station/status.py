"""What an operator sees of a running station: `packstation status`, info log lines, metrics.

- `StatusServer`: a Unix stream socket (`<state_dir>/status.sock`, StationPaths.status_socket);
  every connection gets one JSON line, the daemon's status (agent, order, step, outbox depth and
  the oldest unacknowledged event, device states, disk free, last central contact), and is closed.
  Read by `packstation status [--json]`.
- `Observer.committed`: after every committed step, one info log line per login, order loaded,
  halt, override, seal and staging (order status), and the counters of the metrics.
- Metrics in Prometheus text format on [station] metrics_listen (off by default): scans, verdicts
  by kind, halts by code, commit latency, outbox depth, link state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from edge.common.metrics import MetricsServer, Registry, one
from edge.workflow.state import Record

LOG = logging.getLogger("edge.station")
DEVICES = ("scanner", "scale", "printer", "indicator", "central")
LINK_STATES = ("offline", "connected", "auth_failed")


class Daemon(Protocol):
    """What the status reads of edge.station.daemon.Station."""

    def status_info(self) -> dict[str, Any]: ...


def _log_line(record: Record) -> tuple[str, dict[str, Any]] | None:
    """The info line (message, fields) of one journalled event, or None for the rest."""
    b = record.body
    order = {"order": b.get("order_id")} if b.get("order_id") else {}
    if record.type == "login":
        return "login", {"agent": b.get("agent"), "supervisor": b.get("supervisor"), **order}
    if record.type == "order_loaded":
        return "order loaded", {**order, "lines": b.get("lines"), "channel": b.get("channel")}
    if record.type == "halt":
        return "halt", {**order, "code": b.get("code"), "reason": b.get("reason")}
    if record.type == "override":
        return "override", {
            **order,
            "action": b.get("action"),
            "supervisor": b.get("supervisor"),
            "halt_code": b.get("halt_code"),
        }
    if record.type == "seal":
        return "seal", {**order, "ok": b.get("ok")}
    if record.type == "order_status":
        return "order staged", {**order, "status": b.get("status"), "channel": b.get("channel")}
    return None


class Observer:
    """Counts and logs what the daemon committed; serves the status socket and the metrics."""

    def __init__(self, status_socket: Path, metrics_listen: str = "") -> None:
        self.status_socket = status_socket
        self.metrics_listen = metrics_listen
        self.registry = Registry()
        self.scans = self.registry.counter("packstation_scans_total", "Scans taken by the workflow")
        self.verdicts = self.registry.counter(
            "packstation_verdicts_total", "Package scan verdicts, by kind"
        )
        self.halts = self.registry.counter("packstation_halts_total", "Halts, by code")
        self.commit = self.registry.histogram(
            "packstation_commit_seconds", "Journal commit latency of one workflow step"
        )
        self._info: dict[str, Any] = {}
        self.registry.gauge(
            "packstation_outbox_depth",
            "Journalled events central has not acknowledged",
            lambda: one(float(self._info.get("outbox", {}).get("depth") or 0)),
        )
        self.registry.gauge(
            "packstation_link_state", "Central link state (1 = current)", self._link
        )
        self.metrics: MetricsServer | None = None

    def _link(self) -> dict[tuple[tuple[str, str], ...], float]:
        state = str(self._info.get("central", {}).get("state", "offline"))
        return {(("state", s),): float(s == state) for s in LINK_STATES}

    def committed(self, records: list[Record], seconds: float) -> None:
        self.commit.observe(seconds)
        for record in records:
            if record.type == "scan":
                self.scans.inc()
            elif record.type == "verdict":
                self.verdicts.inc(kind=str(record.body.get("verdict", "")))
            elif record.type == "halt":
                self.halts.inc(code=str(record.body.get("code", "")))
            line = _log_line(record)
            if line is not None:
                LOG.info(line[0], extra={k: v for k, v in line[1].items() if v is not None})

    async def run(self, daemon: Daemon) -> None:
        """The status socket (always) and the metrics port (when configured), until cancelled."""
        self.status_socket.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.status_socket.unlink()

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                info = await asyncio.to_thread(daemon.status_info)
                writer.write(json.dumps(info, default=str).encode() + b"\n")
                await writer.drain()
            except Exception:
                LOG.exception("status request failed")
            finally:
                with contextlib.suppress(OSError):
                    writer.close()

        server = await asyncio.start_unix_server(answer, path=str(self.status_socket))
        os.chmod(self.status_socket, 0o660)
        if self.metrics_listen:
            self.metrics = MetricsServer(self.registry, self.metrics_listen)
            await self.metrics.start()
            LOG.info("metrics listening", extra={"address": self.metrics.address})
        try:
            while True:  # keep the gauges' source fresh between scrapes
                self._info = await asyncio.to_thread(daemon.status_info)
                await asyncio.sleep(1)
        finally:
            server.close()
            if self.metrics is not None:
                self.metrics.close()
            with contextlib.suppress(OSError):
                self.status_socket.unlink()


def disk_free(path: Path) -> dict[str, int]:
    usage = shutil.disk_usage(path)
    return {"free_mb": usage.free // (1024 * 1024), "percent_free": usage.free * 100 // usage.total}


def age_s(at: str) -> int | None:
    try:
        return max(0, int((datetime.now(UTC) - datetime.fromisoformat(at)).total_seconds()))
    except ValueError:
        return None


def read_status(path: Path, timeout: float = 5) -> dict[str, Any]:
    """One status answer from a running daemon's socket (OSError when none answers)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        data = b""
        deadline = time.monotonic() + timeout
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status: dict[str, Any] = json.loads(data)
    return status


def station_status(station: Any) -> dict[str, Any]:
    """The status of edge.station.daemon.Station (called off the loop, in a worker thread)."""
    s = station.state
    journal = station.journal
    acked, last = journal.acked_seq(), journal.last_seq()
    oldest = journal.events(acked, 1) if last > acked else []
    order = s.order.order if s.order is not None else None
    info: dict[str, Any] = {
        "station": station.cfg.station.id,
        "pid": os.getpid(),
        "phase": str(s.phase),
        "agent": s.session.agent if s.session is not None else None,
        "order": order.order_id if order is not None else None,
        "step": str(s.phase),
        "outbox": {
            "depth": max(0, last - acked),
            "last_seq": last,
            "acked_seq": acked,
            "oldest_unacked": (
                {"seq": oldest[0].seq, "at": oldest[0].at, "age_s": age_s(oldest[0].at)}
                if oldest
                else None
            ),
        },
        "devices": {d: s.devices_down.get(d, "ok") or "down" for d in DEVICES}
        | {d: v or "down" for d, v in s.devices_down.items()},
        "disk": disk_free(journal.path.parent),
        "orders_refused": s.disk_block or None,
        "central": {"state": "offline" if "central" in s.devices_down else "unknown"},
    }
    for service in station.ports.services:
        report = getattr(service, "status_info", None)
        if callable(report):
            info.update(report())
    return info
