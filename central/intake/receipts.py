"""The hook GET /v1/orders/<id> calls for the state-system receipt of an order.

The state-system bridge (METRC and the like) replaces `state_receipt` with a function that returns
the state of the order's sale report (e.g. {"state": "reported", "at": ..., "receipt_id": ...})
or None when it has none. Until a bridge is wired in, there is no receipt: None, and the answer's
`receipt` is null. It is called in a worker thread, never on the event loop.
"""

from __future__ import annotations

from typing import Any

from central.store.base import SqlStore


def state_receipt(store: SqlStore, order_id: str) -> dict[str, Any] | None:
    """The state-system report's state for `order_id`, or None (no bridge yet)."""
    del store, order_id
    return None
