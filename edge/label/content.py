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
from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from edge.common.errors import BadInput, ConfigError
from edge.common.labs import LabResult
from edge.common.potency import PotencyUnknown, exact_text, portion_mg, printed_mg
from edge.label import coa
from edge.label.inputs import Package
from edge.label.profile import NOT_VERIFIED_BANNER, Profile
from edge.label.slips import SlipContext, slip_text
from edge.workflow.ports import Badge, Customer, HaltInfo, Order, OrderLine

SEAL_PREFIX = "SEAL-"


class LabelItem(msgspec.Struct, frozen=True, kw_only=True):
    """One package in the bag. For a weighed portion, `net_weight_mg` is the captured net weight
    and `thc_mg`/`cbd_mg` the portion's potency rounded down (`thc_exact`/`cbd_exact`: the exact
    figures, edge.common.potency)."""

    line: int
    product_name: str
    uid: str
    batch: str
    quantity: int
    net_weight_mg: int | None = None
    thc_mg: int | None = None
    cbd_mg: int | None = None
    weighed: bool = False
    thc_exact: str | None = None
    cbd_exact: str | None = None
    category: str = ""
    # the COA under the profile's coa_values / coa_link (edge/label/coa.py): (name, value as the
    # lab printed it, percent) and the COA's URL; empty when the profile asks for neither
    coa_values: tuple[tuple[str, str], ...] = ()
    coa_link: str = ""


class ContainerLabel(msgspec.Struct, frozen=True, kw_only=True):
    """The label of a weigh-out portion's new container: the store's label is then the product
    label, so it carries what the profile's `container_fields` require."""

    dispensary_name: str
    license_number: str
    product_name: str
    uid: str
    batch: str
    line: int
    net_weight_mg: int
    us_units: bool
    thc_mg: int | None
    cbd_mg: int | None
    thc_exact: str | None
    cbd_exact: str | None
    harvest_date: str | None = None
    packaged_date: str | None = None
    lab_name: str | None = None
    lab_test_date: str | None = None
    lab_batch: str | None = None
    symbol: str = ""  # the profile's symbol name, "" = none
    warnings_title: str = "WARNINGS"
    warnings: tuple[str, ...] = ()
    warnings_bold: bool = False
    banner: str = ""


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
    customer_name: str  # as printed: the full name or first name + customer number (profile)
    order_id: str
    printed_at: str  # ISO 8601 in the store's time zone, with offset
    timezone: str
    channel: str
    items: tuple[LabelItem, ...]
    jurisdiction: str
    warnings_title: str
    warnings: tuple[str, ...]
    station_id: str
    agent_id: str  # the agent's display name or staff number, never a badge value
    warnings_bold: bool = False
    banner: str = ""  # NOT_VERIFIED_BANNER under an unverified profile
    profile_version: str = ""  # the profile version's effective date
    containers: tuple[ContainerLabel, ...] = ()


class BoxItem(msgspec.Struct, frozen=True, kw_only=True):
    """One package in a wholesale box: its tag, product, batch, the package's quantity in its
    unit of measure (METRC `Quantity` as its exact text, `UnitOfMeasureName`, default `Each`)
    and the gross weight the station weighed for the manifest."""

    line: int
    uid: str
    product_name: str
    batch: str
    quantity: str  # "1", "28.35": exact text, never a float
    unit: str  # "Each", "Grams"
    gross_weight_mg: int | None = None


class BoxLabel(msgspec.Struct, frozen=True, kw_only=True):
    """Everything printed on a wholesale order's box label (edge/label/box.py); its canonical
    JSON is what the box's seal digests, like an exit label's."""

    kind: str = "wholesale_box"  # first: a box label never digests like an exit label
    dispensary_name: str  # the shipper
    license_number: str  # the shipper's license
    buyer_name: str
    buyer_license: str
    manifest_id: str  # central's (`MAN-<order id>`, set at release: docs/wholesale.md)
    ship_date: str  # the requested ship date, YYYY-MM-DD
    order_id: str
    printed_at: str
    timezone: str
    items: tuple[BoxItem, ...]
    jurisdiction: str
    station_id: str
    agent_id: str
    banner: str = ""


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
    product: str = ""  # the package's product name, "" when the scan named none
    location: str = ""  # its vault location


