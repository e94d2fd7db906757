"""The simulated day's station ports: the built-in wiring, plus the central link when this build's
wiring does not connect one yet.

`[station] ports = "edge.sim_ports:build_ports"`. Everything else is the built-in wiring
(edge/station_wiring.py: the Rust core, the scanner decoder, the scale and printer drivers, the
indicator, central's state from the seed files). If that wiring already has a central link (its
event sink is not the `NoSink` placeholder) it is used unchanged.

The link (edge/link.py) sends the daemon's own journal: it is a service started after the journal
opened, and the daemon's `EventSink.wake` wakes it after each commit. Its state reaches the
workflow as the `central` device (signal `central_offline` while down).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path

from edge import station_wiring
from edge.journal import Journal
from edge.link import LinkState, LinkStatus, StationLink
from edge.ports import StationHandle, StationPorts
from edge.replica import Replica
from edge.station_config import StationConfig

# The built-in wiring's placeholder sink while it has no link of its own (looked up by name so
# this module keeps working once the wiring connects the link itself and drops the placeholder).
_NO_SINK: type | None = getattr(station_wiring, "NoSink", None)

LOG = logging.getLogger(__name__)


class LinkService:
    """EventSink + Service: runs edge.link.StationLink on the daemon's journal."""

    def __init__(self, cfg: StationConfig) -> None:
        self.cfg = cfg
        self.link: StationLink | None = None
        self._central_ok: bool | None = None
        self._station: StationHandle | None = None
        self._tasks: set[asyncio.Task[object]] = set()

    def wake(self, last_seq: int) -> None:
        if self.link is not None:
            self.link.wake()

    async def run(self, station: StationHandle) -> None:
        journal = getattr(station, "journal", None)
        if not isinstance(journal, Journal):
            raise TypeError("the central link needs the daemon's journal")
        state_dir = Path(self.cfg.station.state_dir)
        replica = Replica(Path(self.cfg.link.replica_path or state_dir / "replica.sqlite3"))
        self._station = station
        self.link = StationLink(
            self.cfg.link,
            self.cfg.station.id,
            journal,
            replica,
            on_status=self._status,
            state_dir=state_dir,
        )
        try:
            await self.link.run()
        finally:
            replica.close()

    def _status(self, status: LinkStatus) -> None:
        ok = status.state is LinkState.CONNECTED
        if ok == self._central_ok or self._station is None:
            return
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            return  # the daemon is stopping: the link going down with it is not news
        self._central_ok = ok
        detail = "" if ok else (status.last_error or str(status.state))
        task = asyncio.get_running_loop().create_task(
            self._station.device_state("central", ok, detail)
        )
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        with contextlib.suppress(asyncio.CancelledError):
            if task.exception() is not None:
                LOG.warning("central state not recorded", exc_info=task.exception())


def build_ports(cfg: StationConfig) -> StationPorts:
    ports = station_wiring.build_ports(cfg)
    if _NO_SINK is None or not isinstance(ports.sink, _NO_SINK):
        return ports  # the built-in wiring has its own link
    link = LinkService(cfg)
    return dataclasses.replace(ports, sink=link, services=[*ports.services, link])
