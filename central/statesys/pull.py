"""The state system's view back in central: a package pull that updates the vault inventory.

`GET /packages/v2/active` and `/inactive` with `lastModifiedStart` (Metrc's docs,
https://api-ri.metrc.com/Documentation; the package fields as in github.com/thunkier/ThunkMetrc
`specs/generated/bruno/Packages/GetPackagesByLabel.bru`): every package changed since the last pull.
Central's inventory copy (the feed's `package` items) gets the state's flags and quantity, and a
package the state says must not be sold gets `IsOnHold: true` with `StateHold` naming why, so every
station refuses it (`on_hold`) within one pull interval:

- any of `IsOnHold`, `IsOnHoldCombined`, `IsOnInvestigation`, `IsOnInvestigationHold`,
  `IsOnInvestigationRecall`, `IsOnRecall`, `IsOnRecallCombined`;
- `LabTestResultExpirationDateTime` in the past;
- no quantity left at the state (sold or finished elsewhere), or listed as inactive.

`Quantity` stays central's own (sales central knows of but the state has not confirmed yet must not
come back); the state's figure is kept as `StateQuantity`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from central import stock
from central.statesys.base import StatePackage, StateSystem
from central.statesys.metrc import HOLD_FLAGS
from central.statesys.store import ReportStore, dumps
from edge.common.chain import canonical_json
from edge.common.protocol import FeedItem

LOG = logging.getLogger(__name__)
KEPT_FLAGS = (
    *HOLD_FLAGS,
    "LabTestResultExpirationDateTime",
    "LabTestingState",
    "IsOnRetailerDelivery",
    "SellByDate",
    "UseByDate",
    "LastModified",
)
# Kept under its own name: the import's `LastModified` orders the import's `Quantity` against
# central's sales (central/stock.py), and the pull does not change that Quantity.
RENAMED = {"IsOnHold": "StateIsOnHold", "LastModified": "StateLastModified"}


def refusal(pkg: StatePackage, at: datetime) -> str | None:
    """Why the state system says this package must not be sold, or None."""
    if not pkg.active:
        return "inactive at the state system (finished or sold elsewhere)"
    for flag in HOLD_FLAGS:
        if pkg.flags.get(flag) is True:
            return f"{flag} at the state system"
    expires = pkg.flags.get("LabTestResultExpirationDateTime")
    if isinstance(expires, str) and expires:
        try:
            when = datetime.fromisoformat(expires)
        except ValueError:
            return f"unreadable LabTestResultExpirationDateTime {expires!r}"
        if (when if when.tzinfo else when.replace(tzinfo=UTC)) < at:
            return f"lab test result expired {expires} (state system)"
    if pkg.quantity <= 0:
        return "no quantity left at the state system"
    return None


def merged(body: dict[str, Any], pkg: StatePackage, at: datetime) -> dict[str, Any]:
    """Central's package object with the state's view folded in."""
    out = dict(body)
    for flag in KEPT_FLAGS:
        if flag in pkg.flags:
            value = pkg.flags[flag]
            out[RENAMED.get(flag, flag)] = str(value) if isinstance(value, Decimal) else value
    out["StateQuantity"] = str(pkg.quantity)
    why = refusal(pkg, at)
    if why is not None:
        out["IsOnHold"] = True
        out["StateHold"] = why
    elif out.get("StateHold"):  # the state released it
        out.pop("StateHold")
        out["IsOnHold"] = bool(out.get("StateIsOnHold", False))
    return out


def update_inventory(reports: ReportStore, pulled: list[StatePackage]) -> int:
    """The small store method of the pull: fold the state's view into central's inventory (feed
    `package` items, which reach every station); returns the packages changed."""
    at = datetime.now(UTC)
    # The imported body, not the served one: central serves Quantity minus its sales, and a
    # served body put back as an import would have its sales subtracted a second time.
    current = stock.imported_bodies(reports.store, [p.label for p in pulled])
    changes: list[tuple[FeedItem, str | None]] = []
    for pkg in pulled:
        body = current.get(pkg.label)
        if body is None:
            continue  # not in central's vault (another store's package, or not imported yet)
        new = merged(body, pkg, at)
        if json.dumps(new, sort_keys=True) != json.dumps(body, sort_keys=True):
            changes.append(
                (FeedItem(kind="package", key=pkg.label, body=canonical_json(new)), None)
            )
    if changes:
        reports.store.feed_put(changes)
    return len(changes)


async def pull_once(reports: ReportStore, system: StateSystem) -> int:
    """One pull since the newest `LastModified` seen; returns the packages changed."""
    import asyncio

    from central.statesys.labpull import remember_ids

    since = reports.meta("pull_since") or None
    pulled = await system.packages(since)
    changed = await asyncio.to_thread(update_inventory, reports, pulled)
    await asyncio.to_thread(remember_ids, reports, pulled)  # for the lab pull (labpull.py)
    newest = max((p.last_modified for p in pulled if p.last_modified), default=since or "")
    if newest:
        await asyncio.to_thread(reports.set_meta, "pull_since", newest)
    facility = await system.facility()
    await asyncio.to_thread(reports.set_meta, "facility", dumps(facility))
    if changed:
        LOG.info("state system view folded into the inventory", extra={"packages": changed})
    return changed
