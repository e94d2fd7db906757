"""Wholesale orders at central's intake: the buyer's license is verified before release.

Every order body the intake takes (HTTP `POST /v1/orders`, `packstation central import orders`)
passes `release` before it is committed to the feed. A `wholesale` order (edge/common/feed.py:
`buyer`, `ship_date`, lines of exact tags or SKU + quantity) is checked against the newest license
snapshot (central/licenses.py): a buyer missing from it, or listed with any status but active, or
expired on the snapshot's date, refuses the whole body (HTTP 422, exit 2 for the import; nothing
is committed, no station sees the order). An accepted order carries `license_check`: the
snapshot's SHA-256, source and date and the buyer's status, for the record (the station journals
the order with it), and `manifest_id`, the transfer manifest's id its box label prints. A snapshot older than `[intake] license_max_age_days` gives a warning.

Each SKU line is also checked before picking: one tested batch must hold the line's quantity in
central's inventory (`coverage`), else the line is flagged: the flag is in the answer's warnings
and in the order's `intake_flags`, and the order is still released (a delivery may be on its way).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from central.licenses import Snapshot, latest, verify
from central.store.base import SqlStore
from edge.common import labs
from edge.common.chain import canonical_json
from edge.common.feed import RecordError
from edge.common.protocol import FeedItem

DEFAULT_MAX_AGE_DAYS = 7
Change = tuple[FeedItem, str | None]  # central/intake/records.py


CENTRAL_FIELDS = frozenset({"license_check", "intake_flags", "manifest_id"})


def manifest_id_for(order_id: str) -> str:
    """The transfer manifest's id of a wholesale order, assigned at release and carried in the
    order record so the station's box label prints it: the id central/manifest.py gives the
    manifest (`MAN-<order_id>`; tests/wholesale checks the two agree)."""
    return f"MAN-{order_id}"


class LicenseRefused(RecordError):
    """A well-formed wholesale order whose buyer may not receive it (HTTP 422)."""


def release(
    store: SqlStore,
    upserts: list[Change],
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    today: date | None = None,
) -> tuple[list[Change], list[str]]:
    """The order changes to commit, wholesale ones stamped with their license check, and the
    warnings to answer with; LicenseRefused names the first order refused."""
    day = today or datetime.now(UTC).date()
    snapshot: Snapshot | None = None
    loaded = False
    inventory: list[dict[str, Any]] = []
    lab_bodies: dict[str, bytes] = {}
    out: list[Change] = []
    warnings: list[str] = []
    for i, (given, station) in enumerate(upserts):
        item = given
        if item.body is None:
            out.append((item, station))
            continue
        obj: dict[str, Any] = json.loads(item.body)
        if obj.get("channel") != "wholesale":
            if CENTRAL_FIELDS & obj.keys():  # central's fields, not the POS's
                for name in CENTRAL_FIELDS:
                    obj.pop(name, None)
                item = FeedItem(kind=item.kind, key=item.key, body=canonical_json(obj))
            out.append((item, station))
            continue
        if not loaded:
            snapshot, loaded = latest(store), True
            inventory, lab_bodies = packages(store), lab_items(store)
        number = str(obj["buyer"]["license"])
        verdict = verify(snapshot, number, day, max_age_days)
        at = f"$[{i}].buyer.license" if len(upserts) > 1 else "$.buyer.license"
        if not verdict.ok:
            raise LicenseRefused(at, f"order {item.key} refused: {verdict.reason}")
        assert snapshot is not None and verdict.license is not None
        warnings += [f"order {item.key}: {w}" for w in verdict.warnings]
        flags = coverage(obj, inventory, day, lab_bodies)
        warnings += [f"order {item.key}: {f}" for f in flags]
        obj["intake_flags"] = flags
        for line in obj.get("lines", []):  # every package weighed gross for the manifest
            line["weigh"], line["gross"] = True, True
        obj["manifest_id"] = manifest_id_for(item.key)  # the box label prints it
        obj["license_check"] = {
            "snapshot": snapshot.hash,
            "source": snapshot.source,
            "date": snapshot.date,
            "status": verdict.license.status,
            "expires": verdict.license.expires,
            "warnings": list(verdict.warnings),
        }
        body = canonical_json(obj)
        out.append((FeedItem(kind=item.kind, key=item.key, body=body), station))
    return out, warnings


def packages(store: SqlStore) -> list[dict[str, Any]]:
    """Central's vault inventory (feed_state kind 'package')."""
    with store._lock:
        try:
            rows = store._x("SELECT body FROM feed_state WHERE kind = 'package'").fetchall()
        finally:
            store._end_read()
    return [json.loads(bytes(r[0])) for r in rows]


def lab_items(store: SqlStore) -> dict[str, bytes]:
    """Central's lab results (feed_state kind 'lab'), feed key -> LabSet JSON."""
    with store._lock:
        try:
            rows = store._x("SELECT key, body FROM feed_state WHERE kind = 'lab'").fetchall()
        finally:
            store._end_read()
    return {str(r[0]): bytes(r[1]) for r in rows}


def coverage(
    order: dict[str, Any],
    inventory: list[dict[str, Any]],
    day: date,
    lab_bodies: dict[str, bytes] | None = None,
) -> list[str]:
    """The wholesale order's SKU lines that no single tested batch can fill: one flag each.

    A package counts when it is of the line's SKU (and batch, when the line names one), not on
    hold, `LabTestingState` in LAB_PASSED, not expired by the ship date, and its lab results
    (central/labs.py) do not refuse it on that date. A line is covered when one batch has at least
    `quantity` such packages."""
    ship = str(order.get("ship_date") or day.isoformat())[:10]
    flags: list[str] = []
    for line in order.get("lines", []):
        sku, want = line.get("sku"), line.get("batch")
        if sku is None:
            continue
        need = int(line.get("quantity", 1))
        counts: dict[str, int] = {}
        for pkg in inventory:
            if pkg.get("Sku") != sku or (want is not None and pkg.get("Batch") != want):
                continue
            if not _sellable(pkg, ship, lab_bodies or {}):
                continue
            batch = str(pkg.get("Batch"))
            counts[batch] = counts.get(batch, 0) + 1
        if counts and max(counts.values()) >= need:
            continue
        best = max(counts.items(), key=lambda kv: (kv[1], kv[0]), default=None)
        most = f"the most is {best[1]} in batch {best[0]}" if best else "there is none"
        flags.append(
            f"line {line.get('line')}: no single tested batch of {sku} covers {need} packages"
            f" ({most})"
        )
    return flags


LAB_PASSED = ("TestPassed", "RetestPassed")  # the station's default [verify] lab_passed_states


def _sellable(pkg: dict[str, Any], ship: str, lab_bodies: dict[str, bytes]) -> bool:
    if pkg.get("IsOnHold") or pkg.get("LabTestingState") not in LAB_PASSED:
        return False
    expires = pkg.get("ExpirationDate")
    if isinstance(expires, str) and expires[:10] < ship:
        return False
    get = lab_bodies.get
    results = labs.lookup(get, str(pkg.get("Label")), pkg.get("Batch"))
    return labs.refusal(results, ship) is None
