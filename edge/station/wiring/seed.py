"""Central's state read from files: badges, orders and the vault inventory in `[station] seed_dir`.

For tests, the simulated day and a station run without central. The directory holds:

- `inventory.json`: INVENTORY.json (docs/formats.md), loaded into the Rust core's index once per
  version of the file and shared by the verifier, the limits and the labels;
- `orders.json`: ORDERS.json; an order whose `station` is this station's id is assigned to it
  (taken in file order by "next order"), any order can be loaded by its ticket;
- `badges.json`: `[{"code": "BADGE-ALICE", "name": "Alice", "supervisor": false,
  "expires_at": "2027-01-01T00:00:00+00:00"}]` (`expires_at` null or absent = no expiry).

A file is read again when it changes (size or mtime), so a simulator may add orders while the
station runs; a file that does not parse is logged and the previous version kept. Orders that
left the station (sealed or cancelled) are remembered in `<state_dir>/seed-finished.json`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from edge.common.labs import LabResult
from edge.scan import Inventory, ScanCoreError
from edge.station.config import StationConfig, StationPaths
from edge.station.wiring.finished_orders import from_journal, load_finished, save_finished
from edge.station.wiring.printer import LABEL_FIELDS
from edge.workflow.ports import Badge, Order

LOG = logging.getLogger(__name__)
T = TypeVar("T")
EMPTY_INVENTORY = b"[]"


class _Watched:
    """One file, parsed again when its (size, mtime) changes."""

    def __init__(self, path: Path | None, parse: Callable[[Path], Any], empty: Any) -> None:
        self.path = path
        self.parse = parse
        self.value = empty
        self._stamp: tuple[int, int] | None = None

    def get(self) -> Any:
        if self.path is None:
            return self.value
        try:
            st = os.stat(self.path)
        except OSError:
            return self.value
        stamp = (st.st_size, st.st_mtime_ns)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self.value = self.parse(self.path)
                LOG.info("seed file loaded", extra={"path": str(self.path)})
            except (OSError, ValueError, ScanCoreError, msgspec.ValidationError) as exc:
                LOG.error(
                    "seed file not loaded, previous kept",
                    extra={"path": str(self.path), "error": str(exc)},
                )
        return self.value


def _orders(path: Path) -> list[Order]:
    raw = json.loads(path.read_bytes())
    if not isinstance(raw, list):
        raise ValueError("ORDERS.json must be a JSON array")  # noqa: TRY004 - a file problem
    out = []
    for i, obj in enumerate(raw):
        try:
            out.append(msgspec.convert(obj, Order))
        except msgspec.ValidationError as exc:
            LOG.error("order skipped", extra={"path": str(path), "index": i, "error": str(exc)})
    return out


def _badges(path: Path) -> dict[str, Badge]:
    badges = msgspec.json.decode(path.read_bytes(), type=list[Badge])
    return {b.code: b for b in badges}


DATE_FIELDS = ("SellByDate", "UseByDate")


class _Dated(msgspec.Struct, gc=False):
    """The fields of a package the core's index does not keep: the two dates the availability
    check reads, and the container-label fields (a label field that is no string is left out,
    as the label's reader would not print it)."""

    Label: str
    SellByDate: str | None = None
    UseByDate: str | None = None
    HarvestDate: Any = None
    LabName: Any = None
    LabTestDate: Any = None
    LabBatch: Any = None


class _Paged(msgspec.Struct):
    Data: list[_Dated]


def _dates(path: Path) -> dict[str, dict[str, str]]:
    """SellByDate / UseByDate and the LABEL_FIELDS by upper-cased Label, for the packages that
    have one (read once per version of the file: a label reads its packages' fields here)."""
    raw = msgspec.json.decode(path.read_bytes(), type=list[_Dated] | _Paged)
    packages = raw.Data if isinstance(raw, _Paged) else raw
    out: dict[str, dict[str, str]] = {}
    fields = (*DATE_FIELDS, *LABEL_FIELDS)
    for p in packages:
        if (
            p.SellByDate is None
            and p.UseByDate is None
            and p.HarvestDate is None
            and p.LabName is None
            and p.LabTestDate is None
            and p.LabBatch is None
        ):
            continue  # most packages: none of them
        found = {k: v for k in fields if isinstance(v := getattr(p, k), str) and v}
        if found:
            out[p.Label.upper()] = found
    return out


def _inventory(path: Path) -> Inventory:
    return Inventory.from_file(path)


class SeedCentral:
    """edge.workflow.ports.CentralState from the seed files (see the module docstring)."""

    def __init__(
        self,
        seed_dir: Path | None,
        station_id: str,
        finished_path: Path,
        journal: Path | None = None,
    ) -> None:
        self.seed_dir = seed_dir
        self.station_id = station_id
        d = seed_dir
        self._inventory = _Watched(
            d / "inventory.json" if d else None, _inventory, Inventory.from_json(EMPTY_INVENTORY)
        )
        self._dates = _Watched(d / "inventory.json" if d else None, _dates, {})
        self._orders = _Watched(d / "orders.json" if d else None, _orders, [])
        self._badges = _Watched(d / "badges.json" if d else None, _badges, {})
        self._finished_path = finished_path
        # the journal's order_status events are the record; the file a cache of them
        self.finished: dict[str, str] = {
            **load_finished(self._finished_path),
            **(from_journal(journal) if journal else {}),
        }

    @classmethod
    def from_config(cls, cfg: StationConfig) -> SeedCentral:
        seed = Path(cfg.station.seed_dir) if cfg.station.seed_dir else None
        paths = StationPaths.of(cfg)
        return cls(seed, cfg.station.id, paths.seed_finished, paths.journal)

    def inventory(self) -> Inventory:
        """The current inventory index (the same object until the file changes)."""
        inv: Inventory = self._inventory.get()
        return inv

    def badge(self, code: str) -> Badge | None:
        badges: dict[str, Badge] = self._badges.get()
        return badges.get(code)

    def order(self, order_id: str) -> Order | None:
        if order_id in self.finished:  # sealed or cancelled here: its ticket never reloads it
            return None
        orders: list[Order] = self._orders.get()
        return next((o for o in orders if o.order_id == order_id), None)

    def next_order(self) -> Order | None:
        orders: list[Order] = self._orders.get()
        return next(
            (o for o in orders if o.station == self.station_id and o.order_id not in self.finished),
            None,
        )

    def order_finished(self, order_id: str, status: str) -> None:
        self.finished[order_id] = status
        save_finished(self._finished_path, self.finished)

    def package(self, label: str) -> dict[str, Any] | None:
        """One package of inventory.json by Label, with the fields the availability check reads
        (from the core's index; the sell-by and use-by dates from a light second read)."""
        pkg = self.inventory().lookup(label)
        if pkg is None:
            return None
        dates: dict[str, dict[str, str]] = self._dates.get()
        item = {"Name": pkg.name, "ProductCategoryName": pkg.product_category}
        return {
            "Label": pkg.label,
            "Sku": pkg.sku,
            "Batch": pkg.batch,
            "Item": item,
            "Location": pkg.location,
            "Quantity": pkg.quantity,
            "UnitOfMeasureName": pkg.unit_of_measure,
            "IsFinished": pkg.is_finished,
            "LabTestingState": pkg.lab_testing_state,
            **{k: v for k, v in dates.get(pkg.label.upper(), {}).items() if k in DATE_FIELDS},
        }

    def label_fields(self, label: str) -> dict[str, str]:
        """The container-label fields (LABEL_FIELDS) inventory.json gives the package."""
        dates: dict[str, dict[str, str]] = self._dates.get()
        found = dates.get(label.upper(), {})
        return {k: v for k, v in found.items() if k in LABEL_FIELDS}

    def lab_results(self, label: str, batch: str | None) -> list[LabResult]:
        """Seed stations have no lab feed: the inventory's `LabTestingState` alone applies."""
        return []

    def inventory_snapshot(self) -> bytes:
        path = self._inventory.path
        if path is None:
            return EMPTY_INVENTORY
        try:
            return path.read_bytes()
        except OSError:
            return EMPTY_INVENTORY
