"""What central feeds the stations, as code: ORDER.json, INVENTORY.json packages, BADGES.json.

One set of rules for central's intake (HTTP and `central import`) and the station: the intake
accepts only what a station can use, so one bad record from a POS never reaches a station
(docs/formats.md). The structs mirror what the station itself judges:

- orders: edge/workflow/ports.py `Order` (msgspec) and the Rust core's order check
  (core_rs/src/scan/order.rs): a line names a `uid` or a `sku` (never both; `batch` only with a
  `sku`), line numbers are unique, `quantity` >= 1, `picked` holds at most `quantity` UIDs;
- packages: the Rust core's INVENTORY.json reader (core_rs/src/scan/inventory/json.rs): `Label` 1 to
  64 printable ASCII characters, `Item.Name`, `Sku`, `Batch` strings, dates `YYYY-MM-DD`, the
  measures whole numbers >= 0 (`NetWeightMg: 3500.5` is refused);
- badges: the replica's allow-list (edge/link/replica.py).

Every key (order_id, Label, badge) is at most 128 characters: the feed's key limit
(edge.common.protocol.FeedItem). `check_*` raise RecordError with the JSON path of the field.
`packstation schema intake` prints the JSON Schema generated from these classes.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

MAX_KEY = 128  # edge.common.protocol.FeedItem.key
MAX_AMOUNT = 10**12  # per unit, mg or ml (edge/limits/engine.py)
MAX_QUANTITY = 1_000_000
U32 = 2**32 - 1  # the Rust core reads line numbers and quantities as u32

OrderId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_KEY,
        pattern=r"^[!-~]+$",
        description="the POS order number: 1 to 128 printable ASCII characters, no spaces"
        " (the order ticket barcode is ORD-<order_id>)",
    ),
]
Channel = Literal["pickup", "delivery", "wholesale"]  # wholesale: a B2B order (docs/wholesale.md)
# The customer classes of config/limits/*.toml ([version.class.NAME]); a test keeps them equal.
CustomerClass = Literal["adult", "adult_nonresident", "medical", "medical_hospice"]
Category = Literal["flower", "concentrate", "edible", "infused_liquid", "topical", "plant", "seed"]
Tag = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[!-~]+$",
        description="a package UID (METRC tag...): 1 to 64 printable ASCII characters",
    ),
]
Text = Annotated[str, msgspec.Meta(max_length=4096)]
NonBlank = Annotated[str, msgspec.Meta(min_length=1, max_length=4096, pattern=r"\S")]
StationName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
LineNumber = Annotated[int, msgspec.Meta(ge=1, le=U32)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=U32)]
Amount = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT)]
Measure = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1, description="a whole number >= 0")]
Date = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^\d{4}-\d{2}-\d{2}(T.*)?$",
        description="YYYY-MM-DD (a METRC THH:MM:SS suffix is ignored)",
    ),
]
Timestamp = Annotated[str, msgspec.Meta(max_length=64, description="ISO 8601 with a UTC offset")]


class RecordError(ValueError):
    """A record the station could not use; `path` is the JSON path of the field ("$[3].lines")."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{message} - at `{path}`")
        self.path = path
        self.message = message


class Customer(msgspec.Struct, kw_only=True):
    id: NonBlank
    name: Text = ""
    class_: CustomerClass = msgspec.field(default="adult", name="class")


class OrderLine(msgspec.Struct, kw_only=True):
    line: LineNumber
    uid: Tag | None = None
    sku: NonBlank | None = None
    batch: NonBlank | None = None
    quantity: Quantity = 1
    weigh: bool = False
    labelled_weight_mg: Measure | None = None
    picked: list[Tag] | None = None
    # wholesale: each package is weighed gross for the manifest (GrossWeight), nothing judged;
    # central sets it (with weigh) on every wholesale line
    gross: bool = False


class PriorPurchase(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """CART.json's prior shape (docs/limits.md): the limit engine refuses unknown fields."""

    at: Timestamp
    category: Category
    quantity: Annotated[int, msgspec.Meta(ge=0, le=MAX_QUANTITY)] | None = None
    net_weight_mg: Amount | None = None
    concentrate_mg: Amount | None = None
    thc_mg: Amount | None = None
    volume_ml: Amount | None = None


class Buyer(msgspec.Struct, kw_only=True):
    """A wholesale order's buyer: the licensee the packages are transferred to."""

    license: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=64,
            pattern=r"^[!-~]+$",
            description="the buyer's state license number, as the regulator's list prints it",
        ),
    ]
    name: Text = ""


class LicenseCheck(msgspec.Struct, kw_only=True):
    """Which license snapshot central checked a wholesale order's buyer against (set by central)."""

    snapshot: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$", description="its SHA-256")]
    source: Text
    date: Date
    status: Text  # the buyer's status in it ("active")
    expires: Date | None = None
    warnings: list[Text] = msgspec.field(default_factory=list)


class Order(msgspec.Struct, kw_only=True):
    """ORDER.json (docs/formats.md). Other fields a POS sends are kept and ignored."""

    order_id: OrderId
    channel: Channel
    customer: Customer
    lines: Annotated[list[OrderLine], msgspec.Meta(min_length=1, max_length=1000)]
    placed_at: Text = ""
    prior: Annotated[list[PriorPurchase], msgspec.Meta(max_length=10_000)] = msgspec.field(
        default_factory=list
    )
    station: StationName | None = None  # assign the order to one station (default: every one)
    # wholesale orders (channel "wholesale"; docs/wholesale.md)
    buyer: Buyer | None = None
    ship_date: Date | None = None  # the requested ship date
    license_check: LicenseCheck | None = None  # central's, never the POS's
    intake_flags: list[Text] = msgspec.field(default_factory=list)  # central's: lines at risk
    # central's, set when it releases a wholesale order: the transfer manifest's id
    # (`MAN-<order_id>`, central/manifest.py), printed on the box label (edge/label/box.py)
    manifest_id: Annotated[str, msgspec.Meta(max_length=MAX_KEY + 4)] | None = None


