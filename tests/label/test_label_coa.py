"""The COA on the exit label: each package's cannabinoid values (as the lab printed them) and the
COA's link as text and QR code where the profile asks (Arizona), from the lab result that governs
the package; a required link missing refuses the label with a slip naming it.

Real parts for the station path: a COA record imported into central's SQLite store
(`central/labs.py`), fed into the station's replica file, looked up by the replica-backed central
state, the label printed by the real print spool on a simulated ESC/POS printer and decoded back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from central.labs import import_labs
from central.store import SqlStore, open_store
from drivers.printer.escpos_decode import decode
from drivers.printer.escpos_encode import encode
from drivers.printer.render_png import qr_matrix
from drivers.printer.sim import SimPrinter
from edge.common.labs import LabResult
from edge.common.protocol import Snap
from edge.label.coa import governing, is_link
from edge.label.content import MissingField, build_label, seal_code_for
from edge.label.inputs import InventoryItemInfo, Package
from edge.label.layout import fitting_module_dots, layout_label
from edge.label.preview import render_document
from edge.link.replica import Replica
from edge.station.config import StationConfig, StationSection
from edge.station.wiring.central import ReplicaCentral
from edge.workflow.ports import Customer, LabelJob, Order, OrderLine, Pick
from tests.support.labels import spool_jobs
from tests.support.printer import STATION, profile
from tests.support.station import tag

AT = datetime(2026, 11, 22, 20, 5, tzinfo=UTC)
URL = "https://coa.example/DL-26-1101.pdf"
PKG = Package(
    Label=tag(1),
    Item=InventoryItemInfo(Name="Blue Dream 3.5g"),
    Batch="B-1",
    NetWeightMg=3500,
    ThcMg=700,
    CbdMg=10,
)
ORDER = Order(
    order_id="5001",
    channel="pickup",
    customer=Customer(id="C-5", name="Ed Fish"),
    lines=[OrderLine(line=1, uid=tag(1))],
)


def result(**extra: Any) -> LabResult:
    fields: dict[str, Any] = {
        "id": "coa:Desert Labs:DL-26-1101",
        "source": "coa",
        "package": None,
        "batch": "B-1",
        "lab": "Desert Labs",
        "tested": "2026-11-01",
        "passed": True,
        "document": URL,
        "values": {"THC": "21.40", "CBD": "0.6"},
    }
    fields.update(extra)
    return LabResult(**fields)


def az_label(*results: LabResult) -> Any:
    station = msgspec.structs.replace(STATION, jurisdiction="AZ")
    return build_label(
        ORDER, {tag(1): PKG}, station, profile("AZ"), "Ada", AT, labs={tag(1): list(results)}
    )


@pytest.mark.parametrize("width", [58, 80])
def test_an_arizona_label_prints_the_coa_values_and_link_from_the_bytes(width: int) -> None:
    label = az_label(result())
    (item,) = label.items
    assert item.coa_values == (("THC", "21.40"), ("CBD", "0.6")) and item.coa_link == URL
    job = decode(encode(layout_label(label, width, 6)))  # type: ignore[arg-type]
    text = " ".join(" ".join(job.lines).split())
    assert "COA: THC 21.40%, CBD 0.6%" in text  # as the lab printed them: 21.40 stays 21.40
    assert links(job.lines) == [URL] and "Certificate of analysis (COA) of ...000001" in text
    assert job.qr_payloads == [URL, seal_code_for(label)]  # the seal is still the last code
    cols = 32 if width == 58 else 48
    assert all(len(line) <= cols for line in job.lines)


def test_the_seal_digests_the_coa_and_a_label_without_one_seals_as_before() -> None:
    label = az_label(result())
    other = az_label(result(values={"THC": "21.41", "CBD": "0.6"}))
    assert seal_code_for(label) != seal_code_for(other)
    bare = msgspec.structs.replace(
        label,
        items=tuple(msgspec.structs.replace(i, coa_values=(), coa_link="") for i in label.items),
    )
    body = msgspec.to_builtins(bare)
    for item in body["items"]:
        del item["coa_values"], item["coa_link"]
    import hashlib

    digest = hashlib.sha256(msgspec.json.encode(body)).hexdigest()[:16].upper()
    assert seal_code_for(bare) == f"SEAL-5001-{digest}"


@pytest.mark.parametrize(
    ("results", "field", "words"),
    [
        ((result(document=None),), "coa_link", "has no document"),
        ((result(document="5501"),), "coa_link", "'5501' is not a URL"),
        ((), "coa_values: THC", "no lab result"),
        ((result(values={"CBD": "0.6"}),), "coa_values: THC", "has no THC"),
    ],
)
def test_a_missing_link_or_value_refuses_the_label_naming_the_package(
    results: tuple[LabResult, ...], field: str, words: str
) -> None:
    with pytest.raises(MissingField) as err:
        az_label(*results)
    assert err.value.field == field and words in err.value.where
    assert "line 1" in err.value.where and tag(1) in err.value.where


def test_the_newest_test_governs_and_the_result_with_values_and_link_prints() -> None:
    old = result(id="coa:A:1", tested="2026-10-01", values={"THC": "19.0", "CBD": "1"})
    metrc = result(id="metrc:9", source="metrc", document="5501", values={})
    coa = result(id="coa:Desert Labs:DL-2")
    assert governing([old, metrc, coa]) == coa
    assert governing([old, metrc]) == metrc
    assert governing([]) is None
    assert is_link(URL) and not is_link("5501") and not is_link("https://a b") and not is_link(None)


def test_other_states_print_no_coa() -> None:
    label = build_label(
        ORDER, {tag(1): PKG}, STATION, profile("IL"), "Ada", AT, labs={tag(1): [result()]}
    )
    assert label.items[0].coa_values == () and label.items[0].coa_link == ""


def test_a_long_coa_link_shrinks_its_qr_code_to_fit_the_paper() -> None:
    long_url = "https://coa.example/" + "x" * 400
    assert fitting_module_dots(URL, 80, 6) == 6
    small = fitting_module_dots(long_url, 58, 6)
    assert 1 <= small < 6
    modules = len(qr_matrix(long_url)) + 8
    assert modules * small <= 384 < modules * (small + 1)


def test_the_preview_shows_the_coa_qr_code_readable() -> None:
    label = az_label(result())
    rendered = render_document(layout_label(label, 80, 6))
    assert [p for p, _ in rendered.qr_boxes] == [URL, seal_code_for(label)]
    (_, (left, top, _r, _b)) = rendered.qr_boxes[0]
    img = rendered.image.convert("L")
    for r, row in enumerate(qr_matrix(URL)):
        for c, dark in enumerate(row):
            x, y = left + 24 + c * 6 + 3, top + 24 + r * 6 + 3
            assert (img.getpixel((x, y)) == 0) is dark, (r, c)
    assert "COA: THC 21.40%, CBD 0.6%" in " ".join(rendered.lines)


def links(lines: list[str]) -> list[str]:
    """Each printed COA link, its lines joined back: the link is a package's last sub-lines
    (indented), so it runs to the next line that is not indented."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if line == "  COA link:":
            rest = lines[i + 1 :]
            end = next((j for j, x in enumerate(rest) if not x.startswith("  ")), len(rest))
            out.append("".join(x[2:] for x in rest[:end]))
    return out


