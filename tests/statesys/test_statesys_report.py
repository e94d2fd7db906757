"""Sealed orders reach the METRC emulator exactly once: shapes, time rule, batching, read-back,
and the fault matrix (each fault on each call type), against a real SQLite store and a real HTTP
emulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from central.statesys.base import StateError
from central.statesys.bridge import Bridge
from central.statesys.pull import pull_once
from central.statesys.store import CONFIRMED, FAILED
from edge.common.chain import canonical_json
from edge.common.protocol import FeedItem
from tests.support.statesys import LICENSE, USER, Rig, make_rig, package, tag


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def each(n: int, start: int = 0x100) -> list[dict[str, object]]:
    return [package(tag(start + i), 2) for i in range(n)]


async def _seal_some(rig: Rig, n: int, start: int = 0x100) -> list[str]:
    ids = []
    for i in range(n):
        oid = f"{1000 + i}"
        rig.station.sealed_order(oid, [tag(start + i)])
        ids.append(oid)
    return ids


def test_a_sealed_order_is_one_receipt_in_metrc_shape(tmp_path: Path) -> None:
    async def main() -> None:
        bulk = package(tag(0x900), "100", "Grams")
        rig = await make_rig(tmp_path, [*each(3), bulk])
        try:
            rig.station.sealed_order(
                "1042",
                [tag(0x100), tag(0x100), tag(0x900)],
                weights={tag(0x900): 3512},
                raws={
                    tag(0x100): ["https://1a4.com/q83vASNFZwAAAQkQCA", "1A4.COM/q83vASNFZwAAAQkQCb"]
                },
            )
            await rig.drain()
            fac = rig.emulator.facilities[LICENSE]
            (receipt,) = fac.receipts.values()
            assert receipt["ExternalReceiptNumber"] == "station-01-1042"
            assert receipt["SalesCustomerType"] == "Consumer"
            # 18:00:21 UTC on 22 Nov is 12:00:21 in Chicago; no offset
            assert receipt["SalesDateTime"].startswith("2026-11-22T12:")
            assert "+" not in receipt["SalesDateTime"] and "Z" not in receipt["SalesDateTime"]
            txs = {t["PackageLabel"]: t for t in receipt["Transactions"]}
            assert txs[tag(0x100)]["Quantity"] == 2 and txs[tag(0x100)]["UnitOfMeasure"] == "Each"
            assert txs[tag(0x100)]["QrCodes"] == [
                "https://1a4.com/q83vASNFZwAAAQkQCA",
                "https://1A4.COM/q83vASNFZwAAAQkQCb",
            ]
            assert txs[tag(0x900)]["Quantity"] == Decimal("3.512")
            assert txs[tag(0x900)]["UnitOfMeasure"] == "Grams"
            assert rig.emulator.quantity(LICENSE, tag(0x900)) == Fraction("96.488")
            assert rig.emulator.quantity(LICENSE, tag(0x100)) == 0
            (job,) = rig.reports.jobs()
            assert job.state == CONFIRMED and job.remote_id == str(receipt["Id"])
        finally:
            await rig.close()

    run(main())


def test_at_most_ten_receipts_per_call(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, each(23))
        try:
            await _seal_some(rig, 23)
            await rig.drain()
            stats = rig.emulator.stats(LICENSE)
            assert stats["receipts"] == 23 and stats["duplicates"] == 0
            assert stats["calls"]["POST /sales/v2/receipts"] == 3  # 10 + 10 + 3
        finally:
            await rig.close()

    run(main())


CALLS = {
    "sale": ("POST", "/sales/v2/receipts"),
    "read_back": ("GET", "/sales/v2/receipts/external/"),
    "archive": ("DELETE", "/sales/v2/receipts/"),
    "child": ("POST", "/packages/v2/"),
    "move": ("PUT", "/packages/v2/location"),
    "adjust": ("PUT", "/packages/v2/adjust"),
    "pull": ("GET", "/packages/v2/active"),
}
FAULTS = ["500", "timeout", "reset", "429", "401", "validation"]
BULK, CHILD = tag(0x190), tag(0x191)


async def _matrix_run(rig: Rig, call: str, fault: str) -> None:
    """Seal 5 orders; inject `fault` on `call` (twice, so a retry or read-back meets it too);
    then cancel one (after reporting), quarantine a package, count another with a supervisor,
    seal an order weighed out into a new container and one more order, and pull the state's
    view; drain until nothing is open. A validation failure is retried by hand, as a person
    would after reading METRC's message."""
    oids = await _seal_some(rig, 5)
    if call == "read_back":  # make the first POST time out after committing, so reads happen
        rig.emulator.inject("POST", "/sales/v2/receipts", "timeout", hang_s=1.5)
    method, path = CALLS[call]
    rig.emulator.inject(method, path, fault, count=2, retry_after=0, hang_s=1.5)
    await rig.drain()
    rig.station.cancel(oids[0])
    rig.station.add("quarantine", order_id="x", uid=tag(0x180), code="expired", reason="old")
    rig.station.add(
        "count_adjustment",
        uid=tag(0x181),
        quantity=0,
        unit="Each",
        reason="Entry Error",
        supervisor="SUP-1",
    )
    rig.station.sealed_order("1100", [BULK], weights={BULK: 2250}, child_tags={BULK: CHILD})
    rig.station.sealed_order("1099", [tag(0x105)])
    rig.emulator.facilities[LICENSE].packages[tag(0x182)]["IsOnRecall"] = True
    pulled = False
    for _ in range(60):
        await rig.drain()
        if not pulled:
            try:
                await pull_once(rig.reports, rig.client)
                pulled = True
            except StateError:
                pass  # the injected fault: the next pull tries again
        if rig.bridge.auth_problem:
            rig.bridge.paused_until = 0  # the probe is due at once in the test
        failed = [j for j in rig.reports.jobs(state=FAILED) if not j.reason.startswith("voided")]
        if failed:
            assert fault == "validation", [(j.id, j.state, j.reason, j.attempts) for j in failed]
            assert all("Injected validation error" in j.reason for j in failed)
            rig.reports.retry(None)
        open_ = [j for j in rig.reports.open_jobs() if not j.reason.startswith("voided")]
        if not open_ and pulled:
            break
        await asyncio.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("fault", FAULTS)