class Item(msgspec.Struct, kw_only=True):
    Name: Text
    ProductCategoryName: Text | None = None
    UnitThcContent: int | float | None = None  # METRC's decimal, kept as its exact text


class Package(msgspec.Struct, kw_only=True):
    """One INVENTORY.json package (METRC's shape plus packstation's fields)."""

    Label: Tag
    Item: Item
    Sku: Text
    Batch: Text
    PackageType: Text | None = None
    Quantity: int | float | None = None
    UnitOfMeasureName: Text | None = None
    PackagedDate: Date | None = None
    ExpirationDate: Date | None = None
    IsOnHold: bool | None = None
    IsFinished: bool | None = None
    LabTestingState: Text | None = None
    Location: Text | None = None
    Category: Text | None = None
    NetWeightMg: Measure | None = None
    ThcMg: Measure | None = None
    CbdMg: Measure | None = None
    ConcentrateMg: Measure | None = None
    VolumeMl: Measure | None = None


class MetrcPage(msgspec.Struct, kw_only=True):
    """METRC's paged object: `{"Data": [...], ...}`."""

    Data: list[Package]


class Badge(msgspec.Struct, kw_only=True):
    """One BADGES.json entry: a badge allowed at the stations."""

    badge: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_KEY, pattern=r"^[!-~]+$")]
    name: Text
    supervisor: bool = False
    expires_at: Timestamp | None = None


Orders = list[Order] | Order
Inventory = list[Package] | MetrcPage
Badges = list[Badge]


# -- the rules a struct cannot say --------------------------------------------------------------
def _check_wholesale(order: Order, path: str) -> None:
    if order.channel == "wholesale":
        if order.buyer is None:
            raise RecordError(f"{path}.buyer", "a wholesale order needs its buyer's license")
        if order.ship_date is None:
            raise RecordError(f"{path}.ship_date", "a wholesale order needs its ship date")
    if order.ship_date is not None:
        try:
            date.fromisoformat(order.ship_date[:10])
        except ValueError:
            raise RecordError(
                f"{path}.ship_date", f"not a calendar date: {order.ship_date!r}"
            ) from None
    for i, line in enumerate(order.lines):
        if line.gross and order.channel != "wholesale":
            raise RecordError(f"{path}.lines[{i}].gross", "gross weights are for wholesale orders")


def check_order(order: Order, path: str) -> None:
    _check_wholesale(order, path)
    seen: set[int] = set()
    for i, line in enumerate(order.lines):
        at = f"{path}.lines[{i}]"
        if line.line in seen:
            raise RecordError(f"{at}.line", f"line number {line.line} is used twice")
        seen.add(line.line)
        if line.uid is not None and line.sku is not None:
            raise RecordError(at, 'give either "uid" or "sku", not both')
        if line.uid is None and line.sku is None:
            raise RecordError(at, 'a line needs "uid" or "sku"')
        if line.uid is not None and line.batch is not None:
            raise RecordError(f"{at}.batch", '"batch" goes with "sku", not "uid"')
        if line.picked is not None and len(line.picked) > line.quantity:
            raise RecordError(f"{at}.picked", 'more "picked" UIDs than "quantity"')
        if line.weigh and line.labelled_weight_mg is None and not line.gross:
            raise RecordError(
                f"{at}.labelled_weight_mg", "a weighed line needs its labelled weight"
            )
    for i, prior in enumerate(order.prior):
        _offset_time(prior.at, f"{path}.prior[{i}].at")


def check_package(package: Package, path: str) -> None:
    for name in ("PackagedDate", "ExpirationDate"):
        value = getattr(package, name)
        if value is not None:
            try:
                date.fromisoformat(value.split("T", 1)[0])
            except ValueError:
                raise RecordError(f"{path}.{name}", f"not a calendar date: {value!r}") from None


def check_badge(badge: Badge, path: str) -> None:
    if badge.expires_at is not None:
        try:
            datetime.fromisoformat(badge.expires_at)
        except ValueError:
            raise RecordError(
                f"{path}.expires_at", f"not an ISO 8601 time: {badge.expires_at!r}"
            ) from None


def _offset_time(value: str, path: str) -> None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(path, f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise RecordError(path, f"time {value!r} has no UTC offset")


_PATH = re.compile(r"^(?P<message>.*) - at `(?P<path>[^`]*)`$", re.DOTALL)


def record_error(exc: msgspec.ValidationError | msgspec.DecodeError) -> RecordError:
    """msgspec's "Expected `int`, got `float` - at `$[0].NetWeightMg`" as a RecordError."""
    text = str(exc)
    found = _PATH.match(text)
    if found is None:
        return RecordError("$", text)
    return RecordError(found["path"], found["message"])


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the intake's bodies (docs/schemas/intake.json)."""
    (orders, inventory, badges), components = msgspec.json.schema_components(
        [Orders, Inventory, Badges], ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "packstation intake bodies: ORDERS.json, INVENTORY.json, BADGES.json",
        "description": "POST /v1/orders takes `orders`, PUT /v1/inventory `inventory`, PUT"
        " /v1/badges `badges` (and `packstation central import` the same files). Fields not"
        " listed are kept and ignored, except in `prior` entries.",
        "type": "object",
        "properties": {"orders": orders, "inventory": inventory, "badges": badges},
        "$defs": components,
    }
