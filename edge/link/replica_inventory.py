"""The vault inventory index built from the replica's rows, and kept up to date from its changes.

Rows go from SQLite straight into the Rust core (`InventoryRows`) a chunk at a time: no Python
dict per package and no whole-inventory JSON document, so a build's peak memory is the index
plus the few small chunks in flight. The core parses each chunk on a thread of its own while
this one fetches the next, and indexes with the GIL released.
After the first build, feed changes (`Replica.package_changes`) are applied by
`InventoryRows.changed`: only the changed rows are read and parsed; a snapshot swap (a new
epoch) means a full build again. The index is also kept as a binary snapshot beside the
replica, so a restart loads it and applies the changes since instead of reading every row
(`ReplicaIndex.start`).
A row that is not a valid package is logged with its key and left out; the rest load.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from edge.common import heap
from edge.link.replica import Replica
from edge.scan import Inventory, InventoryRows, ScanCoreError

LOG = logging.getLogger(__name__)
# Rows per chunk. Each row is three small Python objects (tuple, key, a ~400-byte body) in
# pymalloc's arenas, which go back to the OS only once wholly empty: 4,096-row chunks (10 MB
# of them in flight) left 5-6 MB of arenas pinned by the objects that outlive the build, at
# READY of a first start (issue 20). Only one chunk is held in Python at a time now (the core
# copies it and parses the copy on its own thread).
CHUNK_ROWS = 512
SNAPSHOT_EVERY_S = 300.0


def _log_skipped(skipped: list[tuple[str, str]]) -> None:
    for key, reason in skipped[:20]:
        LOG.error("replica package not indexed", extra={"package": key, "error": reason})
    if len(skipped) > 20:
        LOG.error("replica packages not indexed", extra={"count": len(skipped)})


class ReplicaIndex:
    """The current index and the replica position (epoch, change seq) it reflects.

    With `snapshot_path`, the index is also kept as a binary snapshot (`InventoryRows.save`)
    tagged with its position: `start()` loads it and applies only the changes since, instead of
    reading every row. The snapshot is written after each full build and, after incremental
    changes, at most every SNAPSHOT_EVERY_S; the change log is pruned only up to the position
    the snapshot on disk holds, so a restart always finds the changes it needs.
    """

    def __init__(self, replica: Replica, snapshot_path: Path | None = None) -> None:
        self.replica = replica
        self.snapshot_path = snapshot_path
        self.inventory: Inventory = Inventory.from_json(b"[]")
        self.position: tuple[int, int] | None = None
        self._saved_at = 0.0
        self._lock = threading.Lock()  # one build at a time (the loop's first sync, the refresher)

    def start(self) -> Inventory:
        """The index at start-up: the snapshot with the changes since applied before it is
        indexed (one index built, not two), when it is usable; else a full build from the rows."""
        with self._lock:
            if not self._load():
                return self._build()
            return self.inventory

    def _load(self) -> bool:
        path = self.snapshot_path
        if path is None or not path.exists():
            return False
        now: list[tuple[int, int]] = []

        def changes_for(tag: bytes) -> list[tuple[str, bytes | None]] | None:
            epoch, seq = (int(x) for x in tag.decode().split(":"))
            now_epoch, now_seq = self.replica.package_position()
            if epoch != now_epoch or seq > now_seq:
                return None  # a snapshot swap since, or a replica older than the snapshot
            found = self.replica.package_changes(epoch, seq)
            if found is None:
                return None
            now.append((epoch, found[0]))
            return found[1]

        try:
            loaded = InventoryRows.load(path, changes_for)
        except (OSError, ValueError) as exc:  # InventoryFormatError is a ValueError
            LOG.warning("inventory snapshot not used", extra={"path": str(path), "error": str(exc)})
            return False
        if loaded is None:
            return False
        self.inventory, _, skipped = loaded
        _log_skipped(skipped)
        self.position = now[-1]
        self._saved_at = time.monotonic()
        return True

    def _save(self) -> None:
        """Snapshot the index (when configured), then prune the change log up to it."""
        assert self.position is not None
        epoch, seq = self.position
        if self.snapshot_path is not None:
            try:
                InventoryRows.save(self.inventory, self.snapshot_path, f"{epoch}:{seq}".encode())
            except OSError as exc:
                LOG.warning(
                    "inventory snapshot not written",
                    extra={"path": str(self.snapshot_path), "error": str(exc)},
                )
                return
        self._saved_at = time.monotonic()
        self.replica.forget_package_changes(seq)

    def build(self) -> Inventory:
        """A full build from every package row; the previous index is kept if it fails."""
        with self._lock:
            return self._build()

    def _build(self) -> Inventory:
        started = time.monotonic()
        try:
            inventory, position, skipped = self._read_rows(keys=False)
            if skipped:  # rows left out: read again, with their keys, to name them
                inventory, position, skipped = self._read_rows(keys=True)
        except ScanCoreError as exc:
            LOG.error("replica inventory not usable", extra={"error": str(exc)})
            return self.inventory
        _log_skipped(skipped)
        self.inventory, self.position = inventory, position
        self._save()
        # The build's transients (row chunks, the previous index, the snapshot's bytes) were
        # freed on worker threads' arenas: without this a first sync left ~55 MB in the RSS.
        heap.trim()
        LOG.info(
            "inventory index built",
            extra={"packages": len(inventory), "seconds": round(time.monotonic() - started, 3)},
        )
        return inventory

    def _read_rows(self, *, keys: bool) -> tuple[Inventory, tuple[int, int], list[tuple[str, str]]]:
        """Every package row into a new index: (index, position, rows left out). Without
        `keys`, the bodies alone are read (the common case, a quarter faster at 1 M rows) and
        a row left out is named "" (the caller reads again with keys)."""
        rows = InventoryRows()
        position = self.replica.package_position()
        if keys:
            for epoch, seq, chunk in self.replica.package_rows(CHUNK_ROWS):
                position = (epoch, seq)
                rows.add(chunk)  # copied and queued: the core's thread parses it meanwhile
        else:
            for epoch, seq, bodies in self.replica.package_bodies(CHUNK_ROWS):
                position = (epoch, seq)
                rows.add_bodies(bodies)
        inventory, skipped = rows.finish()
        return inventory, position, skipped

    def refresh(self) -> bool:
        """Bring the index up to the replica: the changed rows only, or a full build after a
        snapshot swap. True when the index changed."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> bool:
        if self.position is None:
            self._build()
            return True
        epoch, seq = self.position
        found = self.replica.package_changes(epoch, seq)
        if found is None:
            self._build()
            return True
        now, changes = found
        if not changes:
            self.position = (epoch, now)
            return False
        try:
            inventory, skipped = InventoryRows.changed(self.inventory, changes)
        except ScanCoreError as exc:
            LOG.error("replica inventory changes not usable", extra={"error": str(exc)})
            return False
        _log_skipped(skipped)
        self.inventory, self.position = inventory, (epoch, now)
        # The index it replaces, freed on a worker thread's arena: with a live central changing
        # packages every second, RSS went from 51 to 106 MB over 1,500 scans without this.
        heap.trim()
        if self.snapshot_path is None or time.monotonic() - self._saved_at >= SNAPSHOT_EVERY_S:
            self._save()
        return True
