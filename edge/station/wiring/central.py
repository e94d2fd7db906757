"""Central in the station daemon: the link as a Service and EventSink, the replica as CentralState.

- `LinkService`: runs `edge.link.client.StationLink` on the daemon's loop with its own connection to the
  journal (the outbox), wakes it after every commit, and reports the link's state as
  `device_state central` (ok when connected; the `central_offline` signal otherwise). Without its
  CURVE keys the link cannot start: central is reported offline with the reason and the station
  packs on, every event kept in the journal.
- `ReplicaCentral`: badges, orders and the vault inventory from the replica central keeps up to
  date (`edge.link.replica`); the Rust core's Inventory is built from the replica's rows and kept
  up to date from the feed's package changes, off the loop (`edge.link.replica_inventory`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from edge.common import labs
from edge.common import protocol as p
from edge.common.errors import ConfigError
from edge.common.labs import LabResult
from edge.journal import Journal, JournalEvent
from edge.link.client import LinkState, LinkStatus, StationLink, load_link_keys
from edge.link.replica import Replica
from edge.link.replica_inventory import ReplicaIndex
from edge.scan import Inventory
from edge.station.config import StationConfig, StationPaths
from edge.station.one_input import own_cancel
from edge.station.ports import StationHandle
from edge.station.wiring.finished_orders import from_journal, load_finished, save_finished
from edge.station.wiring.printer import label_fields_of
from edge.workflow.ports import Badge, Order

LOG = logging.getLogger(__name__)
NEVER = datetime.min.replace(tzinfo=UTC)  # ask the replica for expired badges too
REPLICA_POLL_S = 1.0
INDEX_SNAPSHOT = "replica-index.bin"  # the inventory index's snapshot, beside the replica
FEED_SKIPPED_SHOWN = 10  # the most recent skipped feed records `packstation status` lists


class LinkService:
    """edge.station.ports.Service + EventSink around the central link (see the module docstring)."""

    def __init__(self, cfg: StationConfig, replica: Replica) -> None:
        self.cfg = cfg
        self.replica = replica
        self.link: StationLink | None = None
        self._station: StationHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reported: tuple[bool, str] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.last_contact = ""  # when the link last reported itself connected (ISO 8601 UTC)
        # feed records this station skipped since it started (edge.link.usable): status shows them
        self.feed_skipped: deque[dict[str, object]] = deque(maxlen=FEED_SKIPPED_SHOWN)
        self.feed_skipped_total = 0

    def _skipped(self, record: dict[str, object]) -> None:
        self.feed_skipped.append(record)
        self.feed_skipped_total += 1

    def status_info(self) -> dict[str, Any]:
        """The link's part of `packstation status`."""
        skipped = {
            "feed_skipped": {
                "count": self.feed_skipped_total,
                "recent": [
                    {k: r.get(k) for k in ("kind", "key", "reason", "at", "seq")}
                    for r in reversed(self.feed_skipped)
                ],
            }
        }
        if self.link is None:
            return {
                "central": {"state": "not started", "last_contact": self.last_contact or None},
                **skipped,
            }
        st = self.link.status()
        return {
            **skipped,
            "central": {
                "state": str(st.state),
                "endpoint": st.endpoint,
                "last_contact": self.last_contact or None,
                "last_error": st.last_error or None,
                "reconnects": st.reconnects,
            },
        }

    def wake(self, committed: Sequence[JournalEvent]) -> None:
        if self.link is not None:
            self.link.wake(committed)  # on the loop: sent from memory (edge.link.tail)

    async def run(self, station: StationHandle) -> None:
        self._station, self._loop = station, asyncio.get_running_loop()
        paths = StationPaths.of(self.cfg)
        try:
            keys = await asyncio.to_thread(load_link_keys, paths.secret_key, paths.server_key)
        except ConfigError as exc:
            detail = "link not started: " + "; ".join(exc.problems)
            LOG.error("central link not started", extra={"error": str(exc)})
            await station.device_state("central", False, detail)
            await asyncio.get_running_loop().create_future()  # idle until shutdown
            return
        journal = await asyncio.to_thread(Journal, paths.journal)
        try:
            self.link = StationLink(
                self.cfg.link,
                self.cfg.station.id,
                journal,
                self.replica,
                on_status=self._on_status,
                keys=keys,
            )
            self.link.on_skipped = self._skipped
            await station.device_state("central", False, "connecting")
            await self.link.run()
        finally:
            self.link = None
            await asyncio.to_thread(journal.close)

    def can_claim(self) -> bool:
        """Whether central would hear a claim now (edge.link.client.StationLink.can_claim)."""
        link = self.link
        return link is not None and link.can_claim()

    async def claim(self, claim: p.Claim) -> p.Claimed | None:
        """Reserve a package at central (edge.link.client.StationLink.claim); None offline."""
        link = self.link
        return None if link is None else await link.claim(claim)

    async def anchor(self) -> str:
        """One bounded link session at start: central's copy of rows this journal lacks is
        adopted (edge.journal.anchor) before the daemon journals anything. Offline after the
        link's timeout: "" (start anyway). Returns why the journal differs from central's copy."""
        paths = StationPaths.of(self.cfg)
        try:
            keys = await asyncio.to_thread(load_link_keys, paths.secret_key, paths.server_key)
        except ConfigError:
            return ""  # run() reports it
        journal = await asyncio.to_thread(Journal, paths.journal)
        link = StationLink(self.cfg.link, self.cfg.station.id, journal, self.replica, keys=keys)
        link.on_skipped = self._skipped  # the first snapshot usually arrives in this session
        task = asyncio.create_task(link.run())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.link.timeout_ms / 1000 + 1
        try:
            while loop.time() < deadline and not link.anchored.is_set() and not link.diverged:
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.to_thread(journal.close)
        if not link.anchored.is_set() and not link.diverged:
            LOG.warning("central not reached at start: journal not checked against its copy")
        return link.diverged

    def _on_status(self, status: LinkStatus) -> None:
        if own_cancel():
            return  # the daemon is shutting down: that "offline" could never reach central
        ok = status.state is LinkState.CONNECTED
        if ok:
            self.last_contact = datetime.now(UTC).isoformat(timespec="seconds")
        detail = "" if ok else f"{status.state}: {status.last_error or status.endpoint}".strip()
        if self._reported is not None and self._reported[0] == ok:
            return  # only changes between connected and not
        self._reported = (ok, detail)
        if self._loop is None or self._station is None:
            return
        station = self._station

        def report() -> None:
            task = asyncio.get_running_loop().create_task(
                station.device_state("central", ok, detail)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._loop.call_soon_threadsafe(report)


class ReplicaCentral:
    """edge.workflow.ports.CentralState over the replica; also the Service refreshing the inventory."""

    def __init__(self, cfg: StationConfig, replica: Replica) -> None:
        self.cfg = cfg
        self.replica = replica
        self.station_id = cfg.station.id
        self._index = ReplicaIndex(replica, replica.path.with_name(INDEX_SNAPSHOT))
        self._inventory = self._index.start()
        self._qseq = replica.last_qseq()
        self._finished_path = StationPaths.of(cfg).replica_finished
        # the journal is the record of orders that left; the file only a cache of it
        self.finished: dict[str, str] = {
            **load_finished(self._finished_path),
            **from_journal(StationPaths.of(cfg).journal),
        }

    @classmethod
    def open(cls, cfg: StationConfig) -> ReplicaCentral:
        return cls(cfg, Replica(StationPaths.of(cfg).replica))

    def inventory(self) -> Inventory:
        """The index; while it is empty (a fresh station before central's first snapshot was
        indexed) it is brought up to the replica at once when the replica has moved, so no scan
        is judged against an empty vault once central's copy is here."""
        if len(self._inventory) == 0:
            qseq = self.replica.last_qseq()
            if qseq != self._qseq:
                self._index.refresh()
                self._inventory, self._qseq = self._index.inventory, qseq
        return self._inventory

    def badge(self, code: str) -> Badge | None:
        found = self.replica.badge(code, NEVER)  # expiry is the workflow's to judge and say
        if found is None:
            return None
        expires = found.expires_at.isoformat() if found.expires_at else None
        return Badge(code=code, name=found.name, supervisor=found.supervisor, expires_at=expires)

    def order(self, order_id: str) -> Order | None:
        if order_id in self.finished:  # sealed or cancelled here: its ticket never reloads it
            LOG.warning("order already left this station", extra={"order": order_id})
            return None
        return _order(self.replica.order(order_id))

    def next_order(self) -> Order | None:
        for obj in self.replica.orders():
            if obj.get("station") == self.station_id and obj.get("order_id") not in self.finished:
                order = _order(obj)
                if order is not None:
                    return order
        return None

    def order_finished(self, order_id: str, status: str) -> None:
        self.finished[order_id] = status
        save_finished(self._finished_path, self.finished)

    def inventory_snapshot(self) -> bytes:
        return self.replica.inventory_json()

    def package(self, label: str) -> dict[str, Any] | None:
        """One package as central serves it now (remaining Quantity, central's block)."""
        return self.replica.package(label) or self.replica.package(label.upper())

    def label_fields(self, label: str) -> dict[str, str]:
        """The container-label fields (LABEL_FIELDS) of the package's INVENTORY.json object."""
        return label_fields_of(self.package(label))

    def lab_results(self, label: str, batch: str | None) -> list[LabResult]:
        """The lab results central fed for the package, else for its batch (edge.scan.lab)."""
        return labs.lookup(self.replica.lab, label, batch)

    async def run(self, station: StationHandle) -> None:
        """Bring the inventory index up to the replica (off the loop, GIL released in the core)
        after it moved: the changed packages only, or a full build after a snapshot."""
        while True:
            await asyncio.sleep(REPLICA_POLL_S)
            qseq = await asyncio.to_thread(self.replica.last_qseq)
            if qseq != self._qseq:
                await asyncio.to_thread(self._index.refresh)
                self._inventory, self._qseq = self._index.inventory, qseq


def _order(obj: dict[str, Any] | None) -> Order | None:
    if obj is None:
        return None
    try:
        return msgspec.convert(obj, Order)
    except msgspec.ValidationError as exc:
        LOG.error(
            "replica order not usable", extra={"order": obj.get("order_id"), "error": str(exc)}
        )
        return None