class MissingField(BadInput):
    """A label the profile requires a field of, and the data lacks it: it must not print."""

    def __init__(self, field: str, where: str) -> None:
        super().__init__(f"label not printed: required field {field!r} is missing ({where})")
        self.field = field
        self.where = where


def grams(mg: int) -> str:
    """Integer mg -> "3.50 g" (two decimals; three when the mg need them). No floats."""
    whole, rest = divmod(mg, 1000)
    if rest % 10 == 0:
        return f"{whole}.{rest // 10:02d} g"
    return f"{whole}.{rest:03d} g"


# 1 oz = 28.349523125 g exactly (avoirdupois): mg -> oz as an exact fraction.
OUNCE_MG = Fraction(28349523125, 1000000)


def ounces(mg: int) -> str:
    """Integer mg -> "0.123 oz", rounded DOWN to thousandths (a label never overstates)."""
    thousandths = Fraction(mg) * 1000 / OUNCE_MG
    whole = thousandths.numerator // thousandths.denominator
    return f"{whole // 1000}.{whole % 1000:03d} oz"


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


def customer_on_label(customer: Customer, privacy: str) -> str:
    """How the label names the customer: the full name, or first name + customer number."""
    if privacy == "full_name":
        return customer.name.strip()
    first = customer.name.strip().split(" ")[0] if customer.name.strip() else ""
    if not first or not customer.id:
        return ""
    return f"{first} #{customer.id}"


def agent_on_label(badge: Badge | None) -> str:
    """The agent as printed: the badge record's display name, else its staff number, else ""
    (never the badge value, a login credential)."""
    if badge is None:
        return ""
    if badge.name.strip():
        return badge.name.strip()
    if badge.staff_number.strip():
        return f"staff no. {badge.staff_number.strip()}"
    return ""


def build_label(
    order: Order,
    inventory: dict[str, Package],
    station: StationInfo,
    profile: Profile,
    agent: str,
    at: datetime,
    weighed: Mapping[tuple[int, str], int] | None = None,
    labs: Mapping[str, Sequence[LabResult]] | None = None,
) -> ExitLabel:
    """The exit label of a packed order (with a container label per weighed portion) under
    `profile`. `agent` is the display name or staff number to print; `weighed` maps (line, UID)
    to the captured net weight of a weighed portion (default: the line's labelled weight);
    `labs` maps a picked UID to the lab results that govern it (the COA values and link the
    profile asks for, edge/label/coa.py).

    BadInput when a line is not fully picked or a picked UID is not in the inventory;
    MissingField (a BadInput) when a field the profile requires is missing: such a label must
    not print."""
    items: list[LabelItem] = []
    for line in order.lines:
        items.extend(_items_of(order.order_id, line, inventory, weighed or {}))
    v = profile.version
    if v.coa_values or v.coa_link:
        where = f"{profile.jurisdiction} exit label, order {order.order_id}"
        items = [_with_coa(i, (labs or {}).get(i.uid, ()), profile, where) for i in items]
    categories = {i.category for i in items if i.category}
    warnings = tuple(w.text for w in profile.warnings_for("exit", categories))
    banner = "" if profile.verified else NOT_VERIFIED_BANNER
    containers = tuple(
        _container(item, inventory[item.uid], station, profile, banner)
        for item in items
        if item.weighed
    )
    label = ExitLabel(
        dispensary_name=station.dispensary_name,
        license_number=station.license_number,
        customer_name=customer_on_label(order.customer, v.privacy),
        order_id=order.order_id,
        printed_at=local_time(at, station.timezone).isoformat(timespec="seconds"),
        timezone=station.timezone,
        channel=order.channel,
        items=tuple(items),
        jurisdiction=station.jurisdiction,
        warnings_title=v.title,
        warnings=warnings,
        station_id=station.station_id,
        agent_id=agent.strip(),
        warnings_bold=v.type.warnings_bold,
        banner=banner,
        profile_version=v.effective.isoformat(),
        containers=containers,
    )
    _require_exit(label, profile)
    return label


