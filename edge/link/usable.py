"""Whether the station can use one record of central's feed, judged by the station's own rules.

A record the station cannot use (an order its workflow would refuse, a package the Rust core's
inventory cannot index, a key longer than the station keeps) must not cost it the others: the
replica skips that one record, the link journals a `feed_record_skipped` event naming it (which
reaches central like every event: `packstation central export`, the dashboard), and every other
record of the snapshot or update is kept. Without this one bad package emptied the whole vault
(the inventory is indexed in one piece) and one bad key made every snapshot fail to decode.
"""

from __future__ import annotations

import msgspec

from edge.common import bounded
from edge.common.protocol import MAX_BODY_BYTES, FeedItem
from edge.scan import Inventory, ScanCoreError

MAX_KEY_CHARS = 128  # an order id, package label or badge code the station keeps


def problem(item: FeedItem) -> str | None:
    """Why the station cannot use `item`, or None (a deletion is always usable)."""
    if len(item.key) > MAX_KEY_CHARS:
        return f"key longer than {MAX_KEY_CHARS} characters ({len(item.key)})"
    if item.body is None:
        return None
    try:
        bounded.check(item.body, "body", MAX_BODY_BYTES)
        decoded = msgspec.json.decode(item.body)
    except (ValueError, msgspec.DecodeError) as exc:
        return f"body is not usable JSON: {exc}"
    if not isinstance(decoded, dict):
        return "body is not a JSON object"
    if item.kind == "order":
        # the full ORDER.json check (edge.workflow.ports.Order) runs when the order is taken
        # (edge.station.wiring.central), one order at a time; here only what keys it
        order_id = decoded.get("order_id")
        if not isinstance(order_id, str) or not 1 <= len(order_id) <= MAX_KEY_CHARS:
            return f"order_id is not a string of 1..{MAX_KEY_CHARS} characters"
    elif item.kind == "package":
        try:
            Inventory.from_json(b"[" + item.body + b"]")
        except ScanCoreError as exc:
            return f"package not usable: {exc}"
    return None
