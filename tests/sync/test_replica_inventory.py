"""The station's inventory index built from the replica's rows and kept up to date from changes."""

from __future__ import annotations

import json
import logging
import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any

import msgspec

from edge.common.protocol import FeedItem, QueueUpdate, Snap
from edge.link.replica import Replica
from edge.link.replica_inventory import ReplicaIndex
from edge.scan import Inventory, InventoryRows

FIELDS = ("label", "name", "sku", "batch", "location", "packaged_date", "net_weight_mg")


def _package(label: str, location: str = "vault/a", sku: str = "SKU-1") -> bytes:
    return json.dumps(
        {
            "Label": label,
            "Item": {"Name": f"Product {sku}", "UnitThcContent": 24.5},
            "Sku": sku,
            "Batch": "B-1",
            "Location": location,
            "PackagedDate": "2026-03-04",
            "NetWeightMg": 3500,
        }
    ).encode()


def _view(inv: Inventory) -> list[tuple[Any, ...]]:
    out = []
    for tag in sorted(inv.labels()):
        pkg = inv.lookup(tag)
        assert pkg is not None
        out.append(tuple(getattr(pkg, f) for f in FIELDS))
    return out


def _old_path(replica: Replica) -> Inventory:
    """What the station did before: a dict per package, JSON, then the core's parser."""
    return Inventory.from_json(msgspec.json.encode(replica.inventory()))


def _snapshot(replica: Replica, bodies: dict[str, bytes], snap_id: str, qseq: int) -> None:
    items = [FeedItem(kind="package", key=k, body=b) for k, b in bodies.items()]
    half = len(items) // 2
    assert replica.apply_snapshot_part(
        Snap(snap_id=snap_id, qseq=qseq, part=0, last=False, items=items[:half])
    )
    assert replica.apply_snapshot_part(
        Snap(snap_id=snap_id, qseq=qseq, part=1, last=True, items=items[half:])
    )


def _update(replica: Replica, key: str, body: bytes | None) -> None:
    q = replica.last_qseq()
    item = FeedItem(kind="package", key=key, body=body)
    assert replica.apply_update(QueueUpdate(qseq=q + 1, prev_qseq=q, item=item))


def test_index_from_rows_equals_the_json_path_and_follows_changes(tmp_path: Path) -> None:
    replica = Replica(tmp_path / "replica.sqlite3")
    tags = [f"1A4060300002C9B{i:09X}" for i in range(0, 5000, 7)]
    _snapshot(replica, {t: _package(t) for t in tags}, "s1", 10)
    index = ReplicaIndex(replica)
    inv = index.build()
    assert len(inv) == len(tags)
    assert _view(inv) == _view(_old_path(replica))

    _update(replica, tags[0], _package(tags[0], location="vault/moved"))
    _update(replica, tags[1], None)
    _update(replica, "1A4FFFFFFFFFFFFFFFF00001", _package("1A4FFFFFFFFFFFFFFFF00001"))
    _update(replica, "1A4FFFFFFFFFFFFFFFF00001", _package("1A4FFFFFFFFFFFFFFFF00001", sku="S2"))
    assert index.refresh()
    inv = index.inventory
    moved = inv.lookup(tags[0])
    assert moved is not None and moved.location == "vault/moved"
    assert inv.lookup(tags[1]) is None
    added = inv.lookup("1A4FFFFFFFFFFFFFFFF00001")
    assert added is not None and added.sku == "S2"
    assert _view(inv) == _view(_old_path(replica))
    assert not index.refresh()  # nothing new
    # the label's snapshot: the same packages as the decoded copy, without decoding them
    assert json.loads(replica.inventory_json()) == replica.inventory()

    # a new snapshot replaces the copy: the index is built again from the rows
    _snapshot(replica, {t: _package(t, sku="S9") for t in tags[:10]}, "s2", 50)
    assert index.refresh()
    assert _view(index.inventory) == _view(_old_path(replica))
    assert len(index.inventory) == 10


def test_a_bad_row_is_left_out_and_named_the_rest_load(tmp_path: Path, caplog: Any) -> None:
    replica = Replica(tmp_path / "replica.sqlite3")
    good = "1A4060300002C9B000000001"
    _snapshot(
        replica,
        {
            good: _package(good),
            "1A4060300002C9B000000002": b'{"Label": "1A4060300002C9B000000002"}',
        },
        "s1",
        3,
    )
    index = ReplicaIndex(replica)
    inv = index.build()
    assert inv.labels() == [good]
    # the replica already refuses the record by the feed's rules (edge/link/usable.py): skipped,
    # named and reported; the index never sees it
    skipped = replica.take_skipped()
    assert [(kind, key) for kind, key, _ in skipped] == [("package", "1A4060300002C9B000000002")]
    assert "Item" in skipped[0][2]
    _update(replica, good, b"{not json")
    index.refresh()
    assert [key for _, key, _ in replica.take_skipped()] == [good]
    assert len(index.inventory) == 0  # the package left out until a usable copy arrives
    _update(replica, good, _package(good))
    index.refresh()
    assert index.inventory.labels() == [good]


