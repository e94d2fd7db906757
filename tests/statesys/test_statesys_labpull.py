"""The METRC lab-result pull against the emulator over HTTP: every package central holds, every
page of its results, the package Id from the package pull, 429/5xx retried with the bridge's
discipline, a revoked result turned into one feed change (and no feed change when nothing
changed)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from central.config import CentralConfig, StateSystemSection
from central.labs import current
from central.reporting import Reporting
from central.statesys.labpull import TRIES, known_ids, pull_labs, targets
from central.statesys.pull import pull_once
from edge.common.labs import refusal
from tests.support.statesys import LICENSE, make_rig, package, tag


def rows(result_id: int, tests: int = 1, **extra: Any) -> list[dict[str, Any]]:
    base = {
        "LabTestResultId": result_id,
        "LabFacilityLicenseNumber": "405R-X0001",
        "LabFacilityName": "CO PERCEPTIVE TESTING LABS, LLC",
        "TestPerformedDate": "2026-10-01",
        "OverallPassed": True,
        "RevokedDate": None,
        "LabTestResultDocumentFileId": 5500 + result_id,
        "ResultReleased": True,
        "ExpirationDateTime": "2099-10-01T00:00:00",
        "TestPassed": True,
    }
    return [
        {**base, "TestTypeName": f"Test {i}", "TestResultLevel": f"0.{i + 1}", **extra}
        for i in range(tests)
    ]


def no_wait(_attempts: int) -> float:
    return 0.0


def feed_qseq(rig: Any) -> int:
    with rig.store._lock:
        try:
            (top,) = rig.store._x("SELECT COALESCE(MAX(qseq), 0) FROM feed").fetchone()
        finally:
            rig.store._end_read()
    return int(top)


def test_pull_pages_revocation_and_retries(tmp_path: Path) -> None:
    async def main() -> None:
        held = [package(tag(0x200 + i)) for i in range(3)]
        sold_out = package(tag(0x2FF), qty=0)
        rig = await make_rig(tmp_path, [*held, sold_out])
        emu = rig.emulator
        try:
            emu.load_lab_results(LICENSE, tag(0x200), rows(71, tests=45))  # 3 pages of 20
            emu.load_lab_results(LICENSE, tag(0x201), rows(72))
            emu.load_lab_results(LICENSE, tag(0x2FF), rows(79))
            assert targets(rig.store) == sorted(p["Label"] for p in held)  # not the sold-out one

            await pull_once(rig.reports, rig.client)  # the package pull records the Ids
            assert set(known_ids(rig.reports)) >= {p["Label"] for p in held}
            emu.inject("GET", "/labtests/v2/results", "429", retry_after=0)
            emu.inject("GET", "/labtests/v2/results", "500")
            stats = await pull_labs(rig.reports, rig.client, no_wait)
            assert stats.packages == 3 and stats.rows == 46 and stats.changed == 2
            assert stats.rate_limited == 1 and stats.transient == 1 and not stats.skipped
            calls = emu.stats()["calls"]
            assert "GET /packages/v2/{id}" not in calls  # the pull's Ids, no look-up by label

            (first,) = current(rig.store, f"package:{tag(0x200)}")
            assert first.id == "metrc:71" and first.document == "5571"
            assert len(first.values) == 45 and first.values["test:Test 44"] == "0.45"
            assert refusal([first], "2026-12-01") is None
            assert current(rig.store, f"package:{tag(0x202)}") == []  # no results: none fed
            assert current(rig.store, f"package:{tag(0x2FF)}") == []  # not held: not asked

            before = feed_qseq(rig)
            again = await pull_labs(rig.reports, rig.client, no_wait)
            assert again.changed == 0 and feed_qseq(rig) == before  # nothing new, no feed churn

            emu.inject("GET", "/labtests/v2/results", "revoke")  # the lab revokes tag 0x200's
            revoked = await pull_labs(rig.reports, rig.client, no_wait)
            assert revoked.changed == 1 and feed_qseq(rig) == before + 1
            (now,) = current(rig.store, f"package:{tag(0x200)}")
            why = refusal([now], "2026-12-01")
            assert now.revoked is not None and why is not None and "revoked" in why
        finally:
            await rig.close()

    asyncio.run(main())


def test_unknown_ids_are_looked_up_and_errors_skip_only_that_package(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, [package(tag(0x300)), package(tag(0x301))])
        emu = rig.emulator
        try:
            emu.load_lab_results(LICENSE, tag(0x300), rows(81, OverallPassed=False))
            emu.load_lab_results(LICENSE, tag(0x301), [{"LabTestResultId": "not a number"}])
            # no package pull has run: the Ids are looked up by label
            emu.inject("GET", "/labtests/v2/results", "500", count=TRIES)  # the first gives up
            stats = await pull_labs(rig.reports, rig.client, no_wait)
            assert (
                stats.packages == 1 and len(stats.skipped) == 1 and "HTTP 500" in stats.skipped[0]
            )
            emu.clear_faults()
            stats = await pull_labs(rig.reports, rig.client, no_wait)
            assert stats.packages == 2 and not stats.skipped
            assert emu.stats()["calls"]["GET /packages/v2/{id}"] == 2  # looked up once each
            (failed,) = current(rig.store, f"package:{tag(0x300)}")
            assert not failed.passed
            assert current(rig.store, f"package:{tag(0x301)}") == []  # the bad row is skipped
        finally:
            await rig.close()

    asyncio.run(main())


def test_a_refused_key_stops_the_lab_pull_with_an_alert_the_bridge_clears(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, [package(tag(0x380))])
        rig.emulator.load_lab_results(LICENSE, tag(0x380), rows(91))
        cfg = CentralConfig(state_system=StateSystemSection(lab_pull_interval_s=3600))
        reporting = Reporting(cfg=cfg, reports=rig.reports, system=rig.client, webhook=None)
        reporting.bridge = rig.bridge
        rig.emulator.inject("GET", "/packages/v2/", "401")  # the Id look-up: the key refused
        task = asyncio.create_task(reporting.lab_pull_loop())
        try:
            for _ in range(200):
                if rig.reports.alerts():
                    break
                await asyncio.sleep(0.02)
            (alert,) = rig.reports.alerts()
            assert alert["kind"] == "auth" and "lab pull stopped" in alert["message"]
            assert current(rig.store, f"package:{tag(0x380)}") == []
            assert await rig.bridge.round() == 0  # the bridge probes the key: good again
            assert rig.reports.alerts() == [] and rig.bridge.auth_problem == ""
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await rig.close()

    asyncio.run(main())