# -- the station path: central's lab feed item -> replica -> the printed label ------------------


def fed_replica(tmp: Path, coa: dict[str, Any]) -> ReplicaCentral:
    """A COA record imported at central, its feed snapshot applied to the station's replica."""
    store: SqlStore = open_store(f"sqlite://{tmp / 'central.sqlite3'}")
    path = tmp / "labs.json"
    path.write_text(json.dumps([coa]))
    import_labs(store, path)
    replica = Replica(tmp / "replica.sqlite3")
    snap = store.feed_snapshot("station-01")
    assert replica.apply_snapshot_part(
        Snap(snap_id="s", qseq=snap.qseq, part=0, last=True, items=snap.items)
    )
    cfg = StationConfig(station=StationSection(id="station-01", state_dir=str(tmp / "st")))
    return ReplicaCentral(cfg, replica)


COA = {
    "Lab": "Desert Labs",
    "TestBatch": "DL-26-1101",
    "TestedDate": "2026-11-01",
    "Passed": True,
    "Batch": "B-1",
    "Document": URL,
    "Cannabinoids": {"THC": "21.40", "CBD": "0.6"},
}


def label_job() -> LabelJob:
    order = Order(
        order_id="5001",
        channel="pickup",
        customer=Customer(id="C-5", name="Ed Fish"),
        lines=[OrderLine(line=1, sku="FLW-BD-35", quantity=2)],
    )
    picks = [Pick(line=1, uid=tag(n), raw=tag(n)) for n in (1, 2)]
    return LabelJob(
        job_id="5001-label-1",
        order=order,
        picks=picks,
        agent="BADGE-ALICE",
        at="2026-11-22T14:05:00-06:00",
    )


