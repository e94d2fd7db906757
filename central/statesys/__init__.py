"""The state seed-to-sale bridge (METRC, BioTrack): every sealed order reported exactly once.

- `base`: the back-end interface and its error classes (what the bridge does on each);
- `metrc`, `biotrack`: the two back-ends (aiohttp clients);
- `store`: the bridge's own tables in central's store (SQLite or PostgreSQL);
- `sale`: a sealed order -> a METRC receipt (and child packages for weigh-outs);
- `ingest`: central's stored events -> jobs; `bridge`: jobs -> the state system;
- `pull`: the state's package view folded into central's inventory;
- `emulator`: a METRC emulator for the tests, the benchmark and `packstation simulate` (never
  imported by production code).

Run by central/reporting.py inside the central service. May import: `central.store`,
`edge.common`, aiohttp, msgspec and the standard library.
"""

from __future__ import annotations

from typing import Any

from central.statesys.store import ReportStore
from central.store.base import SqlStore

__all__ = ["report_state"]


def report_state(
    store: SqlStore, order_id: str, station: str | None = None
) -> dict[str, Any] | None:
    """For the intake's `GET /v1/orders/<id>`: the order's last status (when, which station) and
    its receipt state at the state system; None when central has heard nothing of the order.

    `{"order_id", "station", "status", "status_at", "receipt": {"state", "reason", "external",
    "state_id", "confirmed_at"} | None}`; `receipt.state` is pending, sent, confirmed or failed.
    """
    reports = ReportStore(store)
    with reports._read():
        sql = "SELECT station, status, status_at FROM statesys_orders WHERE order_id = ?"
        params: list[Any] = [order_id]
        if station is not None:
            sql += " AND station = ?"
            params.append(station)
        row = reports._x(sql + " ORDER BY status_at DESC", params).fetchone()
    if row is None:
        return None
    sale = reports.job(f"sale:{row[0]}:{order_id}")
    receipt = None
    if sale is not None:
        receipt = {
            "state": sale.state,
            "reason": sale.reason or None,
            "external": sale.external,
            "state_id": sale.remote_id or None,
            "confirmed_at": sale.confirmed_at,
        }
    return {
        "order_id": order_id,
        "station": row[0],
        "status": row[1],
        "status_at": row[2],
        "receipt": receipt,
    }
