"""Turning an intake body (bytes) into feed changes, checked by the station's own rules.

Pure functions, no I/O but reading a spooled body: they run in a worker thread for small bodies
and in a worker process for large ones (central/intake/work.py), never on the event loop. The
structs and rules are edge.common.feed's; a RecordError names the JSON path of the first bad field
(`$[12].NetWeightMg: Expected `int`, got `float``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

import msgspec

from edge.common import feed
from edge.common.chain import canonical_json
from edge.common.feed import RecordError
from edge.common.protocol import FeedItem

Kind = Literal["orders", "inventory", "badges"]
FEED_KIND: dict[Kind, Literal["order", "package", "badge"]] = {
    "orders": "order",
    "inventory": "package",
    "badges": "badge",
}
Change = tuple[FeedItem, str | None]
S = TypeVar("S", bound=msgspec.Struct)


class _Page(msgspec.Struct):
    Data: list[msgspec.Raw]


_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_PAGE = msgspec.json.Decoder(_Page)
_ANY = msgspec.json.Decoder()


def _split(raw: bytes, kind: Kind) -> tuple[list[msgspec.Raw], str]:
    """The top level: the records as raw JSON slices, and the path prefix of element i."""
    head = raw.lstrip()[:1]
    try:
        if kind == "orders" and head == b"{":
            return [msgspec.Raw(raw)], ""
        if kind == "inventory" and head == b"{":
            return _PAGE.decode(raw).Data, ".Data"
        if head != b"[":
            want = {
                "orders": "an array of orders or one order object",
                "inventory": 'an array of packages or {"Data": [...]}',
                "badges": "an array of badge objects",
            }[kind]
            if not raw.strip():
                raise RecordError("$", f"empty body: expected {want}")
            _ANY.decode(raw)  # invalid JSON says so first
            raise RecordError("$", f"expected {want}")
        return _LIST.decode(raw), ""
    except msgspec.ValidationError as exc:
        raise feed.record_error(exc) from None
    except msgspec.DecodeError as exc:
        raise RecordError("$", f"invalid JSON: {exc}") from None
    except RecursionError:
        raise RecordError("$", "JSON nested too deeply") from None


def _each(
    raw: bytes,
    kind: Kind,
    cls: type[S],
    check: Callable[[S, str], None],
    key: Callable[[S], str],
    station: Callable[[S], str | None],
) -> list[Change]:
    elements, prefix = _split(raw, kind)
    single = kind == "orders" and prefix == "" and raw.lstrip()[:1] == b"{"
    decoder = msgspec.json.Decoder(cls)
    seen: dict[str, int] = {}
    out: list[Change] = []
    for i, element in enumerate(elements):
        path = "$" if single else f"${prefix}[{i}]"
        try:
            record = decoder.decode(element)
            obj: Any = _ANY.decode(element)
        except msgspec.ValidationError as exc:
            err = feed.record_error(exc)
            raise RecordError(path + err.path[1:], err.message) from None
        except msgspec.DecodeError as exc:
            raise RecordError(path, f"invalid JSON: {exc}") from None
        except RecursionError:
            raise RecordError(path, "JSON nested too deeply") from None
        check(record, path)
        name = key(record)
        folded = name.upper() if kind == "inventory" else name
        if folded in seen:
            what = {"orders": "order_id", "inventory": "Label", "badges": "badge"}[kind]
            raise RecordError(path, f"{what} {name} is listed twice (first at #{seen[folded]})")
        seen[folded] = i
        out.append(
            (FeedItem(kind=FEED_KIND[kind], key=name, body=canonical_json(obj)), station(record))
        )
    return out


def changes(kind: Kind, raw: bytes) -> list[Change]:
    """The upserts a body asks for (deletes of keys not listed are the caller's: see `full`)."""
    if kind == "orders":
        return _each(
            raw, kind, feed.Order, feed.check_order, lambda o: o.order_id, lambda o: o.station
        )
    if kind == "inventory":
        return _each(raw, kind, feed.Package, feed.check_package, lambda p: p.Label, lambda p: None)
    return _each(raw, kind, feed.Badge, feed.check_badge, lambda b: b.badge, lambda b: None)


def full(kind: Kind, upserts: list[Change], existing: set[str]) -> list[Change]:
    """A full inventory or badge list: also delete every live key it no longer lists."""
    if kind == "orders":
        return upserts
    listed = {item.key for item, _ in upserts}
    gone = sorted(existing - listed)
    return upserts + [(FeedItem(kind=FEED_KIND[kind], key=k, body=None), None) for k in gone]
