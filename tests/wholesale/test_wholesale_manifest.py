"""Pack to a manifest: a wholesale order packed on the real daemon (batch lock, no purchase limits,
sealed `ready_to_ship`), its journal turned into the manifest and invoice PDF (read back with
pypdf and compared with the journal) and into METRC's outgoing transfer template, posted by the
real METRC client to the emulator."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pypdf import PdfReader

from central.manifest import (
    Manifest,
    ManifestError,
    Transport,
    from_events,
    render_coa_pdf,
    render_pdf,
    transfer_template,
)
from central.statesys.emulator import MetrcEmulator
from central.statesys.metrc import MetrcClient
from central.wholesale import manifest_id_for
from drivers.printer.escpos_decode import DecodedJob
from drivers.printer.sim import SimPrinter
from drivers.scale.sim import SimScale
from edge.common.labs import LabResult, encode_set
from edge.common.protocol import Published
from edge.sim.technician import LIFT_OFF_S
from tests.support.station import Daemon, journal_events, real_inventory, tag, write_real_station

pytestmark = pytest.mark.slow  # the real daemon as a subprocess

SHIPPER = "C11-0000001-LIC"
BUYER = "C11-0000123-LIC"
WHOLESALE = {
    "order_id": "7001",
    "channel": "wholesale",
    "customer": {"id": "B-77", "name": "Green Shelf Retail LLC"},
    "buyer": {"license": BUYER, "name": "Green Shelf Retail LLC"},
    "ship_date": "2026-12-03",
    "manifest_id": "MAN-7001",  # central's, stamped at release (central/wholesale.py)
    "lines": [
        {"line": 1, "sku": "FLW-BD-35", "quantity": 2, "weigh": True, "gross": True},
        {"line": 2, "uid": tag(4), "weigh": True, "gross": True},
    ],
}


class Packed(NamedTuple):
    events: list[dict[str, Any]]  # the station's journal
    box: DecodedJob  # the box label as the printer got it


@pytest.fixture
def packed_order(tmp_path: Path) -> Iterator[Packed]:
    with SimPrinter() as printer, SimScale("mt-sics") as scale:
        config = write_real_station(tmp_path, printer.target, scale.port)
        seed = tmp_path / "seed" / "orders.json"
        seed.write_text(json.dumps([*json.loads(seed.read_text()), WHOLESALE]))
        inventory = tmp_path / "seed" / "inventory.json"  # METRC's quantity in its unit
        counted = [{**p, "Quantity": 1, "UnitOfMeasureName": "Each"} for p in real_inventory()]
        inventory.write_text(json.dumps(counted))
        with Daemon(config) as d:
            assert d.send("scan BADGE-ALICE")["ok"]
            assert d.send("scan ORD-7001")["phase"] == "picking"

            def weighed(uid: str, gross_mg: int) -> None:
                scale.place(gross_mg)  # the package on the scale, container and all
                d.send(f"scan {uid}")
                d.wait_phase("picking" if uid != tag(4) else "seal", 15)
                scale.place(0)  # off the pan: the driver must see it empty before the next
                time.sleep(LIFT_OFF_S)

            weighed(tag(1), 5190)  # batch B-1 fixes line 1
            halted = d.send(f"scan {tag(3)}")  # B-2: refused by the batch lock
            assert halted["phase"] == "halted"
            d.send("scan BADGE-BOSS")
            assert d.send("scan BADGE-BOSS")["phase"] == "picking"
            weighed(tag(2), 5230)
            weighed(tag(4), 21450)  # 20 g of edibles: no purchase limit on a transfer
            box = printer.wait_for_jobs(2)[-1].decoded
            (payload,) = box.qr_payloads
            assert d.send(f"scan {payload}")["phase"] == "ready"
        yield Packed(journal_events(tmp_path), box)


@pytest.fixture
def packed(packed_order: Packed) -> list[dict[str, Any]]:
    return packed_order.events


def test_the_box_label_lists_exactly_the_packed_packages_and_seals_the_box(
    packed_order: Packed,
) -> None:
    events, box = packed_order
    text = " ".join(" ".join(box.lines).split())
    accepted = [
        e["body"] for e in events if e["type"] == "verdict" and e["body"]["outcome"] == "accepted"
    ]
    weights = {e["body"]["uid"]: e["body"]["net_mg"] for e in events if e["type"] == "weight"}
    printed_tags = re.findall(r"Tag (\S+)", text)
    assert printed_tags == [v["uid"] for v in accepted] == [tag(1), tag(2), tag(4)]
    assert tag(3) not in text  # refused by the batch lock: not in the box
    inventory = {p["Label"]: p for p in real_inventory()}
    for n, v in enumerate(accepted, 1):
        pkg = inventory[v["uid"]]
        assert f"{n}/3 {pkg['Item']['Name']} Tag {v['uid']} Batch {pkg['Batch']}" in text
        grams, mg = divmod(weights[v["uid"]], 1000)
        assert f"Qty 1 Each Gross {grams}.{mg:03d} g" in text
    for shown in (
        "WHOLESALE BOX",
        f"Ship to: Green Shelf Retail LLC License {BUYER}",
        "MANIFEST MAN-7001",
        "Ship date 2026-12-03",
        "Packages: 3 Lines: 2 Gross total: 31.870 g",
    ):
        assert shown in text, shown
    assert "Customer" not in text
    # the journal's seal is the box label's QR, and the seal scan matched it
    (printed_seal,) = [e["body"]["seal_code"] for e in events if e["type"] == "label_printed"]
    assert box.qr_payloads == [printed_seal]
    (seal,) = [e["body"] for e in events if e["type"] == "seal"]
    assert seal["ok"] and seal["code"] == printed_seal
    # central's manifest carries the id the box label printed
    assert manifest_id_for("7001") == "MAN-7001"


COA_B1 = LabResult(
    id="coa:Desert Labs:DL-1",
    source="coa",
    package=None,
    batch="B-1",
    lab="Desert Labs",
    tested="2026-11-01",
    passed=True,
    expires="2027-11-01",
    document="https://coa.example/DL-1.pdf",
    values={"THC": "21.4", "CBD": "0.6", "terpene:Limonene": "0.81"},
    lab_license="LAB-00042",
    sample="DL-1",
)
EDIBLE = LabResult(  # as the METRC lab pull files it, for the package itself
    id="metrc:9101",
    source="metrc",
    package=tag(4),
    batch=None,
    lab="CO PERCEPTIVE TESTING LABS, LLC",
    tested="2026-10-15",
    passed=True,
    expires="2027-04-15",
    document="5501",
    values={"test:THC (mg/serving)": "9.8"},
    lab_license="405R-X0001",
    sample="9101",
)


def published(events: list[dict[str, Any]]) -> list[Published]:
    return [
        Published(
            gseq=i + 1,
            station_id="station-01",
            seq=e["seq"],
            event_id=str(e["seq"]),
            at="",
            type=e["type"],
            body=json.dumps(e["body"]).encode(),
            hash=b"",
        )
        for i, e in enumerate(events)
    ]


def check_coa_page(text: str, result: LabResult, batch: str, batch_of: dict[str, str]) -> None:
    """A COA page prints the lab record, and exactly the packed packages of its batch."""
    assert f"batch {batch}" in text and "For manifest MAN-7001" in text
    for field in (result.lab, result.lab_license, result.sample, result.tested):
        assert field and field in text
    assert result.expires and result.expires in text and "pass" in text
    assert result.document and result.document in text
    covered = [label for label, b in batch_of.items() if b == batch]
    assert f"Covers {len(covered)} packed package(s)" in text
    assert [label for label in batch_of if label in text] == covered


def _check_packet(
    m: Manifest,
    journal_picks: list[tuple[str, int]],
    inventory: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    """The printed packet read back: manifest, invoice and one COA page per batch shipped."""
    coa, edible = COA_B1, EDIBLE
    pdf = render_pdf(m)
    (tmp_path / "manifest.pdf").write_bytes(pdf)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) == 4  # manifest, invoice, one COA page per batch shipped
    manifest, invoice, coa_b1, coa_e1 = pages
    for label, _ in journal_picks:
        assert manifest.count(label) == 1 and invoice.count(label) == 1
    assert tag(3) not in "".join(pages)  # refused, never packed
    assert f"Packages: {len(journal_picks)}" in manifest and BUYER in manifest
    assert "Sam Driver" in manifest and "8ABC123" in manifest and coa.document in manifest
    assert "Total packages: 3" in invoice
    for grams in ("5.190 g", "5.230 g", "21.450 g"):
        assert grams in manifest

    batch_of = {label: inventory[label]["Batch"] for label, _ in journal_picks}
    check_coa_page(coa_b1, coa, "B-1", batch_of)
    check_coa_page(coa_e1, edible, "E-1", batch_of)
    alone = PdfReader(io.BytesIO(render_coa_pdf(m))).pages
    assert len(alone) == 2 and "DL-1" in alone[0].extract_text()


def test_the_manifest_pdf_and_the_template_list_exactly_the_packed_packages(
    packed: list[dict[str, Any]], tmp_path: Path
) -> None:
    verdicts = [e["body"] for e in packed if e["type"] == "verdict"]
    assert [v["verdict"] for v in verdicts] == ["match", "wrong_batch", "match", "match"]
    assert "locked to batch B-1" in verdicts[1]["reason"]
    status = [e["body"] for e in packed if e["type"] == "order_status"][-1]
    assert status["status"] == "ready_to_ship" and status["channel"] == "wholesale"
    journal_picks = [(v["uid"], v["line"]) for v in verdicts if v["outcome"] == "accepted"]

    inventory = {p["Label"]: p for p in real_inventory()}
    coa, edible = COA_B1, EDIBLE
    labs = {"batch:B-1": encode_set([coa]), f"package:{tag(4)}": encode_set([edible])}
    transport = Transport(
        driver_name="Sam Driver",
        driver_license="D1234567",
        vehicle_make="Ford",
        vehicle_model="Transit",
        vehicle_plate="8ABC123",
    )
    m = from_events(published(packed), "7001", SHIPPER, inventory, labs, transport)
    assert [(p.label, p.line) for p in m.packages] == journal_picks
    assert [p.gross_mg for p in m.packages] == [5190, 5230, 21450]
    assert m.buyer_license == BUYER and m.coas() == {"B-1": coa.document, "E-1": "5501"}

    _check_packet(m, journal_picks, inventory, tmp_path)

    template = transfer_template(m)
    (dest,) = template["Destinations"]
    assert [p["PackageLabel"] for p in dest["Packages"]] == [t for t, _ in journal_picks]
    assert dest["RecipientLicenseNumber"] == BUYER
    assert [p["GrossWeight"] for p in dest["Packages"]] == [
        Decimal("5.190"),
        Decimal("5.230"),
        Decimal("21.450"),
    ]
    assert {p["GrossUnitOfWeightName"] for p in dest["Packages"]} == {"Grams"}

    async def post() -> tuple[str, list[dict[str, Any]]]:
        emulator = MetrcEmulator()
        emulator.load_packages(SHIPPER, real_inventory())
        url = await emulator.start()
        client = MetrcClient(url, SHIPPER, "vendor-key", "user-key")
        try:
            remote = await client.create_transfer(template)
        finally:
            await client.close()
            await emulator.stop()
        return remote, list(emulator.facilities[SHIPPER].templates.values())

    remote, stored = asyncio.run(post())
    assert remote.isdigit() and [t["Name"] for t in stored] == ["MAN-7001"]
    assert m.manifest_id == WHOLESALE["manifest_id"]  # the id the box label printed
    assert stored[0]["Destinations"][0]["Packages"] == dest["Packages"]


def test_an_unsealed_or_retail_order_has_no_manifest(packed: list[dict[str, Any]]) -> None:
    before_seal = [e for e in packed if e["type"] != "order_status"]
    with pytest.raises(ManifestError, match="not sealed"):
        from_events(published(before_seal), "7001", SHIPPER, {}, {})
    retail = [
        {**e, "body": {**e["body"], "order": {**e["body"]["order"], "channel": "pickup"}}}
        if e["type"] == "order_loaded"
        else e
        for e in packed
    ]
    with pytest.raises(ManifestError, match="not a wholesale order"):
        from_events(published(retail), "7001", SHIPPER, {}, {})


def test_a_batch_without_a_current_passing_result_is_not_shipped(
    packed: list[dict[str, Any]],
) -> None:
    inventory = {p["Label"]: p for p in real_inventory()}
    events = published(packed)

    def result(**kw: Any) -> LabResult:
        base: dict[str, Any] = {
            "id": "coa:Desert Labs:DL-1",
            "source": "coa",
            "package": None,
            "batch": "B-1",
            "lab": "Desert Labs",
            "tested": "2026-11-01",
            "passed": True,
        }
        return LabResult(**{**base, **kw})

    edible = {f"package:{tag(4)}": encode_set([result(package=tag(4), batch=None)])}
    cases = [
        ({}, "batch B-1 may not ship: package " + tag(1) + " has no lab result"),
        ({"batch:B-1": encode_set([result(expires="2026-12-02")])}, "expired on 2026-12-02"),
        ({"batch:B-1": encode_set([result(revoked="2026-11-30")])}, "revoked on 2026-11-30"),
        ({"batch:B-1": encode_set([result(passed=False)])}, "failed"),
    ]
    for bodies, why in cases:
        with pytest.raises(ManifestError, match="batch B-1") as info:
            from_events(events, "7001", SHIPPER, inventory, {**edible, **bodies})
        assert why in str(info.value) and "7001" in str(info.value)
    # a passing retest after the failed test governs: the batch ships
    retest = result(id="coa:Desert Labs:DL-2", tested="2026-11-20", expires="2027-11-20")
    ok = {**edible, "batch:B-1": encode_set([result(passed=False), retest])}
    m = from_events(events, "7001", SHIPPER, inventory, ok)
    assert [p.batch for p in m.coa_pages] == ["B-1", "E-1"]
    assert m.coa_pages[0].results == (retest,) and m.coa_pages[0].packages == (tag(1), tag(2))
