"""A lab result revoked at METRC while an order is open, end to end: the real central process pulls
`GET /labtests/v2/results` from the METRC emulator, feeds the result to the real station daemon's
replica, and the next scan of the package is refused `lab_result` with a slip."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.statesys.emulator import MetrcEmulator, ThreadedEmulator
from drivers.printer.sim import SimPrinter
from edge.common.labs import LabResult, decode_set
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

LICENSE = "050-X0001"
VENDOR, USER = "vendor-key-for-lab-pull", "user-key-for-lab-pull"
ORDER = {
    "order_id": "5101",
    "channel": "pickup",
    "customer": {"id": "C-5", "name": "Ed F.", "class": "adult"},
    "lines": [{"line": 1, "sku": "FLW-BD-35", "batch": "B-1", "quantity": 2}],
}


def rows(result_id: int) -> list[dict[str, object]]:
    return [
        {
            "LabTestResultId": result_id,
            "LabFacilityLicenseNumber": "405R-X0001",
            "LabFacilityName": "CO PERCEPTIVE TESTING LABS, LLC",
            "TestPerformedDate": "2026-10-01",
            "OverallPassed": True,
            "RevokedDate": None,
            "LabTestResultDocumentFileId": 7700 + result_id,
            "ExpirationDateTime": "2099-10-01T00:00:00",
            "TestTypeName": name,
            "TestPassed": True,
            "TestResultLevel": level,
        }
        for name, level in (("THC", "21.4"), ("Microbiologicals", "0.1"))
    ]


def _at_station(replica_path: Path, label: str) -> list[LabResult]:
    if not replica_path.exists():
        return []
    replica = Replica(replica_path, readonly=True)
    try:
        return list(decode_set(replica.lab(f"package:{label}")))
    finally:
        replica.close()


def test_a_result_revoked_at_metrc_refuses_the_next_scan(tmp_path: Path) -> None:
    setup = make_setup(tmp_path / "central", ["station-01"])
    emu = ThreadedEmulator(MetrcEmulator(VENDOR, USER))
    emu.emulator.facility(LICENSE)
    emu.emulator.load_packages(LICENSE, real_inventory())
    emu.emulator.load_lab_results(LICENSE, tag(1), rows(41))
    emu.emulator.load_lab_results(LICENSE, tag(2), rows(42))
    url = emu.start()
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "vendor.key").write_text(VENDOR + "\n")
    (keys / "user.key").write_text(USER + "\n")
    with setup.config.open("a") as f:
        f.write(
            f'[state_system]\nkind = "metrc"\nbase_url = "{url}"\nlicense = "{LICENSE}"\n'
            f'vendor_key_file = "{keys / "vendor.key"}"\nuser_key_file = "{keys / "user.key"}"\n'
            'repackaging = "deli"\ntimeout_ms = 5000\npull_interval_s = 3600\n'
            "lab_pull_interval_s = 1\n"
        )
    feeds = {"orders": [ORDER], "inventory": real_inventory(), "badges": feed_badges()}
    import_feeds(setup, tmp_path / "data", feeds)
    station = tmp_path / "station"
    replica = station / "replica.sqlite3"
    try:
        with SimPrinter() as printer, running_central(setup):
            config = linked_station_config(station, printer.target, link_to(setup, "station-01"))
            with Daemon(config) as d:
                # central's pull brought both results to the station: passing
                wait_until(lambda: len(_at_station(replica, tag(2))) == 1, 30)
                (pulled,) = _at_station(replica, tag(1))
                assert pulled.passed and pulled.values == {
                    "test:THC": "21.4",
                    "test:Microbiologicals": "0.1",
                }
                wait_until(lambda: d.send("scan BADGE-ALICE")["phase"] == "ready")
                wait_until(lambda: d.send("scan ORD-5101")["phase"] == "picking")
                assert d.send(f"scan {tag(1)}")["signals"][0][0] == "scan_ok"
                # the lab revokes tag 2's result while the order is open; the next pull sees it
                assert emu.emulator.revoke_result(LICENSE, 42, "2026-11-30") == 2
                wait_until(lambda: any(r.revoked for r in _at_station(replica, tag(2))), 30)
                reply = d.send(f"scan {tag(2)}")
                assert reply["phase"] == "halted" and reply["signals"][-1][0] == "halt"
                slip = printer.wait_for_jobs(1)[0].decoded.text
    finally:
        emu.stop()
    verdicts = [e["body"] for e in journal_events(station, "verdict")]
    assert [v["verdict"] for v in verdicts] == ["match", "lab_result"]
    assert verdicts[1]["uid"] == tag(2) and "revoked on 2026-11-30" in verdicts[1]["reason"]
    assert "document 7742" in verdicts[1]["reason"]
    assert "lab result" in slip.lower() and "revoked" in slip.lower()