_EXIT_TOP: dict[str, str] = {
    "dispensary_name": "dispensary_name",
    "license_number": "license_number",
    "order_id": "order_id",
    "customer": "customer_name",
    "date": "printed_at",
    "agent": "agent_id",
}
_ITEM: dict[str, str] = {
    "product_name": "product_name",
    "uid": "uid",
    "batch": "batch",
    "net_weight": "net_weight_mg",
    "thc": "thc_mg",
    "cbd": "cbd_mg",
}


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _require_exit(label: ExitLabel, profile: Profile) -> None:
    where = f"{profile.jurisdiction} exit label, order {label.order_id}"
    for name in profile.version.exit_fields:
        if name in _EXIT_TOP and _blank(getattr(label, _EXIT_TOP[name])):
            raise MissingField(name, where)
        if name == "warnings" and not label.warnings:
            raise MissingField("warnings", f"{where}: no warning of the profile applies")
        if name in _ITEM:
            for item in label.items:
                if _blank(getattr(item, _ITEM[name])):
                    raise MissingField(name, f"{where}, line {item.line}, package {item.uid}")


def _with_coa(
    item: LabelItem, results: Sequence[LabResult], profile: Profile, where: str
) -> LabelItem:
    """`item` with the COA values and link of its governing lab result; MissingField when the
    profile requires the link (or, with "coa_values" in exit_fields, a value) and it is lacking."""
    v = profile.version
    at = f"{where}, line {item.line}, package {item.uid}"
    result = coa.governing(results)
    values: list[tuple[str, str]] = []
    for name in v.coa_values:
        value = None if result is None else coa.value_of(result, name)
        if value is not None:
            values.append((name, value))
        elif "coa_values" in v.exit_fields:
            why = "no lab result" if result is None else f"lab result {result.id} has no {name}"
            raise MissingField(f"coa_values: {name}", f"{at}: {why}")
    link = ""
    if v.coa_link:
        document = None if result is None else result.document
        if result is None:
            raise MissingField("coa_link", f"{at}: no lab result")
        if not coa.is_link(document):
            why = "no document" if not document else f"document {document!r} is not a URL"
            raise MissingField("coa_link", f"{at}: lab result {result.id} has {why}")
        assert document is not None
        link = document.strip()
    return msgspec.structs.replace(item, coa_values=tuple(values), coa_link=link)


_CONTAINER: dict[str, str] = {
    "dispensary_name": "dispensary_name",
    "license_number": "license_number",
    "product_name": "product_name",
    "uid": "uid",
    "batch": "batch",
    "net_weight": "net_weight_mg",
    "thc": "thc_mg",
    "cbd": "cbd_mg",
    "harvest_date": "harvest_date",
    "packaged_date": "packaged_date",
    "lab_name": "lab_name",
    "lab_test_date": "lab_test_date",
    "lab_batch": "lab_batch",
    "symbol": "symbol",
}


def _container(
    item: LabelItem, package: Package, station: StationInfo, profile: Profile, banner: str
) -> ContainerLabel:
    v = profile.version
    where = f"{profile.jurisdiction} container label, line {item.line}, package {item.uid}"
    if not v.weigh_out:
        raise BadInput(
            f"label not printed: {profile.name} does not allow the store to package or label a "
            f"weighed portion ({v.weigh_out_source or 'label profile weigh_out = false'}): {where}"
        )
    assert item.net_weight_mg is not None  # a weighed item always has its net weight
    categories = {item.category} if item.category else set()
    container = ContainerLabel(
        dispensary_name=station.dispensary_name,
        license_number=station.license_number,
        product_name=item.product_name,
        uid=item.uid,
        batch=item.batch,
        line=item.line,
        net_weight_mg=item.net_weight_mg,
        us_units="net_weight_us" in v.container_fields,
        thc_mg=item.thc_mg,
        cbd_mg=item.cbd_mg,
        thc_exact=item.thc_exact,
        cbd_exact=item.cbd_exact,
        harvest_date=package.HarvestDate,
        packaged_date=package.PackagedDate,
        lab_name=package.LabName,
        lab_test_date=package.LabTestDate,
        lab_batch=package.LabBatch,
        symbol=profile.symbol.name if profile.symbol_on("container") and profile.symbol else "",
        warnings_title=v.title,
        warnings=tuple(w.text for w in profile.warnings_for("container", categories)),
        warnings_bold=v.type.warnings_bold,
        banner=banner,
    )
    for name in v.container_fields:
        if name in _CONTAINER and _blank(getattr(container, _CONTAINER[name])):
            raise MissingField(name, where)
        if name == "warnings" and not container.warnings:
            raise MissingField("warnings", f"{where}: no warning of the profile applies")
    return container


