"""From the station's weigh step to the state system: the real pack workflow (edge/workflow, driven
in memory) packs order 1042 whose line 3 is weighed out from the bulk package; its journal events go
into central's store as the link would deliver them; central reports them to the METRC emulator.
Deli-style: the receipt sells the captured grams from the bulk package. Child package: the
container's tag scanned at the weigh step (`[workflow] child_tag_scan`) becomes a child package
made from the bulk package, and the receipt sells the child."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from central.statesys.store import CONFIRMED
from edge.workflow.state import PackageScanned, SealScanned, WeightCaptured
from tests.support.statesys import LICENSE, Rig, make_rig, package
from tests.support.station import tag as station_tag
from tests.support.workflow import Harness

BULK = station_tag(6)
CHILD = station_tag(60)


def pack_1042(child_tag: str | None) -> Harness:
    h = Harness(child_tag_scan=child_tag is not None)
    h.login_and_load("1042")
    h.do(PackageScanned(station_tag(1)), PackageScanned(station_tag(2)), PackageScanned(BULK))
    if child_tag is not None:
        fx = h.do(PackageScanned(child_tag))  # the new container's tag, from the roll
        assert h.types(fx) == ["scan", "child_tag"]
    h.do(WeightCaptured(3550))
    h.label_printed()
    h.do(SealScanned("SEAL-00000000000000AA"))
    assert "order_status" in [r.type for r in h.records()]
    return h


async def report(tmp_path: Path, h: Harness, repackage: bool) -> Rig:
    inventory = [
        package(station_tag(1)),
        package(station_tag(2)),
        package(BULK, "28", "Grams"),
    ]
    rig = await make_rig(tmp_path, inventory, repackage=repackage)
    for record in h.records():
        rig.station.add(record.type, **record.body)
    for _ in range(5):
        await rig.drain()
    assert all(j.state == CONFIRMED for j in rig.reports.jobs()), [
        j.public() for j in rig.reports.jobs()
    ]
    return rig


def test_deli_style_from_the_weigh_step(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await report(tmp_path, pack_1042(None), repackage=False)
        try:
            (receipt,) = rig.emulator.facilities[LICENSE].receipts.values()
            txs = {t["PackageLabel"]: t for t in receipt["Transactions"]}
            assert set(txs) == {station_tag(1), station_tag(2), BULK}
            assert (txs[BULK]["Quantity"], txs[BULK]["UnitOfMeasure"]) == (Decimal("3.55"), "Grams")
            assert rig.emulator.quantity(LICENSE, BULK) == Fraction("24.45")
            assert receipt["ExternalReceiptNumber"] == "station-01-1042"
        finally:
            await rig.close()

    asyncio.run(main())


def test_child_package_from_the_weigh_step(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await report(tmp_path, pack_1042(CHILD), repackage=True)
        try:
            fac = rig.emulator.facilities[LICENSE]
            assert fac.packages[CHILD]["SourcePackageLabels"] == BULK
            assert fac.quantities[BULK] == Fraction("24.45")
            (receipt,) = fac.receipts.values()
            txs = {t["PackageLabel"]: t for t in receipt["Transactions"]}
            assert set(txs) == {station_tag(1), station_tag(2), CHILD}
            assert txs[CHILD]["Quantity"] == Decimal("3.55")
            assert fac.quantities[CHILD] == 0
            assert [j.kind for j in rig.reports.jobs()] == ["child", "sale"]
        finally:
            await rig.close()

    asyncio.run(main())


def test_without_child_tag_scan_another_tag_at_the_weigh_step_is_refused() -> None:
    h = Harness()
    h.login_and_load("1042")
    h.do(PackageScanned(station_tag(1)), PackageScanned(station_tag(2)), PackageScanned(BULK))
    fx = h.do(PackageScanned(CHILD))
    assert h.types(fx) == ["scan", "scan_refused"]
