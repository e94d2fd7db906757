"""The bridge's other paths against the METRC emulator: a long outage draining in order,
weigh-outs (deli-style and child packages), quarantine moves, supervisor-gated adjustments, the
package pull into central's inventory, and a crash between the POST and its commit (in-process)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from central.statesys.emulator import _now as _emulator_now
from central.statesys.metrc import MetrcClient
from central.statesys.pull import pull_once
from central.statesys.store import CONFIRMED, FAILED, SENT
from edge.common.chain import canonical_json
from edge.common.protocol import FeedItem
from tests.support.statesys import LICENSE, USER, VENDOR, make_rig, package, tag


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_a_day_long_outage_drains_in_order_per_package(tmp_path: Path) -> None:
    async def main() -> None:
        pkgs = [package(tag(0x100 + i), 3) for i in range(8)]
        rig = await make_rig(tmp_path, pkgs)
        real = rig.bridge.system
        down = MetrcClient("http://127.0.0.1:9", LICENSE, VENDOR, USER, 0.5)
        rig.bridge.system = down
        try:
            supervisor = {"badge": "SUP-1", "name": "Sue", "supervisor": True}
            rig.store.feed_put(
                [(FeedItem(kind="badge", key="SUP-1", body=canonical_json(supervisor)), None)]
            )
            for hour in range(24):  # one sale an hour, all day, while METRC is unreachable
                rig.station.clock += timedelta(hours=1)
                rig.station.sealed_order(f"{hour}", [tag(0x100 + hour % 8)])
                if hour == 10:  # a cycle count corrects package 2 after its first sale
                    rig.station.add(
                        "count_adjustment",
                        uid=tag(0x102),
                        quantity=1,
                        unit="Each",
                        reason="Entry Error",
                        supervisor="SUP-1",
                    )
                if hour == 11:  # ... and one without a supervisor is never sent
                    rig.station.add(
                        "count_adjustment",
                        uid=tag(0x103),
                        quantity=0,
                        unit="Each",
                        reason="Entry Error",
                        supervisor="",
                    )
                await rig.drain(rounds=2)
            assert rig.emulator.stats(LICENSE)["receipts"] == 0
            assert {j.state for j in rig.reports.jobs()} <= {SENT, "pending", FAILED}
            rig.bridge.system = real  # METRC is back
            for _ in range(30):
                await rig.drain()
                if all(j.state not in (SENT, "pending") for j in rig.reports.jobs()):
                    break
            stats = rig.emulator.stats(LICENSE)
            assert stats["receipts"] == 24 and stats["duplicates"] == 0
            # per package, the state system saw the writes in the order the station made them:
            # package 2 sold at hours 2 and 10, counted to 1 after hour 10, sold at hour 18
            for label in (tag(0x100 + i) for i in range(8)):
                jobs = [
                    j for j in rig.reports.jobs() if label in j.packages and j.state == CONFIRMED
                ]
                writes = [w for w in rig.emulator.writes if label in w[2]]
                kinds = ["adjust" if "adjust" in w[1] else "sale" for w in writes]
                assert kinds == [j.kind for j in jobs], label
            assert [j.kind for j in rig.reports.jobs() if tag(0x102) in j.packages] == [
                "sale",
                "sale",
                "adjust",
                "sale",
            ]
            assert rig.emulator.quantity(LICENSE, tag(0x102)) == 0  # set to 1, then one sold
            unsupervised = [
                j for j in rig.reports.jobs() if j.kind == "adjust" and j.state == FAILED
            ]
            assert len(unsupervised) == 1 and "supervisor" in unsupervised[0].reason
            assert rig.emulator.quantity(LICENSE, tag(0x103)) == 3 - 3
        finally:
            await down.close()
            await rig.close()

    run(main())


def test_weigh_out_deli_style_reports_grams_against_the_bulk_package(tmp_path: Path) -> None:
    async def main() -> None:
        bulk = tag(0x500)
        rig = await make_rig(tmp_path, [package(bulk, "28", "Grams")], repackage=False)
        try:
            rig.station.sealed_order(
                "7", [bulk], weights={bulk: 3504}, child_tags={bulk: tag(0x501)}
            )
            await rig.drain()
            fac = rig.emulator.facilities[LICENSE]
            (receipt,) = fac.receipts.values()
            (tx,) = receipt["Transactions"]
            assert (tx["PackageLabel"], tx["Quantity"], tx["UnitOfMeasure"]) == (
                bulk,
                Decimal("3.504"),
                "Grams",
            )
            assert rig.emulator.quantity(LICENSE, bulk) == Fraction("24.496")
            assert tag(0x501) not in fac.packages  # deli-style: no child package
        finally:
            await rig.close()

    run(main())


def test_weigh_out_into_a_new_container_creates_the_child_package_then_sells_it(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        bulk, child = tag(0x600), tag(0x601)
        rig = await make_rig(tmp_path, [package(bulk, "1", "Ounces")], repackage=True)
        rig.emulator.inject("POST", "/packages/v2", "timeout", hang_s=1.5)  # lands, answer lost
        try:
            rig.station.sealed_order("8", [bulk], weights={bulk: 3500}, child_tags={bulk: child})
            for _ in range(10):
                await rig.drain()
                if all(j.state == CONFIRMED for j in rig.reports.jobs()):
                    break
            fac = rig.emulator.facilities[LICENSE]
            assert fac.packages[child]["SourcePackageLabels"] == bulk
            assert fac.quantities[bulk] == 1 - Fraction(3500) / Fraction("28349.523125")
            (receipt,) = fac.receipts.values()
            (tx,) = receipt["Transactions"]
            assert (tx["PackageLabel"], tx["Quantity"]) == (child, Decimal("3.5"))
            assert fac.quantities[child] == 0
            kinds = [j.kind for j in rig.reports.jobs()]
            assert kinds == ["child", "sale"]
            assert (
                rig.emulator.stats()["calls"]["POST /packages/v2/"] == 1
            )  # read back, not re-posted
        finally:
            await rig.close()

    run(main())


def test_crash_between_post_and_commit_reads_back_instead_of_posting_again(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, [package(tag(0x700))])
        try:
            rig.station.sealed_order("9", [tag(0x700)])
            rig.ingest.step()
            (job,) = rig.reports.jobs()
            rig.reports.mark([job.id], SENT)  # what central committed before its POST left
            await rig.client.post_sales(  # the POST that landed; central died before the answer
                [
                    __import__("central.statesys.base", fromlist=["Sale"]).Sale(
                        job.external, job.body["receipt"]
                    )
                ]
            )
            await rig.drain()
            (job,) = rig.reports.jobs()
            assert job.state == CONFIRMED
            stats = rig.emulator.stats(LICENSE)
            assert stats["receipts"] == 1 and stats["duplicates"] == 0
            assert rig.bridge.stats.found_by_read_back == 1
        finally:
            await rig.close()

    run(main())


def test_package_pull_puts_state_holds_into_centrals_inventory(tmp_path: Path) -> None:
    async def main() -> None:
        labels = [tag(0x800 + i) for i in range(5)]
        rig = await make_rig(tmp_path, [package(lb, 2) for lb in labels])
        try:
            fac = rig.emulator.facilities[LICENSE]
            fac.packages[labels[0]]["IsOnRecall"] = True
            fac.packages[labels[1]]["IsOnHoldCombined"] = True
            fac.packages[labels[2]]["LabTestResultExpirationDateTime"] = "2020-01-01T00:00:00"
            fac.quantities[labels[3]] = Fraction(0)  # sold elsewhere
            changed = await pull_once(rig.reports, rig.client)
            assert changed == 5  # each gains the state view; 4 of them a hold
            inv = rig.reports.package_bodies()
            assert inv[labels[0]]["IsOnHold"] and "IsOnRecall" in inv[labels[0]]["StateHold"]
            assert inv[labels[1]]["IsOnHold"] and "IsOnHoldCombined" in inv[labels[1]]["StateHold"]
            assert inv[labels[2]]["IsOnHold"] and "lab test" in inv[labels[2]]["StateHold"]
            assert inv[labels[3]]["IsOnHold"] and "no quantity" in inv[labels[3]]["StateHold"]
            assert not inv[labels[4]]["IsOnHold"] and inv[labels[4]]["StateQuantity"] == "2"
            assert inv[labels[3]]["Quantity"] == 2  # central's own figure is kept
            # the feed carries it to the stations: a change of the package item
            qseq_items = rig.store.feed_after("station-01", 0, 1000)
            assert any(
                item.key == labels[0] and json.loads(item.body or b"{}").get("StateHold")
                for _, item in qseq_items
            )
            fac.packages[labels[0]]["IsOnRecall"] = False  # the recall is lifted
            fac.packages[labels[0]]["LastModified"] = _emulator_now()
            fac.packages[labels[4]]["FinishedDate"] = "2026-11-22"  # finished elsewhere
            fac.packages[labels[4]]["LastModified"] = _emulator_now()
            await pull_once(rig.reports, rig.client)
            inv = rig.reports.package_bodies()
            assert inv[labels[0]]["IsOnHold"] is False
            assert inv[labels[4]]["IsOnHold"] and "inactive" in inv[labels[4]]["StateHold"]
        finally:
            await rig.close()

    run(main())


def test_delivery_orders_as_metrc_sales_deliveries_read_back_and_archived(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, [package(tag(0x900)), package(tag(0x901))], deliveries=True)
        try:
            rig.emulator.inject("POST", "/sales/v2/deliveries", "timeout", hang_s=1.5)
            rig.station.sealed_order("D1", [tag(0x900)], channel="delivery")
            rig.station.sealed_order("P1", [tag(0x901)])  # a pickup stays a receipt
            for _ in range(10):
                await rig.drain()
                if all(j.state == CONFIRMED for j in rig.reports.jobs()):
                    break
            fac = rig.emulator.facilities[LICENSE]
            (delivery,) = fac.deliveries.values()
            assert delivery["ExternalReceiptNumber"] == "station-01-D1"
            assert "DriverName" in delivery and "+" not in delivery["SalesDateTime"]
            assert len(fac.receipts) == 1
            assert rig.emulator.stats(LICENSE)["duplicates"] == 0
            assert rig.bridge.stats.found_by_read_back == 1
            rig.station.cancel("D1")
            await rig.drain()
            assert delivery["ArchivedDate"] and rig.emulator.quantity(LICENSE, tag(0x900)) == 1
        finally:
            await rig.close()

    run(main())


def test_a_pull_after_a_sale_does_not_take_the_sale_off_twice(tmp_path: Path) -> None:
    """Central serves Quantity minus its sales (central/stock.py); the pull folds the state's
    flags into the imported body, so a sold unit is subtracted once, however often it runs."""

    async def main() -> None:
        label = tag(0x900)
        rig = await make_rig(tmp_path, [package(label, 2)])
        try:
            rig.station.sealed_order("9001", [label])
            await rig.drain()
            assert rig.reports.package_bodies([label])[label]["Quantity"] == 1
            for _ in range(2):
                await pull_once(rig.reports, rig.client)
                served = rig.reports.package_bodies([label])[label]
                assert served["Quantity"] == 1  # 2 imported, 1 sold
                assert served["StateQuantity"] == "1"  # the state system agrees
        finally:
            await rig.close()

    run(main())
