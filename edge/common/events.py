"""The journal's event bodies as code: one msgspec Struct per event type, a tagged union on `type`.

One definition for the station (what it journals), central (what it accepts on ingest: a body that
does not decode as its type, or an unknown type, is quarantined like a malformed frame) and the
docs (`packstation schema events` prints the JSON Schema generated from these classes; the same
file is docs/schemas/events.json, checked current by a test).

On the wire an event is `edge.common.protocol.Event`/`Published`: `type` is its own field and
`body` is the canonical JSON bytes of the body object (UTF-8, sorted keys, no spaces; see
edge/common/chain.py), never re-encoded; `hash` is the 32 raw bytes of the SHA-256 chain hash.
The `type` member of the schema below is that field, not a key inside `body`.

Bodies may carry fields a newer station adds (unknown fields are kept, not refused); every field
listed here is checked. Every body carries `station` and, while an order is loaded, `order_id`.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

import msgspec

from edge.common import bounded

StationId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]  # `@central`: central's own
Phase = Annotated[str, msgspec.Meta(max_length=32, description="the workflow phase")]

# The scan verdicts the Rust core gives (edge/workflow/ports.py re-exports this one list).
VerdictName = Literal[
    "match",
    "duplicate",
    "wrong_batch",
    "not_in_order",
    "unknown",
    "near_miss",
    "on_hold",
    "expired",
    "not_tested",
    "fifo",
    "malformed",
    # not the core's: edge.scan.availability (docs/verdicts.md, "Whether it may be sold")
    "sold",
    "held",
    "quarantined",
    "not_sellable",
    "lab_result",  # edge/scan/lab.py: the package's lab result failed, was revoked or expired
]


class EventBody(msgspec.Struct, kw_only=True, tag_field="type"):
    """Fields every event body has."""

    station: StationId  # [station] id
    order_id: str | None = None  # the order loaded when the event happened


class StationResumed(EventBody, tag="station_resumed"):
    """The daemon started (or restarted) and resumed its journalled state."""

    boot: str  # UUID of this process run
    phase: Phase
    agent: str | None


class Scan(EventBody, tag="scan"):
    """Any scan read by a scanner, before it is judged."""

    kind: Literal["badge", "ticket", "package", "seal", "location"]
    raw: str  # the text as decoded
    aim_id: str | None  # the AIM symbology identifier sent before it
    device: str
    phase: Phase


class ScanRefused(EventBody, tag="scan_refused"):
    raw: str
    phase: Phase
    reason: str


class Login(EventBody, tag="login"):
    agent: str  # the badge code
    name: str
    supervisor: bool
    resumes_order: str | None  # the order left loaded that this login resumes


class LoginRefused(EventBody, tag="login_refused"):
    badge: str
    reason: str


class Logout(EventBody, tag="logout"):
    agent: str
    reason: str  # "inactivity", "another badge logged in"


class OrderLoaded(EventBody, tag="order_loaded"):
    order_id: str
    source: Literal["ticket", "queue"]
    channel: Literal["pickup", "delivery", "wholesale"]
    customer_id: str
    lines: int  # how many order lines
    order: dict[str, Any]  # the ORDER.json object packed (docs/schemas/intake.json Order)


class OrderRefused(EventBody, tag="order_refused"):
    order_id: str | None
    reason: str


class Verdict(EventBody, tag="verdict"):
    """The Rust core's judgement of a package scan against the order and the inventory."""

    raw: str
    verdict: VerdictName
    line: int | None
    uid: str | None
    reason: str
    candidates: list[str]  # the UIDs a near miss may have meant
    outcome: Literal["accepted", "accepted_with_warning", "halt"]
    unit: int | None = None  # the Retail ID unit scanned (a unit-level QR), else null


class WeighRequested(EventBody, tag="weigh_requested"):
    line: int
    uid: str


class Weight(EventBody, tag="weight"):
    """A captured net weight judged against the line's labelled weight (integer milligrams)."""

    line: int
    uid: str
    net_mg: int
    labelled_mg: int | None
    min_mg: int
    max_mg: int
    ok: bool
    reason: str


class ChildTag(EventBody, tag="child_tag", kw_only=True):
    """A weigh-out's new container tag, scanned at the weigh step (`[workflow] child_tag_scan`)."""

    line: int
    uid: str  # the bulk package weighed from
    child_tag: str  # the new container's package tag


class CountAdjustment(EventBody, tag="count_adjustment", kw_only=True):
    """A cycle-count correction to report to the state system (absolute quantity)."""

    uid: str
    quantity: int | str  # the counted quantity, in `unit`
    unit: str = "Each"
    reason: str  # one of central's [state_system] adjustment_reasons
    supervisor: str  # the supervisor badge that approved it
    note: str | None = None