def test_a_row_the_core_cannot_index_is_named_by_its_key_in_the_log(
    tmp_path: Path, caplog: Any
) -> None:
    """A full build reads the bodies alone (no key per row); a row left out makes it read the
    rows again with their keys, so the log names the package (a row an older replica kept,
    written here straight into its file)."""
    replica = Replica(tmp_path / "replica.sqlite3")
    tags = [f"1A4060300002C9B{i:09X}" for i in range(1, 1201)]
    _snapshot(replica, {t: _package(t) for t in tags}, "s1", 3)
    bad = tags[699]  # inside the second 512-row chunk
    conn = sqlite3.connect(replica.path)
    with conn:
        conn.execute(
            "UPDATE items SET body = ? WHERE kind = 'package' AND key = ?",
            (json.dumps({"Label": bad, "Sku": 7}).encode(), bad),
        )
    conn.close()
    caplog.set_level(logging.INFO, logger="edge.link.replica_inventory")
    inv = ReplicaIndex(replica).build()
    assert sorted(inv.labels()) == sorted(t for t in tags if t != bad)
    named = [r for r in caplog.records if r.getMessage() == "replica package not indexed"]
    assert [r.__dict__["package"] for r in named] == [bad]
    assert "Sku" in named[0].__dict__["error"]
    built = [r for r in caplog.records if r.getMessage() == "inventory index built"]
    assert [r.__dict__["packages"] for r in built] == [len(tags) - 1]


def test_bodies_alone_and_rows_with_keys_give_the_same_index(tmp_path: Path) -> None:
    replica = Replica(tmp_path / "replica.sqlite3")
    tags = [f"1A4060300002C9B{i:09X}" for i in range(1, 2001)]
    bodies = {
        t: _package(t, location=f"vault/{i % 7}", sku=f"SKU-{i % 5}") for i, t in enumerate(tags)
    }
    _snapshot(replica, bodies, "s1", 3)
    with_keys, without = InventoryRows(), InventoryRows()
    for _, _, chunk in replica.package_rows(300):
        assert with_keys.add(chunk) == len(with_keys)
    for _, _, only in replica.package_bodies(300):
        without.add_bodies(only)
    assert len(with_keys) == len(without) == len(tags)
    a, skipped_a = with_keys.finish()
    b, skipped_b = without.finish()
    assert skipped_a == skipped_b == []
    assert _view(a) == _view(b) == _view(_old_path(replica))


def test_a_restart_loads_the_snapshot_and_applies_only_the_changes_since(tmp_path: Path) -> None:
    replica = Replica(tmp_path / "replica.sqlite3")
    snap = tmp_path / "replica-index.bin"
    tags = [f"1A4060300002C9B{i:09X}" for i in range(0, 700, 7)]
    _snapshot(replica, {t: _package(t) for t in tags}, "s1", 10)
    first = ReplicaIndex(replica, snap)
    first.start()  # no snapshot yet: built from the rows, then saved
    assert snap.exists()
    _update(replica, tags[3], _package(tags[3], location="vault/moved"))
    _update(replica, tags[4], None)
    assert first.refresh()  # applied; the snapshot on disk stays at the older position

    second = ReplicaIndex(replica, snap)
    inv = second.start()
    assert _view(inv) == _view(_old_path(replica))
    moved = inv.lookup(tags[3])
    assert moved is not None and moved.location == "vault/moved"
    assert inv.lookup(tags[4]) is None

    snap.write_bytes(snap.read_bytes()[:-20])  # damaged: not used, the rows are read instead
    third = ReplicaIndex(replica, snap)
    assert _view(third.start()) == _view(_old_path(replica))

    _snapshot(replica, {t: _package(t, sku="S7") for t in tags[:5]}, "s2", 40)
    fourth = ReplicaIndex(replica, snap)  # the snapshot is of an older epoch: not used
    assert _view(fourth.start()) == _view(_old_path(replica))
    assert len(fourth.inventory) == 5


def test_a_build_holds_a_few_small_chunks_of_rows_whatever_the_replica_size(
    tmp_path: Path,
) -> None:
    """The rows read for a full build are small Python objects (pymalloc), whose arenas stay
    pinned after it by what outlives the build: only a few small chunks in flight at once, not
    most of a 10,000-package replica (issue 20: a first start's RSS at READY)."""
    replica = Replica(tmp_path / "replica.sqlite3")
    tags = [f"1A4060300002C9B{i:09X}" for i in range(10_000)]
    _snapshot(replica, {t: _package(t) for t in tags}, "s1", 10)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rows = [row for _, _, chunk in replica.package_rows(1000) for row in chunk][:3000]
        rows_3000 = tracemalloc.get_traced_memory()[0] - before  # 3,000 rows as a build reads them
        del rows
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        inv = ReplicaIndex(replica).build()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert len(inv) == len(tags)
    assert peak < rows_3000  # 4,096-row chunks, up to four in flight, were all 10,000 rows
