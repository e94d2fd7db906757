"""Whether the station can use one record of central's feed, judged by the station's own rules.

A record the station cannot use (an order its workflow would refuse, a package the Rust core's
inventory cannot index, a key longer than the station keeps) must not cost it the others: the
replica skips that one record, the link journals a `feed_record_skipped` event naming it (which
reaches central like every event: `packstation central export`, the dashboard), and every other
record of the snapshot or update is kept. Without this one bad package emptied the whole vault
(the inventory is indexed in one piece) and one bad key made every snapshot fail to decode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from edge.common import bounded, feed
from edge.common.protocol import MAX_BODY_BYTES, FeedItem
from edge.scan import Inventory, ScanCoreError

MAX_KEY_CHARS = feed.MAX_KEY  # an order id, package label or badge code the station keeps

# The intake's rules for each kind (edge/common/feed.py): the struct and the checks it cannot say.
_RULES: dict[str, tuple[msgspec.json.Decoder[Any], Callable[[Any, str], None]]] = {
    "order": (msgspec.json.Decoder(feed.Order), feed.check_order),
    "package": (msgspec.json.Decoder(feed.Package), feed.check_package),
    "badge": (msgspec.json.Decoder(feed.Badge), feed.check_badge),
}


def problem(item: FeedItem) -> str | None:
    """Why the station cannot use `item`, or None (a deletion is always usable). Every record is
    judged by the rules central's intake applies (edge.common.feed), a package also by the Rust
    core's inventory reader that indexes it."""
    if len(item.key) > MAX_KEY_CHARS:
        return f"key longer than {MAX_KEY_CHARS} characters ({len(item.key)})"
    if item.body is None:
        return None
    try:
        bounded.check(item.body, "body", MAX_BODY_BYTES)
        decoded = msgspec.json.decode(item.body)
    except (ValueError, msgspec.DecodeError, RecursionError) as exc:
        return f"body is not usable JSON: {exc}"
    if not isinstance(decoded, dict):
        return "body is not a JSON object"
    rules = _RULES.get(item.kind)
    if rules is not None:
        decoder, check = rules
        try:
            check(decoder.decode(item.body), "$")
        except msgspec.ValidationError as exc:
            err = feed.record_error(exc)
            return f"{item.kind} not usable: {err}"
        except (feed.RecordError, msgspec.DecodeError, RecursionError) as exc:
            return f"{item.kind} not usable: {exc}"
    if item.kind == "package":
        try:
            Inventory.from_json(b"[" + item.body + b"]")
        except ScanCoreError as exc:
            return f"package not usable: {exc}"
    return None