Exact = Annotated[
    str, msgspec.Meta(pattern=r"^(-?[0-9]+(/[0-9]+)?)?$", description="a fraction, or empty")
]


class PackageQuarantined(EventBody, tag="package_quarantined", kw_only=True):
    """Central's own (station `@central`): a package is quarantined at every station."""

    uid: str
    by_station: str
    code: str
    reason: str
    quarantined_at: str


class PackageReleased(EventBody, tag="package_released", kw_only=True):
    """Central's own (station `@central`): a supervisor or an import released the package."""

    uid: str
    by: str  # the supervisor badge, or the import that released it
    released_at: str


class FeedRecordSkipped(EventBody, tag="feed_record_skipped", kw_only=True):
    """The station received a feed record it cannot use (edge/link/usable.py): it skipped that
    record alone and kept every other one; central and the dashboard see why."""

    kind: Literal["order", "package", "badge"]
    key: str
    reason: str


class OrderStaged(EventBody, tag="order_staged", kw_only=True):
    """A sealed bag was put at a staging location ([staging]): pickup shelf or delivery bin."""

    order_id: str
    location: str  # the location label scanned
    kind: Literal["pickup", "delivery"]  # the kind of location, by [staging] patterns
    channel: Literal["pickup", "delivery", "wholesale"]
    seal_code: str
    agent: str  # the technician who staged it


class PickedUp(EventBody, tag="picked_up", kw_only=True):
    """A staged pickup bag was released to the customer at the front of house."""

    order_id: str
    location: str  # where it was taken from
    seal_code: str
    agent: str  # the releasing agent's badge


class Departed(EventBody, tag="departed", kw_only=True):
    """A staged delivery bag left with its driver."""

    order_id: str
    location: str
    seal_code: str
    agent: str  # the releasing agent's badge
    driver: str  # the driver's badge


class ReleaseRefused(EventBody, tag="release_refused", kw_only=True):
    """A release the station refused: the bag stays where it is."""

    code: Literal[
        "not_staged", "seal_mismatch", "already_released", "no_location", "wrong_location"
    ]
    raw: str  # the seal code scanned
    reason: str


class CountOpened(EventBody, tag="count_opened", kw_only=True):
    """A cycle count opened by a supervisor with a COUNT-<location or SKU> ticket."""

    count_id: str
    scope: str  # the location or SKU counted
    kind: Literal["location", "sku"]
    supervisor: str


class CountScan(EventBody, tag="count_scan", kw_only=True):
    count_id: str
    raw: str
    uid: str  # the tag as counted (upper-cased)


class SkuCount(msgspec.Struct, kw_only=True):
    sku: str
    counted: int
    expected: int


class CountClosed(EventBody, tag="count_closed", kw_only=True):
    """The count's reconciliation (edge._core Inventory.reconcile): the count slip's content."""

    count_id: str
    scope: str
    kind: Literal["location", "sku"]
    supervisor: str
    counted: int  # distinct tags counted
    matched: int
    missing: list[str]  # expected in the scope, not counted
    unexpected: list[list[str]]  # [tag, counted location]: unknown to the inventory
    wrong_place: list[list[str]]  # [tag, counted location, inventory location]
    duplicates: list[str]
    per_sku: list[SkuCount]


class CountReviewed(EventBody, tag="count_reviewed", kw_only=True):
    """A supervisor approved the adjustments of a count with discrepancies, or it was dismissed."""

    count_id: str
    action: Literal["approve", "dismiss"]
    supervisor: str | None


class LimitBucket(msgspec.Struct, kw_only=True):
    name: str
    used: int  # rounded down to whole `unit`s, for display
    limit: int
    unit: str
    # Exact values as fraction strings ("351/100"), so `limits explain` can reproduce the
    # decision: used_exact = prior_exact + cart_exact (absent in journals before these fields).
    used_exact: Exact | None = None
    limit_exact: Exact | None = None
    prior_exact: Exact | None = None
    cart_exact: Exact | None = None


class Limits(EventBody, tag="limits"):
    """The purchase-limit check of the whole cart."""

    allowed: bool
    reason: str
    buckets: list[LimitBucket]
    # Which rule decided, so `limits explain --journal` finds it and its source (absent in
    # journals before these fields, or when the check could not run).
    jurisdiction: str | None = None
    rule_version: str | None = None  # the effective date of the rule version applied
    customer_class: str | None = None


class LabelRequested(EventBody, tag="label_requested"):
    job_id: str  # <order>-label-<attempt>
    attempt: int


