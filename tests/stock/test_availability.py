"""The station's availability judge: sold, held, quarantined, not_sellable, candidates."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from edge.common.stock import BLOCK, QuarantineMark, StockBlock, Take
from edge.scan.availability import LocalBook, Rules, judge
from edge.workflow.ports import Order, ScanVerdict
from tests.support.stock import package

TAG = "1A4060300002C9B0000{:05d}"
X, Y, Z = (TAG.format(n) for n in (1, 2, 3))
RULES = Rules(today="2026-11-22", lab_passed=frozenset({"TestPassed", "RetestPassed"}))
ORDER = msgspec.convert(
    {
        "order_id": "2003",
        "channel": "pickup",
        "customer": {"id": "C-1"},
        "lines": [
            {"line": 1, "sku": "SKU-1"},
            {"line": 2, "sku": "BULK", "weigh": True, "labelled_weight_mg": 3500},
        ],
    },
    Order,
)


def match(uid: str = X, line: int = 1, **kw: Any) -> ScanVerdict:
    return ScanVerdict(verdict="match", reason="", uid=uid, line=line, accepted=True, **kw)


def with_block(pkg: dict[str, Any], **block: Any) -> dict[str, Any]:
    return {**pkg, BLOCK: msgspec.to_builtins(StockBlock(**block))}


def run(
    v: ScanVerdict, packages: list[dict[str, Any]], book: LocalBook | None = None
) -> ScanVerdict:
    by_label = {p["Label"]: p for p in packages}
    return judge(v, ORDER, by_label.get, book or LocalBook(station="st-a"), RULES)


def sealed_book(*orders: str, uid: str = X, unit: int | None = None) -> LocalBook:
    book = LocalBook(station="st-a")
    seq = 0
    for order in orders:
        seq += 2
        body = {"order_id": order, "uid": uid, "outcome": "accepted", "unit": unit}
        book.fold(seq - 1, "verdict", body, "2026-11-22T16:41:00+00:00")
        status = {"order_id": order, "status": "out_for_delivery"}
        book.fold(seq, "order_status", status, "2026-11-22T16:42:00+00:00")
    return book


def test_a_package_sealed_at_this_station_is_sold_from_its_journal_alone() -> None:
    v = run(match(), [package(X, 1)], sealed_book("2001"))
    assert v.verdict == "sold" and not v.accepted
    assert "sealed into order 2001 at 16:42; it is not on the shelf" in v.reason


def test_a_package_of_three_units_serves_three_orders_then_is_sold() -> None:
    pkg = package(X, 3)
    assert run(match(), [pkg], sealed_book("1", "2")).verdict == "match"
    v = run(match(), [pkg], sealed_book("1", "2", "3"))
    assert v.verdict == "sold" and "order 3" in v.reason


def test_a_sale_central_accounted_for_is_not_counted_twice() -> None:
    sale = Take(station="st-a", order_id="1", amount=1, at="2026-11-22T16:42:00+00:00")
    pkg = with_block(package(X, 1), imported="2", sold=[sale])  # Quantity 1 left of 2
    assert run(match(), [pkg], sealed_book("1")).verdict == "match"
    assert run(match(), [pkg], sealed_book("1", "2")).verdict == "sold"


def test_a_retail_id_unit_sold_once_is_sold_though_units_are_left() -> None:
    pkg = package(X, 5)
    v = run(match(unit=2), [pkg], sealed_book("1", unit=2))
    assert v.verdict == "sold" and "unit 2" in v.reason
    assert run(match(unit=3), [pkg], sealed_book("1", unit=2)).verdict == "match"


def test_another_stations_hold_makes_it_held_with_order_and_station() -> None:
    hold = Take(station="st-b", order_id="2001", amount=1, at="2026-11-22T16:43:00+00:00")
    v = run(match(), [with_block(package(X, 1), held=[hold])])
    assert v.verdict == "held"
    assert "open order 2001 on station st-b (since 16:43)" in v.reason
    assert run(match(), [with_block(package(X, 2), held=[hold])]).verdict == "match"


def test_a_weighed_bulk_package_with_less_than_the_portion_left_is_sold() -> None:
    bulk = package(X, "3.2", UnitOfMeasureName="Grams", Sku="BULK")
    sale = Take(station="st-b", order_id="1", amount=6800, at="2026-11-22T16:00:00+00:00")
    pkg = with_block(bulk, imported="10", sold=[sale])
    v = run(match(line=2), [pkg])
    assert (
        v.verdict == "sold" and "only 3200 mg are left, less than the 3500 mg portion" in v.reason
    )
    assert run(match(line=2), [{**pkg, "Quantity": 3.5}]).verdict == "match"


def test_quarantine_central_serves_and_one_only_this_station_journalled() -> None:
    mark = QuarantineMark(
        station="st-b",
        order_id="9",
        code="expired",
        reason="Expired.",
        at="2026-11-22T15:00:00+00:00",
        key="st-b:4",
    )
    v = run(match(), [with_block(package(X, 1), quarantine=mark, seen=["st-b:4"])])
    assert v.verdict == "quarantined" and "station st-b" in v.reason and "expired" in v.reason
    book = LocalBook(station="st-a")
    book.fold(
        7,
        "quarantine",
        {"uid": X, "order_id": "5", "code": "wrong_batch", "reason": "r"},
        "2026-11-22T15:00:00+00:00",
    )
    assert run(match(), [package(X, 1)], book).verdict == "quarantined"
    # central folded it (seen) and a supervisor released it: central's word stands
    assert run(match(), [with_block(package(X, 1), seen=["st-a:7"])], book).verdict == "match"


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"IsFinished": True}, "finished in METRC (IsFinished)"),
        ({"Quantity": 0}, "Quantity is 0"),
        ({"SellByDate": "2026-11-21"}, "SellByDate 2026-11-21 is past"),
        ({"UseByDate": "2026-11-21T00:00:00"}, "UseByDate 2026-11-21 is past"),
        ({"LabTestingState": "Approved"}, "'Approved' is not a state METRC defines"),
    ],
)
def test_what_metrc_would_refuse_is_not_sellable(extra: dict[str, Any], why: str) -> None:
    v = run(match(), [{**package(X, 1), **extra}])
    assert v.verdict == "not_sellable" and why in v.reason


def test_sell_by_today_is_still_sellable() -> None:
    assert run(match(), [{**package(X, 1), "SellByDate": "2026-11-22"}]).verdict == "match"


def test_a_retail_id_unit_above_the_unit_count_is_not_sellable() -> None:
    v = run(match(unit=6), [package(X, 5)])
    assert v.verdict == "not_sellable" and "unit 6 is above the package's 5 units" in v.reason


def test_not_required_passes_only_for_a_listed_category() -> None:
    pkg = {**package(X, 1), "LabTestingState": "NotRequired"}
    v = run(match(), [pkg])
    assert v.verdict == "not_tested" and "'Flower'" in v.reason
    rules = Rules(
        today="2026-11-22",
        lab_passed=RULES.lab_passed,
        not_required_categories=frozenset({"Flower"}),
    )
    assert judge(match(), ORDER, {X: pkg}.get, LocalBook(station="st-a"), rules).verdict == "match"


def test_fifo_and_wrong_batch_candidates_skip_what_is_not_on_the_shelf() -> None:
    sold_y = sealed_book("1", uid=Y)
    packages = [package(X, 1), package(Y, 1), package(Z, 1, Location="vault-a/shelf-3")]
    fifo = ScanVerdict(
        verdict="fifo",
        reason="Older package first.",
        uid=X,
        line=1,
        candidates=[Y, Z],
        accepted=True,
    )
    v = run(fifo, packages, sold_y)
    assert v.candidates == [Z] and v.reason.endswith(f"Next on the shelf: {Z} in vault-a/shelf-3.")
    only_sold = msgspec.structs.replace(fifo, candidates=[Y])
    assert run(only_sold, packages, sold_y).verdict == "match"  # X is the oldest really there
    wrong = ScanVerdict(verdict="wrong_batch", reason="Wrong batch.", uid=X, line=1, candidates=[Y])
    v = run(wrong, packages, sold_y)
    assert v.candidates == [] and "No package of that batch is free" in v.reason
    near = ScanVerdict(verdict="near_miss", reason="Near miss.", candidates=[Y, Z])
    assert run(near, packages, sold_y).candidates == [Z]


def test_the_seed_files_give_the_fields_the_check_reads(tmp_path: Any) -> None:
    import json

    from edge.station.wiring.seed import SeedCentral

    packages = [
        {**package(X, 3, Location="vault-b"), "SellByDate": "2026-11-21T00:00:00"},
        package(Y, 2.5, UnitOfMeasureName="Grams"),
    ]
    (tmp_path / "inventory.json").write_text(json.dumps({"Data": packages}))
    seed = SeedCentral(tmp_path, "st-a", tmp_path / "finished.json")
    x = seed.package(X.lower())
    assert x is not None and x["SellByDate"] == "2026-11-21T00:00:00" and x["Location"] == "vault-b"
    assert run(match(), [x]).verdict == "not_sellable"
    y = seed.package(Y)
    assert y is not None and (y["Quantity"], y["UnitOfMeasureName"]) == ("2.5", "Grams")
    assert "SellByDate" not in y and seed.package(Z) is None
