"""The exit label and the discrepancy slip: typed content, built from order + inventory + config,
with the seal code that ties the bag to exactly this label.

The seal code printed as the label's QR is `SEAL-<order id>-<16 hex>`: the first 64 bits of
SHA-256 over the label's canonical content (every printed field, in a fixed order, as JSON).
Scanning it later proves the bag carries this label; `verify_seal` checks a scan against a label
rebuilt from the journal. All weights and contents are integer milligrams; grams appear only when
printed (`grams`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from edge.common.errors import BadInput, ConfigError
from edge.label.inputs import JurisdictionWarnings, Package
from edge.workflow.ports import HaltInfo, Order, OrderLine

SEAL_PREFIX = "SEAL-"
SLIP_CANDIDATES = 5  # at most this many likely packages on a slip


class LabelItem(msgspec.Struct, frozen=True, kw_only=True):
    """One package in the bag."""

    line: int
    product_name: str
    uid: str
    batch: str
    quantity: int
    net_weight_mg: int | None = None
    thc_mg: int | None = None
    cbd_mg: int | None = None


class StationInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The store and station facts a label prints (from [station] of station.toml)."""

    dispensary_name: str
    license_number: str
    jurisdiction: str
    timezone: str
    station_id: str


class ExitLabel(msgspec.Struct, frozen=True, kw_only=True):
    """Everything printed on an exit label; its canonical JSON is what the seal digests."""

    dispensary_name: str
    license_number: str
    customer_name: str
    order_id: str
    printed_at: str  # ISO 8601 in the store's time zone, with offset
    timezone: str
    channel: str
    items: tuple[LabelItem, ...]
    jurisdiction: str
    warnings_title: str
    warnings: tuple[str, ...]
    station_id: str
    agent_id: str


class HaltSlip(msgspec.Struct, frozen=True, kw_only=True):
    """A discrepancy slip: what went wrong and what to do, in plain words."""

    order_id: str
    code: str  # the verdict, e.g. "wrong_batch", "short_weight", "over_limit"
    what_happened: str  # one or two sentences naming the scan and the order line
    what_to_do: tuple[str, ...]  # steps, in order
    scanned: str = ""  # the scan that caused the halt (UID, badge...), "" if none
    order_line: int | None = None
    clears: str = "A supervisor badge clears this."
    station_id: str = ""
    agent_id: str = ""
    at: str = ""  # ISO 8601 with offset
    timezone: str = ""  # the store's IANA zone, for the printed abbreviation (CST)


def grams(mg: int) -> str:
    """Integer mg -> "3.50 g" (two decimals; three when the mg need them). No floats."""
    whole, rest = divmod(mg, 1000)
    if rest % 10 == 0:
        return f"{whole}.{rest // 10:02d} g"
    return f"{whole}.{rest:03d} g"


def short_uid(uid: str) -> str:
    """`1A4...0128`: how slips name a package so it can be found by eye."""
    return uid if len(uid) <= 10 else f"{uid[:3]}...{uid[-4:]}"


def local_time(at: datetime, timezone: str) -> datetime:
    """`at` (aware) in the store's zone; ConfigError for an unknown zone name."""
    if at.tzinfo is None:
        raise ValueError("label times must be timezone-aware")
    try:
        return at.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError([f"[station] timezone: unknown time zone {timezone!r}"]) from exc


def build_label(
    order: Order,
    inventory: dict[str, Package],
    station: StationInfo,
    warnings: JurisdictionWarnings,
    agent_id: str,
    at: datetime,
) -> ExitLabel:
    """The exit label of a packed order; BadInput when a line is not fully picked or a picked
    UID is not in the inventory (a label with a missing field must not print)."""
    items: list[LabelItem] = []
    for line in order.lines:
        items.extend(_items_of(order.order_id, line, inventory))
    return ExitLabel(
        dispensary_name=station.dispensary_name,
        license_number=station.license_number,
        customer_name=order.customer.name,
        order_id=order.order_id,
        printed_at=local_time(at, station.timezone).isoformat(timespec="seconds"),
        timezone=station.timezone,
        channel=order.channel,
        items=tuple(items),
        jurisdiction=station.jurisdiction,
        warnings_title=warnings.title,
        warnings=tuple(warnings.lines),
        station_id=station.station_id,
        agent_id=agent_id,
    )