class LabelPrinted(EventBody, tag="label_printed"):
    job_id: str
    seal_code: str


class PrintFailed(EventBody, tag="print_failed"):
    job_id: str
    kind: Literal["label", "slip"]
    reason: str


class PrintFinished(EventBody, tag="print_finished"):
    job_id: str
    kind: Literal["label", "slip"]


class Seal(EventBody, tag="seal"):
    code: str  # the code scanned
    expected: str | None  # the printed label's seal code
    ok: bool


class OrderStatus(EventBody, tag="order_status"):
    """The order left the station: sealed (ready or out for delivery) or cancelled."""

    status: Literal["ready_for_pickup", "out_for_delivery", "ready_to_ship", "cancelled"]
    channel: Literal["pickup", "delivery", "wholesale"]


class Halt(EventBody, tag="halt"):
    """The order stopped; only a supervisor badge clears it."""

    code: str  # a verdict, or over_limit, short_weight, over_weight, seal_mismatch, ...
    reason: str
    raw: str
    uid: str | None
    line: int | None
    candidates: list[str]
    step: Phase  # where a clear returns


class Quarantine(EventBody, tag="quarantine"):
    uid: str
    code: str
    reason: str


class SlipRequested(EventBody, tag="slip_requested"):
    job_id: str  # <order>-slip-<n>
    code: str


class SupervisorPresent(EventBody, tag="supervisor_present"):
    supervisor: str
    name: str


class Override(EventBody, tag="override"):
    action: Literal["clear", "resume", "cancel"]
    supervisor: str | None
    halt_code: str | None


class OverrideRefused(EventBody, tag="override_refused"):
    supervisor: str
    reason: str


class DeviceState(EventBody, tag="device_state"):
    """A device went down or came back (journalled on change only)."""

    device: str  # "scanner", "scale", "printer", "indicator", "central"
    ok: bool
    detail: str


class DiskGuard(EventBody, tag="disk_guard"):
    ok: bool
    detail: str


AnyEvent = (
    StationResumed
    | Scan
    | ScanRefused
    | Login
    | LoginRefused
    | Logout
    | OrderLoaded
    | OrderRefused
    | Verdict
    | WeighRequested
    | Weight
    | ChildTag
    | Limits
    | LabelRequested
    | LabelPrinted
    | PrintFailed
    | PrintFinished
    | Seal
    | OrderStatus
    | Halt
    | Quarantine
    | SlipRequested
    | SupervisorPresent
    | Override
    | OverrideRefused
    | DeviceState
    | DiskGuard
    | CountAdjustment
    | PackageQuarantined
    | PackageReleased
    | FeedRecordSkipped
    | OrderStaged
    | PickedUp
    | Departed
    | ReleaseRefused
    | CountOpened
    | CountScan
    | CountClosed
    | CountReviewed
)
EVENT_TYPES: dict[str, type[EventBody]] = {
    str(cls.__struct_config__.tag): cls for cls in typing.get_args(AnyEvent)
}
MAX_NESTING = 32  # deeper JSON in a body is refused before it is decoded
_DECODERS = {name: msgspec.json.Decoder(cls) for name, cls in EVENT_TYPES.items()}


class BodyError(ValueError):
    """Why an event body does not fit its type (the quarantine reason)."""


def nesting_depth(raw: bytes, stop: int = MAX_NESTING) -> int:
    """How deep `[`/`{` nest in JSON bytes (strings skipped); stops counting past `stop`."""
    return bounded.json_depth(raw, stop)


def decode_body(type_: str, body: bytes) -> EventBody:
    """The body of an event of `type_`, checked; BodyError says why it does not fit."""
    decoder = _DECODERS.get(type_)
    if decoder is None:
        raise BodyError(f"unknown event type {type_[:64]!r}")
    if body.count(b"[") + body.count(b"{") > MAX_NESTING and nesting_depth(body) > MAX_NESTING:
        raise BodyError(f"body nested deeper than {MAX_NESTING} levels")
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise BodyError(f"body of a {type_} event: {exc}") from exc
    except RecursionError:  # never reached past the depth check; never let it escape either
        raise BodyError(f"body nested deeper than {MAX_NESTING} levels") from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every event body (docs/schemas/events.json)."""
    schema = msgspec.json.schema(AnyEvent)
    schema.update(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "packstation journal event bodies",
            "description": (
                "One event's body, by its `type` (a field of the event beside `body`, not a key"
                " inside it). On the PUB feed and in replay, `body` arrives as the canonical JSON"
                " bytes of this object and `hash` as 32 raw bytes (SHA-256 chain hash)."
            ),
        }
    )
    return schema
