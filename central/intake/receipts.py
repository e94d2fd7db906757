"""The hook GET /v1/orders/<id> calls for the state-system receipt of an order.

The state-system bridge (central/statesys) keeps each order's sale report; this returns its state
(`{"state": pending|sent|confirmed|failed, "reason", "external", "state_id", "confirmed_at"}`) or
None when the order has no report (no bridge configured, or not sealed yet). It is called in a
worker thread, never on the event loop.
"""

from __future__ import annotations

from typing import Any

from central.statesys import report_state
from central.store.base import SqlStore


def state_receipt(store: SqlStore, order_id: str) -> dict[str, Any] | None:
    """The state-system report's state for `order_id`, or None."""
    status = report_state(store, order_id)
    if status is None:
        return None
    receipt: dict[str, Any] | None = status.get("receipt")
    return receipt
