"""The wholesale box label: built from a wholesale order, laid out at 58 and 80 mm, encoded to
ESC/POS and decoded back (every field and the seal QR read from the bytes), rendered to the PNG
preview, refused with a slip when a required field is missing; on the real print spool with a
simulated printer, and through `packstation label preview`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from PIL import Image

from drivers.printer.escpos_decode import DecodedJob, decode
from drivers.printer.escpos_encode import encode
from drivers.printer.render_png import MARGIN, qr_matrix
from drivers.printer.sim import SimPrinter
from edge.cli import run
from edge.common.errors import BadInput, ExitCode
from edge.label.box import build_box, gross_grams, layout_box
from edge.label.content import BoxLabel, MissingField, seal_code_for, seal_order_id, verify_seal
from edge.label.inputs import parse_inventory
from edge.label.preview import render_document
from edge.workflow.ports import LabelJob, Order, Pick
from tests.support.labels import spool_jobs
from tests.support.printer import STATION, profile, write_station_toml
from tests.support.station import real_inventory, tag

AT = datetime(2026, 12, 1, 20, 5, tzinfo=UTC)  # 14:05 CST
BUYER = {"license": "C11-0000123-LIC", "name": "Green Shelf Retail LLC"}


def package(n: int, batch: str = "B-1", **extra: Any) -> dict[str, Any]:
    return {
        "Label": tag(n),
        "Item": {"Name": f"Blue Dream 3.5g jar {n}"},
        "Sku": "FLW-BD-35",
        "Batch": batch,
        "Quantity": 1,
        "UnitOfMeasureName": "Each",
        **extra,
    }


def wholesale(picks: list[list[str]], **extra: Any) -> dict[str, Any]:
    return {
        "order_id": "7001",
        "channel": "wholesale",
        "customer": {"id": "B-77", "name": BUYER["name"]},
        "buyer": BUYER,
        "ship_date": "2026-12-03",
        "manifest_id": "MAN-7001",
        "lines": [
            {"line": i, "sku": "FLW-BD-35", "quantity": len(p), "picked": p, "gross": True}
            for i, p in enumerate(picks, 1)
        ],
        **extra,
    }


INVENTORY = [
    package(1),
    package(2),
    package(4, "E-1", Quantity=28.350, UnitOfMeasureName="Grams"),
]
GROSS = {(1, tag(1)): 5190, (1, tag(2)): 5230, (2, tag(4)): 31450}


def box(
    order: dict[str, Any] | None = None, inventory: list[dict[str, Any]] | None = None
) -> BoxLabel:
    o = msgspec.convert(order or wholesale([[tag(1), tag(2)], [tag(4)]]), Order)
    raw = json.dumps(inventory or INVENTORY).replace('"Quantity": 28.35,', '"Quantity": 28.350,')
    inv = parse_inventory(raw.encode())  # 28.350 as METRC wrote it: printed as written
    return build_box(o, inv, STATION, profile("IL"), "Ada Tech", AT, GROSS)


def printed(label: BoxLabel, width: int) -> DecodedJob:
    return decode(encode(layout_box(label, width, 6)))  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [58, 80])
def test_every_field_and_the_seal_read_back_from_the_bytes(width: int) -> None:
    label = box()
    job = printed(label, width)
    cols = 32 if width == 58 else 48
    assert all(len(line) <= cols for line in job.lines)
    text = " ".join(" ".join(job.lines).split())
    for shown in (
        "WHOLESALE BOX",
        f"Ship from: {STATION.dispensary_name}",
        f"License {STATION.license_number}",
        f"Ship to: {BUYER['name']}",
        f"License {BUYER['license']}",
        "MANIFEST MAN-7001",
        "Ship date 2026-12-03",
        "Packed 2026-12-01 14:05 CST",
        "Packages: 3",
        "Gross total: 41.870 g",
        "Agent Ada Tech",
    ):
        assert shown in text, shown
    # every package: tag, product, batch, quantity in its unit (exact text), gross weight
    for n, (uid, product, batch, qty, gross) in enumerate(
        [
            (tag(1), "Blue Dream 3.5g jar 1", "B-1", "Qty 1 Each", "Gross 5.190 g"),
            (tag(2), "Blue Dream 3.5g jar 2", "B-1", "Qty 1 Each", "Gross 5.230 g"),
            (tag(4), "Blue Dream 3.5g jar 4", "E-1", "Qty 28.350 Grams", "Gross 31.450 g"),
        ],
        1,
    ):
        assert f"{n}/3 {product}" in text and f"Tag {uid}" in text and f"Batch {batch}" in text
        assert qty in text and gross in text
    # the seal QR is the only code, verifies, and names the order
    assert job.qr_payloads == [seal_code_for(label)]
    assert verify_seal(job.qr_payloads[0], label) and seal_order_id(job.qr_payloads[0]) == "7001"
    assert "Customer" not in text and "WARNINGS" not in text  # no retail fields on a B2B box


def test_the_seal_digests_every_printed_field() -> None:
    label = box()
    seal = seal_code_for(label)
    changed = {
        "dispensary_name": "Other Store",
        "license_number": "999",
        "buyer_name": "Other Buyer",
        "buyer_license": "C11-9",
        "manifest_id": "MAN-7002",
        "ship_date": "2026-12-04",
        "printed_at": "2026-12-01T14:06:00-06:00",
        "station_id": "station-99",
        "agent_id": "Bob",
        "banner": "X",
    }
    for name, value in changed.items():
        assert seal_code_for(msgspec.structs.replace(label, **{name: value})) != seal, name
    first = label.items[0]
    for name, value in {
        "uid": tag(9),
        "product_name": "x",
        "batch": "B-9",
        "quantity": "2",
        "unit": "Grams",
        "gross_weight_mg": 5191,
        "line": 9,
    }.items():
        items = (msgspec.structs.replace(first, **{name: value}), *label.items[1:])
        assert seal_code_for(msgspec.structs.replace(label, items=items)) != seal, name
    assert seal_code_for(box()) == seal  # and only the content: the same order seals the same


@pytest.mark.parametrize("width", [58, 80])
def test_a_long_package_list_wraps_and_numbers_every_package(width: int) -> None:
    many = [
        package(n, Item={"Name": f"Wedding Cake Live Resin Cartridge 1g number {n}"})
        for n in range(10, 50)
    ]
    uids = [p["Label"] for p in many]
    o = msgspec.convert(wholesale([uids]), Order)
    gross = {(1, u): 2000 + i for i, u in enumerate(uids)}
    label = build_box(
        o, parse_inventory(json.dumps(many).encode()), STATION, profile("IL"), "A", AT, gross
    )
    job = printed(label, width)
    cols = 32 if width == 58 else 48
    assert all(len(line) <= cols for line in job.lines)
    joined = " ".join(" ".join(job.lines).split())
    for n, uid in enumerate(uids, 1):
        assert f"{n}/40 Wedding Cake Live Resin Cartridge 1g number {n + 9}" in joined
        assert job.lines.count(f"  Tag {uid}") == 1  # a tag never breaks across lines
    positions = [joined.index(f"Tag {u}") for u in uids]
    assert positions == sorted(positions)  # in order, down the roll
    assert "Packages: 40" in joined and job.qr_payloads == [seal_code_for(label)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"manifest_id": None}, "manifest_id"),
        ({"buyer": {"license": "C11-1", "name": ""}}, "buyer_name"),
        ({"ship_date": None, "channel": "wholesale"}, "ship_date"),
    ],
)
def test_a_missing_required_field_refuses_the_box_label(change: dict[str, Any], field: str) -> None:
    with pytest.raises(MissingField) as err:
        box({**wholesale([[tag(1), tag(2)], [tag(4)]]), **change})
    assert err.value.field == field and "order 7001" in err.value.where


def test_a_package_without_its_quantity_refuses_the_box_label() -> None:
    no_qty = [package(1), package(2), {**package(4), "Quantity": None}]
    with pytest.raises(MissingField) as err:
        box(inventory=no_qty)
    assert err.value.field == "quantity" and tag(4) in err.value.where
    with pytest.raises(BadInput, match="not in inventory"):
        box(inventory=[package(1), package(2)])


def test_the_preview_shows_the_box_label_and_its_readable_seal() -> None:
    label = box()
    rendered = render_document(layout_box(label, 58, 6))
    assert rendered.image.width == 384 + 2 * MARGIN
    text = " ".join(" ".join(rendered.lines).split())
    assert "MANIFEST MAN-7001" in text and f"Tag {tag(4)}" in text
    ((payload, (left, top, _r, _b)),) = rendered.qr_boxes
    assert payload == seal_code_for(label)
    matrix = qr_matrix(payload)
    img = rendered.image.convert("L")
    quiet = 4 * 6
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            x, y = left + quiet + c * 6 + 3, top + quiet + r * 6 + 3
            assert (img.getpixel((x, y)) == 0) is dark, (r, c)


def job_of(order: dict[str, Any]) -> LabelJob:
    o = msgspec.convert(order, Order)
    return LabelJob(
        job_id="7001-label-1",
        order=o,
        picks=[Pick(line=1, uid=tag(1), raw=tag(1), gross_mg=5190)],
        agent="BADGE-ALICE",
        at="2026-12-01T14:05:00-06:00",
    )


def counted_inventory() -> list[dict[str, Any]]:
    """The seed inventory with METRC's Quantity and unit on every package."""
    return [{**p, "Quantity": 1, "UnitOfMeasureName": "Each"} for p in real_inventory()]