# The first step on the slip for the verdicts of edge.scan.availability (docs/verdicts.md).
AVAILABILITY_STEPS = {
    "sold": "Put the package aside for the supervisor: it was sold already; it must not leave again.",
    "held": "Put the package back where it was: another open order holds it.",
    "quarantined": "Put the package in quarantine for the supervisor: it must be released first.",
    "not_sellable": "Put the package aside for the supervisor: METRC would refuse this sale.",
}


def build_slip(
    order_id: str, halt: HaltInfo, station: StationInfo, agent_id: str, at: datetime
) -> HaltSlip:
    """The discrepancy slip of a halted order: the halt's reason, and what to do: put the package
    aside for the supervisor, and which packages it may be when the core named some."""
    steps = [AVAILABILITY_STEPS.get(halt.code, "Put the package aside for the supervisor.")]
    if halt.candidates:
        steps.append("It may be: " + ", ".join(halt.candidates[:SLIP_CANDIDATES]))
    return HaltSlip(
        order_id=order_id,
        code=halt.code,
        what_happened=halt.reason,
        what_to_do=tuple(steps),
        scanned=halt.raw or (halt.uid or ""),
        order_line=halt.line,
        station_id=station.station_id,
        agent_id=agent_id,
        at=local_time(at, station.timezone).isoformat(timespec="seconds"),
        timezone=station.timezone,
    )


def _items_of(order_id: str, line: OrderLine, inventory: dict[str, Package]) -> list[LabelItem]:
    uids = line.picked if line.picked else ([line.uid] if line.uid else [])
    if not uids:
        raise BadInput(f"order {order_id} line {line.line}: no picked package; pack it first")
    if line.picked is not None and len(line.picked) != line.quantity and not line.weigh:
        raise BadInput(
            f"order {order_id} line {line.line}: {len(line.picked)} packages picked, "
            f"{line.quantity} ordered"
        )
    counts: dict[str, int] = {}
    for uid in uids:
        counts[uid] = counts.get(uid, 0) + 1
    items = []
    for uid, count in counts.items():
        package = inventory.get(uid)
        if package is None:
            raise BadInput(f"order {order_id} line {line.line}: package {uid} is not in inventory")
        quantity = line.quantity if line.picked is None else count
        net = line.labelled_weight_mg if line.weigh else package.NetWeightMg
        items.append(
            LabelItem(
                line=line.line,
                product_name=package.Item.Name,
                uid=uid,
                batch=package.Batch,
                quantity=quantity,
                net_weight_mg=net,
                thc_mg=package.ThcMg,
                cbd_mg=package.CbdMg,
            )
        )
    return items


def canonical_content(label: ExitLabel) -> bytes:
    """The bytes the seal digests: the label as JSON, fields in declaration order."""
    return msgspec.json.encode(label)


def seal_code_for(label: ExitLabel) -> str:
    """`SEAL-<order id>-<first 16 hex of SHA-256(canonical content)>`, upper-case hex."""
    digest = hashlib.sha256(canonical_content(label)).hexdigest()[:16].upper()
    return f"{SEAL_PREFIX}{label.order_id}-{digest}"


def verify_seal(scan: str, label: ExitLabel) -> bool:
    """True when `scan` is exactly this label's seal code (constant-time compare)."""
    return hmac.compare_digest(scan.encode(), seal_code_for(label).encode())


def seal_order_id(scan: str) -> str | None:
    """The order id a seal scan names, or None if it is not a seal code."""
    if not scan.startswith(SEAL_PREFIX):
        return None
    order_id, sep, digest = scan[len(SEAL_PREFIX) :].rpartition("-")
    if not sep or not order_id or len(digest) != 16:
        return None
    return order_id
