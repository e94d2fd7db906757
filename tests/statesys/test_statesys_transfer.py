"""A wholesale order's transfer when the store's state system is BioTrack: the sealed order's
stored events -> the manifest (central/manifest.py) -> a bridge `transfer` job -> the real
BioTrack client's `inventory_manifest` against the BioTrack emulator over HTTP. A timeout after
BioTrack filed it is settled by `nonce_replay` (one manifest, never two); the buyer sees it in
`inventory_manifest_lookup`; a license BioTrack does not know fails the job for a person."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from central.labs import ingest_results
from central.manifest import Transport, build, enqueue_transfer
from central.statesys.biotrack import BioTrackClient
from central.statesys.biotrack_emulator import BioTrackEmulator
from central.statesys.bridge import Bridge
from central.statesys.store import CONFIRMED, FAILED, ReportStore
from central.store import open_store
from edge.common.labs import LabResult
from tests.support.statesys import (
    LICENSE,
    StationEvents,
    import_inventory,
    make_rig,
    package,
    tag,
    wholesale,
)

SHIPPER = "410123"  # BioTrack license numbers: six digits (OpenTHC, May 2016)
BUYER = "410555"
LOTS = [tag(0x400 + i, prefix="6200000000") for i in range(3)]


def test_biotrack_manifest_end_to_end(tmp_path: Path) -> None:
    async def main() -> None:
        store = open_store(f"sqlite://{tmp_path / 'central.sqlite3'}")
        import_inventory(store, [package(lot, Batch="BT-1") for lot in LOTS])
        coa = LabResult(
            id="coa:Lab:S-1",
            source="coa",
            package=None,
            batch="BT-1",
            lab="Lab",
            tested="2026-11-01",
            passed=True,
            expires="2027-11-01",
        )
        ingest_results(store, [coa])
        emu = BioTrackEmulator(SHIPPER, employees={"E-77"}, vehicles={12}, licenses={BUYER})
        emu.lots.update(LOTS)
        url = await emu.start()
        client = BioTrackClient(url, SHIPPER, emu.username, emu.password, timeout_s=0.5)
        reports = ReportStore(store)
        bridge = Bridge(reports, client, base_backoff_s=0.0, max_backoff_s=0.0)
        station = StationEvents(store)
        try:
            gross = {LOTS[0]: 5190, LOTS[1]: 5230}
            wholesale(station, "8001", BUYER, gross)
            transport = Transport(driver_name="Sam", employee_id="E-77", vehicle_id="12")
            m = build(store, "8001", SHIPPER, transport)
            assert enqueue_transfer(store, m, datetime.now(UTC).isoformat(), "America/Denver")
            assert not enqueue_transfer(store, m, datetime.now(UTC).isoformat())  # once

            emu.inject("inventory_manifest", "timeout", hang_s=1.5)  # filed; the answer is lost
            for _ in range(20):
                await bridge.round()
                job = reports.job("transfer:station-01:8001")
                if job is not None and job.state == CONFIRMED:
                    break
                await asyncio.sleep(0.05)
            assert job is not None and job.state == CONFIRMED, job
            (filed,) = emu.open_manifests()  # one, despite the retry
            assert job.remote_id == filed["manifest_id"]
            assert emu.calls["inventory_manifest"] == 1 and emu.calls["nonce_replay"] >= 1
            (stop,) = filed["stops"]
            assert stop["barcodeid"] == list(gross) and stop["vendor_license"] == BUYER
            assert stop["stop_number"] == 1 and filed["vehicle_id"] == 12
            # 09:00 on the ship date in the facility's time zone (MST, UTC-7)
            assert stop["approximate_departure"] == int(
                datetime(2026, 12, 3, 16, 0, tzinfo=UTC).timestamp()
            )
            seen = await client.call("inventory_manifest_lookup", location=BUYER)
            assert [d["manifest_id"] for d in seen["data"]] == [filed["manifest_id"]]

            # a buyer license BioTrack does not know: refused, the job waits for a person
            wholesale(station, "8002", "410999", {LOTS[2]: 5000})
            enqueue_transfer(store, build(store, "8002", SHIPPER, transport), "now")
            for _ in range(5):
                await bridge.round()
            failed = reports.job("transfer:station-01:8002")
            assert failed is not None and failed.state == FAILED
            assert "valid license number" in failed.reason and "602" in failed.reason
            assert len(emu.open_manifests()) == 1
        finally:
            await client.close()
            await emu.stop()
            store.close()

    asyncio.run(main())


def test_metrc_template_retry_is_read_back_not_posted_twice(tmp_path: Path) -> None:
    async def main() -> None:
        labels = [tag(0x500), tag(0x501)]
        rig = await make_rig(tmp_path, [package(label, Batch="B-9") for label in labels])
        try:
            coa = LabResult(
                id="coa:Lab:S-9",
                source="coa",
                package=None,
                batch="B-9",
                lab="Lab",
                tested="2026-11-01",
                passed=True,
            )
            ingest_results(rig.store, [coa])
            wholesale(rig.station, "8101", "C11-0000123-LIC", {labels[0]: 5100, labels[1]: 5200})
            m = build(rig.store, "8101", LICENSE)
            assert enqueue_transfer(rig.store, m, datetime.now(UTC).isoformat())
            # METRC stored the template, the answer is lost: the retry reads back by Name
            rig.emulator.inject("POST", "/transfers/v2/templates/outgoing", "timeout", hang_s=1.5)
            await rig.drain()
            job = rig.reports.job("transfer:station-01:8101")
            assert job is not None and job.state == CONFIRMED, job
            (stored,) = rig.emulator.facilities[LICENSE].templates.values()
            assert str(stored["Id"]) == job.remote_id and stored["Name"] == "MAN-8101"
            calls = rig.emulator.stats()["calls"]
            assert calls["POST /transfers/v2/templates/outgoing"] == 1
            assert calls["GET /transfers/v2/templates/outgoing"] >= 1
        finally:
            await rig.close()

    asyncio.run(main())