def one_line(**extra: Any) -> dict[str, Any]:
    order = wholesale([[tag(1)]], **extra)
    order["lines"][0].pop("picked")
    return order


def test_the_spool_prints_the_box_label_of_a_wholesale_order(tmp_path: Path) -> None:
    order = one_line()
    with SimPrinter() as sim:
        (outcome,) = spool_jobs(tmp_path, sim, job_of(order), inventory=counted_inventory())
        (printed_job,) = sim.wait_for_jobs(1)
    text = " ".join(" ".join(printed_job.decoded.lines).split())
    assert outcome.ok and printed_job.decoded.qr_payloads == [outcome.seal_code]
    assert "MANIFEST MAN-7001" in text and f"Tag {tag(1)}" in text and "Gross 5.190 g" in text
    assert f"Ship to: {BUYER['name']}" in text and "Agent Alice" in text


def test_the_spool_refuses_a_box_label_without_its_manifest_id_with_a_slip(tmp_path: Path) -> None:
    order = one_line(manifest_id=None)
    with SimPrinter() as sim:
        (outcome,) = spool_jobs(tmp_path, sim, job_of(order), inventory=counted_inventory())
        (slip,) = sim.wait_for_jobs(1)
    assert not outcome.ok and "required field 'manifest_id' is missing" in outcome.reason
    text = " ".join(" ".join(slip.decoded.lines).split())
    assert "Reason: label_missing_field" in text and "it would lack manifest_id" in text
    assert slip.decoded.qr_payloads == []


def test_label_preview_renders_a_wholesale_orders_box_label(tmp_path: Path) -> None:
    order_path, inv_path = tmp_path / "order.json", tmp_path / "inventory.json"
    order_path.write_text(json.dumps(wholesale([[tag(1), tag(2)], [tag(4)]])))
    inv_path.write_text(json.dumps(INVENTORY))
    out = tmp_path / "box.png"
    args = ["--inventory", str(inv_path), "--config", str(write_station_toml(tmp_path))]
    code = run(
        [
            "label",
            "preview",
            str(order_path),
            *args,
            "--at",
            "2026-12-01T20:05:00Z",
            "--out",
            str(out),
        ]
    )
    assert code == ExitCode.OK
    with Image.open(out) as img:
        text = " ".join(img.text["packstation:text"].split())  # type: ignore[attr-defined]
        assert "WHOLESALE BOX" in text and "MANIFEST MAN-7001" in text
        assert img.text["packstation:qr"].startswith("SEAL-7001-")  # type: ignore[attr-defined]
    assert gross_grams(5190) == "5.190 g"
