"""Wholesale orders at central's intake: the buyer's license is verified before release.

Every order body the intake takes (HTTP `POST /v1/orders`, `packstation central import orders`)
passes `release` before it is committed to the feed. A `wholesale` order (edge/common/feed.py:
`buyer`, `ship_date`, lines of exact tags or SKU + quantity) is checked against the newest license
snapshot (central/licenses.py): a buyer missing from it, or listed with any status but active, or
expired on the snapshot's date, refuses the whole body (HTTP 422, exit 2 for the import; nothing
is committed, no station sees the order). An accepted order carries `license_check`: the
snapshot's SHA-256, source and date and the buyer's status, for the record (the station journals
the order with it). A snapshot older than `[intake] license_max_age_days` gives a warning.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from central.licenses import Snapshot, latest, verify
from central.store.base import SqlStore
from edge.common.chain import canonical_json
from edge.common.feed import RecordError
from edge.common.protocol import FeedItem

DEFAULT_MAX_AGE_DAYS = 7
Change = tuple[FeedItem, str | None]  # central/intake/records.py


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
    out: list[Change] = []
    warnings: list[str] = []
    for i, (given, station) in enumerate(upserts):
        item = given
        if item.body is None:
            out.append((item, station))
            continue
        obj: dict[str, Any] = json.loads(item.body)
        if obj.get("channel") != "wholesale":
            if "license_check" in obj:  # central's field: a POS does not set it
                obj.pop("license_check")
                item = FeedItem(kind=item.kind, key=item.key, body=canonical_json(obj))
            out.append((item, station))
            continue
        if not loaded:
            snapshot, loaded = latest(store), True
        number = str(obj["buyer"]["license"])
        verdict = verify(snapshot, number, day, max_age_days)
        at = f"$[{i}].buyer.license" if len(upserts) > 1 else "$.buyer.license"
        if not verdict.ok:
            raise LicenseRefused(at, f"order {item.key} refused: {verdict.reason}")
        assert snapshot is not None and verdict.license is not None
        warnings += [f"order {item.key}: {w}" for w in verdict.warnings]
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