def test_fault_matrix_exactly_once(tmp_path: Path, call: str, fault: str) -> None:
    async def main() -> None:
        inventory = [
            *each(6),
            package(tag(0x180)),
            package(tag(0x181)),
            package(tag(0x182)),
            package(BULK, "10", "Grams"),
        ]
        rig = await make_rig(tmp_path, inventory, timeout_s=0.5, repackage=True)
        supervisor = {"badge": "SUP-1", "name": "Sue", "supervisor": True}
        rig.store.feed_put(
            [(FeedItem(kind="badge", key="SUP-1", body=canonical_json(supervisor)), None)]
        )
        try:
            await _matrix_run(rig, call, fault)
            jobs = [j for j in rig.reports.jobs() if not j.reason.startswith("voided")]
            assert all(j.state == CONFIRMED for j in jobs), [j.public() for j in jobs]
            stats = rig.emulator.stats(LICENSE)
            # 7 sealed orders, one cancelled: reported and archived, or (the fault held the
            # queue) cancelled before it ever landed
            assert stats["active_receipts"] == 6, stats
            assert stats["receipts"] == 6 + stats["archived"]
            assert stats["duplicates"] == 0
            never = call == "sale" and fault in ("401", "validation")
            assert stats["archived"] == (0 if never else 1)
            assert stats["calls"].get("POST /packages/v2/", 0) <= 1 + (fault != "timeout") * 2
            fac = rig.emulator.facilities[LICENSE]
            qty = rig.emulator.quantities(LICENSE)
            # central's view: each sealed package sold one unit; the cancelled one is back
            assert qty[tag(0x100)] == 2
            assert all(qty[tag(0x100 + i)] == 1 for i in range(1, 6))
            assert qty[BULK] == Fraction("7.75") and qty[CHILD] == 0
            assert fac.packages[CHILD]["SourcePackageLabels"] == BULK
            assert qty[tag(0x181)] == 0  # the supervised count
            assert fac.packages[tag(0x180)]["Location"] == "Quarantine"
            held = rig.reports.package_bodies([tag(0x182)])[tag(0x182)]
            assert held["IsOnHold"] and "IsOnRecall" in held["StateHold"]
        finally:
            await rig.close()

    run(main())


def test_validation_error_fails_with_metrc_message_and_waits(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, each(3))
        try:
            rig.station.sealed_order("1", [tag(0x100)])
            rig.station.sealed_order("2", [tag(0x999)])  # not a package at the state system
            rig.station.sealed_order("3", [tag(0x101)])
            await rig.drain()
            by_order = {j.order_id: j for j in rig.reports.jobs()}
            assert by_order["2"].state == FAILED
            assert "does not exist" in by_order["2"].reason
            assert by_order["1"].state == by_order["3"].state == CONFIRMED
            assert rig.emulator.stats(LICENSE)["receipts"] == 2
        finally:
            await rig.close()

    run(main())


