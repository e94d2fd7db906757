"""The wholesale box label: what a sealed wholesale (B2B) order's box carries instead of the retail
exit label.

A transfer between licensees has no customer, no purchase limit and no consumer warnings; the
receiving licensee and the driver need to see who ships it, to whom, on which manifest and what is
inside. So the box label prints the shipper (store name and license), the buyer's name and license,
central's manifest id (`MAN-<order id>`, stamped on the order at release: docs/wholesale.md), the
requested ship date and every package (tag, product, batch, the package's quantity in its unit of
measure and the gross weight the station weighed for the manifest), then the seal QR. As for the
exit label, the seal code is `SEAL-<order id>-<16 hex>` over the label's canonical content
(edge.label.content.canonical_content), so it digests every printed field.

Required: shipper name and license, buyer name and license, manifest id, ship date, and per
package its tag, product, batch and quantity (the unit defaults to `Each`, as in INVENTORY.json). A missing one refuses the label
(`MissingField`: the station prints a slip naming it and the order waits at the label step).
The gross weight prints when the package was weighed (the manifest leaves `GrossWeight` empty
otherwise).

Long package lists wrap at spaces and number each package `n/N`, so a roll of any length reads
in order on 58 mm (32 columns) and 80 mm (48 columns) paper.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from drivers.printer.document import Block, Document, PaperWidth, Qr, Text, columns_for
from edge.common.errors import BadInput
from edge.label.content import (
    BoxItem,
    BoxLabel,
    MissingField,
    StationInfo,
    local_time,
    seal_code_for,
)
from edge.label.inputs import Package
from edge.label.layout import _human_time, _lines, _pack, _rule
from edge.label.profile import NOT_VERIFIED_BANNER, Profile
from edge.workflow.ports import Order


def build_box(
    order: Order,
    inventory: dict[str, Package],
    station: StationInfo,
    profile: Profile,
    agent: str,
    at: datetime,
    gross: Mapping[tuple[int, str], int] | None = None,
) -> BoxLabel:
    """The box label of a packed wholesale order. `gross` maps (line, UID) to the gross weight
    weighed for the manifest. BadInput when a line is not fully picked or a package is not in
    the inventory; MissingField when a required field is missing."""
    where = f"wholesale box label, order {order.order_id}"
    items: list[BoxItem] = []
    for line in order.lines:
        uids = line.picked if line.picked else ([line.uid] if line.uid else [])
        if not uids:
            raise BadInput(f"order {order.order_id} line {line.line}: no picked package")
        if line.picked is not None and len(line.picked) != line.quantity:
            raise BadInput(
                f"order {order.order_id} line {line.line}: {len(line.picked)} packages picked, "
                f"{line.quantity} ordered"
            )
        for uid in uids:
            package = inventory.get(uid)
            if package is None:
                raise BadInput(
                    f"order {order.order_id} line {line.line}: package {uid} is not in inventory"
                )
            items.append(_item(line.line, uid, package, (gross or {}).get((line.line, uid)), where))
    buyer = order.buyer
    label = BoxLabel(
        dispensary_name=station.dispensary_name.strip(),
        license_number=station.license_number.strip(),
        buyer_name=(buyer.name if buyer is not None else "").strip(),
        buyer_license=(buyer.license if buyer is not None else "").strip(),
        manifest_id=(order.manifest_id or "").strip(),
        ship_date=(order.ship_date or "")[:10],
        order_id=order.order_id,
        printed_at=local_time(at, station.timezone).isoformat(timespec="seconds"),
        timezone=station.timezone,
        items=tuple(items),
        jurisdiction=station.jurisdiction,
        station_id=station.station_id,
        agent_id=agent.strip(),
        banner="" if profile.verified else NOT_VERIFIED_BANNER,
    )
    for name, why in (
        ("dispensary_name", "the shipper: [station] dispensary_name"),
        ("license_number", "the shipper's license: [station] license_number"),
        ("buyer_name", "the order's buyer.name"),
        ("buyer_license", "the order's buyer.license"),
        ("manifest_id", "central assigns it when it releases the order"),
        ("ship_date", "the order's ship_date"),
    ):
        if not getattr(label, name):
            raise MissingField(name, f"{where}: {why}")
    return label


def _item(line: int, uid: str, package: Package, gross_mg: int | None, where: str) -> BoxItem:
    at = f"{where}, line {line}, package {uid}"
    # INVENTORY.json's documented default unit (docs/formats.md)
    quantity, unit = package.quantity_text(), (package.UnitOfMeasureName or "").strip() or "Each"
    if not package.Item.Name.strip():
        raise MissingField("product_name", at)
    if not package.Batch.strip():
        raise MissingField("batch", at)
    if quantity is None:
        raise MissingField("quantity", f"{at}: the inventory's Quantity")
    return BoxItem(
        line=line,
        uid=uid,
        product_name=package.Item.Name.strip(),
        batch=package.Batch.strip(),
        quantity=quantity,
        unit=unit,
        gross_weight_mg=gross_mg,
    )


def gross_grams(mg: int) -> str:
    """`5190` -> "5.190 g": three decimals, as the manifest prints a `GrossWeight`."""
    whole, rest = divmod(mg, 1000)
    return f"{whole}.{rest:03d} g"


def layout_box(label: BoxLabel, width_mm: PaperWidth = 80, qr_module_dots: int = 6) -> Document:
    """The box label as printed."""
    cols = columns_for(width_mm)
    big = columns_for(width_mm, "double")
    blocks: list[Block] = []
    if label.banner:
        blocks += _lines(label.banner, big, bold=True, align="center", size="double")
    blocks += _lines("WHOLESALE BOX", big, bold=True, align="center", size="double")
    blocks += _lines(f"Ship from: {label.dispensary_name}", cols, bold=True)
    blocks += _lines(f"License {label.license_number}", cols, indent="  ")
    blocks += _lines(f"Ship to: {label.buyer_name}", cols, bold=True)
    blocks += _lines(f"License {label.buyer_license}", cols, indent="  ")
    blocks.append(_rule(cols))
    blocks += _lines(f"MANIFEST {label.manifest_id}", big, bold=True, size="double")
    blocks += _lines(f"Order {label.order_id}   Ship date {label.ship_date}", cols)
    when = _human_time(label.printed_at, label.timezone)
    blocks += _lines(f"Packed {when} ({label.timezone})", cols)
    blocks.append(_rule(cols))
    total = len(label.items)
    for n, item in enumerate(label.items, 1):
        blocks += _lines(f"{n}/{total} {item.product_name}", cols, bold=True)
        blocks += _lines(f"Tag {item.uid}", cols, indent="  ")
        blocks += _lines(f"Batch {item.batch}   Line {item.line}", cols, indent="  ")
        fields = [f"Qty {item.quantity} {item.unit}"]
        if item.gross_weight_mg is not None:
            fields.append(f"Gross {gross_grams(item.gross_weight_mg)}")
        blocks += _lines_packed(fields, cols, "  ")
    blocks.append(_rule(cols))
    summary = [f"Packages: {total}", f"Lines: {len({i.line for i in label.items})}"]
    weights = [i.gross_weight_mg for i in label.items]
    if weights and all(w is not None for w in weights):
        summary.append(f"Gross total: {gross_grams(sum(w for w in weights if w is not None))}")
    blocks += _lines_packed(summary, cols, "", bold=True)
    blocks += _lines(f"Manifest {label.manifest_id}  Order {label.order_id}", cols)
    blocks += _lines(f"Station {label.station_id}  Agent {label.agent_id}", cols)
    seal = seal_code_for(label)
    blocks.append(Qr(seal, qr_module_dots))
    blocks += _lines(seal, cols, align="center")
    blocks += _lines("Scan this code to seal the box", cols, align="center")
    return Document(tuple(blocks), width_mm, title=f"box {label.order_id}")


def _lines_packed(fields: list[str], cols: int, indent: str, *, bold: bool = False) -> list[Block]:
    out: list[Block] = []
    for line in _pack(fields, cols, indent):
        out += _lines(line, cols, bold=bold) if len(line) > cols else [Text(line, bold)]
    return out