def test_an_arizona_station_prints_the_coa_of_the_lab_feed_item(tmp_path: Path) -> None:
    central = fed_replica(tmp_path, COA)
    assert central.lab_results(tag(1), "B-1")[0].document == URL  # the batch's feed item
    with SimPrinter() as sim:
        (outcome,) = spool_jobs(
            tmp_path, sim, label_job(), jurisdiction="AZ", lab_results=central.lab_results
        )
        (printed,) = sim.wait_for_jobs(1)
    assert outcome.ok, outcome.reason
    decoded = printed.decoded
    text = " ".join(" ".join(decoded.lines).split())
    assert text.count("COA: THC 21.40%, CBD 0.6%") == 2  # both packages of batch B-1
    assert links(decoded.lines) == [URL, URL]
    assert decoded.qr_payloads == [URL, outcome.seal_code]  # one code for the batch's COA


def test_an_arizona_station_refuses_a_label_whose_coa_has_no_link_with_a_slip(
    tmp_path: Path,
) -> None:
    central = fed_replica(tmp_path, {k: v for k, v in COA.items() if k != "Document"})
    with SimPrinter() as sim:
        (outcome,) = spool_jobs(
            tmp_path, sim, label_job(), jurisdiction="AZ", lab_results=central.lab_results
        )
        (slip,) = sim.wait_for_jobs(1)
    assert not outcome.ok and "required field 'coa_link' is missing" in outcome.reason
    assert tag(1) in outcome.reason and "has no document" in outcome.reason
    text = " ".join(" ".join(slip.decoded.lines).split())
    assert "Reason: label_missing_field" in text and "it would lack coa_link" in text
    assert "Product: FLW-BD-35 product" in text and "central's lab results" in text
    assert slip.decoded.qr_payloads == []


def test_label_preview_takes_the_lab_results_file(tmp_path: Path) -> None:
    from PIL import Image

    from edge.cli import run
    from edge.common.errors import ExitCode

    order = {
        "order_id": "5001",
        "channel": "pickup",
        "customer": {"id": "C-5", "name": "Ed Fish"},
        "lines": [{"line": 1, "uid": tag(1)}],
    }
    inventory = [
        {
            "Label": tag(1),
            "Item": {"Name": "Blue Dream 3.5g"},
            "Batch": "B-1",
            "Sku": "X",
            "ThcMg": 700,
            "CbdMg": 10,
        }
    ]
    files = {"order.json": order, "inventory.json": inventory, "labs.json": [COA]}
    for name, body in files.items():
        (tmp_path / name).write_text(json.dumps(body))
    toml = tmp_path / "station.toml"
    toml.write_text(
        '[station]\nid = "station-07"\ndispensary_name = "Green Leaf"\nlicense_number = "00000123ESAB"\n'
        'jurisdiction = "AZ"\ntimezone = "America/Phoenix"\n'
        f'state_dir = "{tmp_path / "state"}"\n[label]\nallow_unverified = true\n'
    )
    args = [
        "label",
        "preview",
        str(tmp_path / "order.json"),
        "--inventory",
        str(tmp_path / "inventory.json"),
    ]
    args += ["--config", str(toml), "--agent", "Ada", "--at", "2026-11-22T20:05:00Z"]
    out = tmp_path / "label.png"
    assert run([*args, "--labs", str(tmp_path / "labs.json"), "--out", str(out)]) == ExitCode.OK
    with Image.open(out) as img:
        text = " ".join(img.text["packstation:text"].split())  # type: ignore[attr-defined]
        codes = img.text["packstation:qr"].split("\n")  # type: ignore[attr-defined]
    assert (
        "COA: THC 21.40%, CBD 0.6%" in text
        and codes[0] == URL
        and codes[1].startswith("SEAL-5001-")
    )
    # without the lab results the Arizona label is refused, naming what it lacks
    assert run([*args, "--out", str(tmp_path / "x.png")]) == ExitCode.USAGE


def test_an_unreadable_lab_feed_item_refuses_the_label_with_a_slip(tmp_path: Path) -> None:
    def unreadable(label: str, batch: str | None) -> list[LabResult]:
        from edge.common.labs import decode_set

        return decode_set(b'{"results": [{"id": 1}]}')  # what a damaged replica row would give

    with SimPrinter() as sim:
        (outcome,) = spool_jobs(
            tmp_path, sim, label_job(), jurisdiction="AZ", lab_results=unreadable
        )
        (slip,) = sim.wait_for_jobs(1)
    assert not outcome.ok and "cannot be read" in outcome.reason and tag(1) in outcome.reason
    assert "it would lack coa_link" in " ".join(" ".join(slip.decoded.lines).split())