def test_bad_key_stops_and_alerts_without_spending_retries(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, each(4))
        try:
            rig.emulator.user_key = "rotated"  # central's key is no longer valid
            await _seal_some(rig, 4)
            await rig.drain()
            assert rig.bridge.auth_problem
            assert [a["kind"] for a in rig.reports.alerts()] == ["auth"]
            assert all(j.attempts == 0 for j in rig.reports.jobs())
            calls = rig.emulator.stats()["calls"]["POST /sales/v2/receipts"]
            await rig.drain()
            assert rig.emulator.stats()["calls"]["POST /sales/v2/receipts"] == calls  # stopped
            rig.emulator.user_key = USER  # the key is fixed
            rig.bridge.resume()
            await rig.drain()
            assert rig.emulator.stats(LICENSE)["receipts"] == 4
            assert rig.reports.alerts() == []
        finally:
            await rig.close()

    run(main())


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, each(1))
        try:
            rig.emulator.inject("POST", "/sales/v2/receipts", "429", retry_after=120)
            await _seal_some(rig, 1)
            await rig.drain()
            (job,) = rig.reports.jobs()
            assert job.state == "pending" and job.next_at > __import__("time").time() + 100
            assert rig.emulator.stats(LICENSE)["receipts"] == 0
        finally:
            await rig.close()

    run(main())


def test_per_package_order_holds_a_later_report_behind_a_failed_one() -> None:
    from central.statesys.store import Job

    def job(i: int, pkgs: list[str], state: str = "pending", reason: str = "") -> Job:
        return Job(
            i,
            f"k{i}",
            "sale",
            "s",
            str(i),
            f"s-{i}",
            pkgs,
            {},
            state,
            reason,
            "",
            0,
            0.0,
            "",
            "",
            "",
            None,
        )

    jobs = [
        job(1, ["A"], FAILED, "bad"),
        job(2, ["A", "B"]),
        job(3, ["B"]),
        job(4, ["C"]),
        job(5, ["D"], FAILED, "voided before it was reported"),
        job(6, ["D"]),
    ]
    assert [j.id for j in Bridge.runnable(jobs, 1.0)] == [4, 6]


def test_a_malformed_event_never_reaches_the_bridge_and_later_orders_still_report(
    tmp_path: Path,
) -> None:
    """Central's ingest quarantines bodies that do not fit their type, so the bridge never
    builds a receipt from them; the orders after them report as usual."""

    async def main() -> None:
        rig = await make_rig(tmp_path, each(2))
        try:
            bad = {"quarantined": True, "order_id": "bad"}
            rig.station.add("order_loaded", order={"lines": "not a list"}, **bad)
            rig.station.add("verdict", outcome="accepted", line=1, **bad)  # no uid
            rig.station.add("order_status", status="ready_for_pickup", **bad)  # no channel
            rig.station.sealed_order("good", [tag(0x100)])
            await rig.drain()
            assert [j.order_id for j in rig.reports.jobs(state=CONFIRMED)] == ["good"]
            assert rig.store.counts()["quarantined"] == 3
        finally:
            await rig.close()

    run(main())


def test_an_order_resumed_with_picked_lines_reports_every_package_once(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, each(3))
        try:
            order = {
                "order_id": "31",
                "channel": "pickup",
                "customer": {"id": "C", "class": "adult"},
                "lines": [
                    {"line": 1, "uid": tag(0x100), "picked": [tag(0x100)]},  # picked elsewhere
                    {"line": 2, "uid": tag(0x101)},
                ],
            }
            ev = rig.station
            loaded = {
                "order_id": "31",
                "source": "queue",
                "channel": "pickup",
                "customer_id": "C",
                "lines": 2,
                "order": order,
            }
            ev.add("order_loaded", **loaded)
            ev.add(
                "verdict",
                order_id="31",
                raw=tag(0x101),
                verdict="match",
                line=2,
                uid=tag(0x101),
                reason="",
                candidates=[],
                outcome="accepted",
            )
            ev.add("order_loaded", **loaded)  # the station restarted
            ev.add("order_status", order_id="31", status="ready_for_pickup", channel="pickup")
            await rig.drain()
            (receipt,) = rig.emulator.facilities[LICENSE].receipts.values()
            assert sorted((t["PackageLabel"], t["Quantity"]) for t in receipt["Transactions"]) == [
                (tag(0x100), 1),
                (tag(0x101), 1),
            ]
        finally:
            await rig.close()

    run(main())
