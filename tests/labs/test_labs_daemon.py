"""A lab result revoked while an order is open, end to end: `central import labs` into the running
central, its feed to the real station daemon's replica, the next scan refused `lab_result` with a
slip."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.printer.sim import SimPrinter
from edge.common.labs import decode_set
from edge.link.replica import Replica
from tests.support.central import make_setup, running_central
from tests.support.linked import (
    feed_badges,
    import_feeds,
    link_to,
    linked_station_config,
    wait_until,
)
from tests.support.station import Daemon, journal_events, real_inventory, tag

pytestmark = pytest.mark.slow  # the daemon and central as subprocesses

ORDER = {
    "order_id": "5001",
    "channel": "pickup",
    "customer": {"id": "C-5", "name": "Ed F.", "class": "adult"},
    "lines": [{"line": 1, "sku": "FLW-BD-35", "batch": "B-1", "quantity": 2}],
}


def result(**extra: object) -> list[dict[str, object]]:
    row: dict[str, object] = {
        "LabTestResultId": 9001,
        "OverallPassed": True,
        "TestPerformedDate": "2026-10-01T00:00:00",
        "ExpirationDateTime": "2099-10-01T00:00:00",
        "LabTestResultDocumentFileId": 5501,
        "LabFacilityName": "Desert Labs",
        "Batch": "B-1",
    }
    return [{**row, **extra}]


def _revoked_at_station(replica_path: Path) -> bool:
    if not replica_path.exists():
        return False
    replica = Replica(replica_path, readonly=True)
    try:
        return any(r.revoked for r in decode_set(replica.lab("batch:B-1")))
    finally:
        replica.close()


def test_a_result_revoked_while_the_order_is_open_refuses_the_next_scan(tmp_path: Path) -> None:
    setup = make_setup(tmp_path / "central", ["station-01"])
    data = tmp_path / "data"
    feeds = {"orders": [ORDER], "inventory": real_inventory(), "badges": feed_badges()}
    import_feeds(setup, data, {**feeds, "labs": result()})
    station = tmp_path / "station"
    with SimPrinter() as printer, running_central(setup):
        config = linked_station_config(station, printer.target, link_to(setup, "station-01"))
        with Daemon(config) as d:
            wait_until(lambda: "central" not in d.state()["devices_down"])
            wait_until(lambda: d.send("scan BADGE-ALICE")["phase"] == "ready")
            wait_until(lambda: d.send("scan ORD-5001")["phase"] == "picking")
            assert d.send(f"scan {tag(1)}")["signals"][0][0] == "scan_ok"
            # the state revokes the batch's result while the order is open
            import_feeds(
                setup, data / "revoked", {"labs": result(RevokedDate="2026-11-30T10:00:00")}
            )
            wait_until(lambda: _revoked_at_station(station / "replica.sqlite3"))
            reply = d.send(f"scan {tag(2)}")
            assert reply["phase"] == "halted" and reply["signals"][-1][0] == "halt"
            slip = printer.wait_for_jobs(1)[0].decoded.text
    verdicts = [e["body"] for e in journal_events(station, "verdict")]
    assert [v["verdict"] for v in verdicts] == ["match", "lab_result"]
    assert verdicts[1]["uid"] == tag(2) and "revoked on 2026-11-30" in verdicts[1]["reason"]
    assert journal_events(station, "halt")[-1]["body"]["code"] == "lab_result"
    assert "lab result" in slip.lower() and "revoked" in slip.lower()


COA = {
    "Lab": "Desert Labs",
    "TestBatch": "DL-26-1101",
    "TestedDate": "2026-11-01",
    "Passed": True,
    "Batch": "B-1",
    "Document": "https://coa.example/DL-26-1101.pdf",
    "Cannabinoids": {"THC": "21.40", "CBD": "0.6"},
}


def test_an_arizona_station_prints_the_coa_central_fed_on_the_exit_label(tmp_path: Path) -> None:
    """The built-in wiring hands the lab feed to the label: an AZ exit label prints the COA
    values and link of the batch's feed item, and the bag seals with the label's last code."""
    setup = make_setup(tmp_path / "central", ["station-01"])
    feeds = {"orders": [ORDER], "inventory": real_inventory(), "badges": feed_badges()}
    import_feeds(setup, tmp_path / "data", {**feeds, "labs": [COA]})
    station = tmp_path / "station"
    with SimPrinter() as printer, running_central(setup):
        config = linked_station_config(
            station,
            printer.target,
            link_to(setup, "station-01"),
            station=['jurisdiction = "AZ"', 'timezone = "America/Phoenix"'],
            extra=["[label]", "allow_unverified = true"],
        )
        with Daemon(config) as d:
            wait_until(lambda: "central" not in d.state()["devices_down"])
            wait_until(lambda: d.send("scan BADGE-ALICE")["phase"] == "ready")
            wait_until(lambda: d.send("scan ORD-5001")["phase"] == "picking")
            assert d.send(f"scan {tag(1)}")["signals"][0][0] == "scan_ok"
            d.send(f"scan {tag(2)}")
            label = printer.wait_for_jobs(1)[0].decoded
            *coa_codes, seal = label.qr_payloads
            assert coa_codes == [COA["Document"]]
            d.wait_phase("seal")
            # the COA code scanned instead of the seal: red, refused, nothing changes
            assert d.send(f"scan {coa_codes[0]}")["phase"] == "seal"
            assert d.send(f"scan {seal}")["phase"] == "ready"
    text = " ".join(" ".join(label.lines).split())
    assert text.count("COA: THC 21.40%, CBD 0.6%") == 2  # each package of batch B-1
    assert "Certificate of analysis (COA) of" in text and "WARNING TEXT NOT VERIFIED" in text
    (refused,) = journal_events(station, "scan_refused")
    assert refused["body"]["raw"] == COA["Document"] and journal_events(station, "halt") == []
    (printed,) = journal_events(station, "label_printed")
    assert printed["body"]["seal_code"] == seal
    assert journal_events(station, "seal")[-1]["body"]["ok"]