def build_slip(
    order_id: str,
    halt: HaltInfo,
    station: StationInfo,
    agent_id: str,
    at: datetime,
    context: SlipContext | None = None,
) -> HaltSlip:
    """The discrepancy slip of a halted order, from the slip table (edge.label.slips): what
    happened, what to do and who clears it for the halt's code, with the package's product name
    and vault location and, for a wrong batch, where the right one is."""
    ctx = context or SlipContext()
    text = slip_text(halt, ctx)
    return HaltSlip(
        order_id=order_id,
        code=halt.code,
        what_happened=text.what_happened,
        what_to_do=text.what_to_do,
        scanned=halt.raw or (halt.uid or ""),
        order_line=halt.line,
        clears=text.clears,
        station_id=station.station_id,
        agent_id=agent_id,
        at=local_time(at, station.timezone).isoformat(timespec="seconds"),
        timezone=station.timezone,
        product=ctx.product,
        location=ctx.location,
    )


def _items_of(
    order_id: str,
    line: OrderLine,
    inventory: dict[str, Package],
    weighed: Mapping[tuple[int, str], int],
) -> list[LabelItem]:
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
        common = {
            "line": line.line,
            "product_name": package.Item.Name,
            "uid": uid,
            "batch": package.Batch,
            "quantity": quantity,
            "category": package.Category or "",
        }
        if not line.weigh or line.gross:  # a gross weight (wholesale) is no portion
            items.append(
                LabelItem(
                    **common,  # type: ignore[arg-type]
                    net_weight_mg=package.NetWeightMg,
                    thc_mg=package.ThcMg,
                    cbd_mg=package.CbdMg,
                )
            )
            continue
        net = weighed.get((line.line, uid), line.labelled_weight_mg)
        if net is None:
            raise MissingField("net_weight", f"order {order_id} line {line.line}: not weighed")
        thc = _portion(package.ThcMg, net, package.NetWeightMg)
        cbd = _portion(package.CbdMg, net, package.NetWeightMg)
        items.append(
            LabelItem(
                **common,  # type: ignore[arg-type]
                net_weight_mg=net,
                thc_mg=None if thc is None else printed_mg(thc),
                cbd_mg=None if cbd is None else printed_mg(cbd),
                weighed=True,
                thc_exact=None if thc is None else exact_text(thc),
                cbd_exact=None if cbd is None else exact_text(cbd),
            )
        )
    return items


def _portion(bulk_mg: int | None, net_mg: int, bulk_net_mg: int | None) -> Fraction | None:
    """The portion's exact potency, or None when the bulk package lacks what the rule needs
    (then the label lacks the field and is refused where the profile requires it)."""
    try:
        return portion_mg(bulk_mg, net_mg, bulk_net_mg)
    except PotencyUnknown:
        return None
    except ValueError as exc:
        raise BadInput(f"label not printed: {exc}") from exc


def canonical_content(label: ExitLabel | BoxLabel) -> bytes:
    """The bytes the seal digests: the label as JSON, fields in declaration order. An exit label
    item's COA fields appear only when the profile printed them (so a label without a COA digests
    as it did before they existed); a box label starts with its `kind`, so it never digests like
    an exit label."""
    if isinstance(label, BoxLabel):
        return msgspec.json.encode(label)
    body = msgspec.to_builtins(label)
    for item in body["items"]:
        for name in ("coa_values", "coa_link"):
            if not item[name]:
                del item[name]
    return msgspec.json.encode(body)


def seal_code_for(label: ExitLabel | BoxLabel) -> str:
    """`SEAL-<order id>-<first 16 hex of SHA-256(canonical content)>`, upper-case hex."""
    digest = hashlib.sha256(canonical_content(label)).hexdigest()[:16].upper()
    return f"{SEAL_PREFIX}{label.order_id}-{digest}"


def verify_seal(scan: str, label: ExitLabel | BoxLabel) -> bool:
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
