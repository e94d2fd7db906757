"""What the intake accepts, the station can use: the intake's checks against the station's own
readers (the workflow's Order, the Rust core's order check and INVENTORY.json reader)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from central.intake.records import changes
from edge.common.feed import RecordError
from edge.scan import Inventory, OrderCheck, ScanCoreError
from edge.scan.verify import order_json
from edge.workflow.ports import Order

ODD = st.sampled_from(
    [
        None,
        "",
        " ",
        "x" * 129,
        "x" * 65,
        "1A4 B",
        "teleport",
        "martian",
        "adult",
        "medical",
        "pickup",
        "delivery",
        0,
        -1,
        1,
        2**32,
        3500,
        3500.5,
        1e3,
        True,
        [],
        {},
        "2027-02-30",
        "2027-03-31",
        "2026-11-22T09:00:00",
        "2026-11-22T09:00:00-06:00",
        "flower",
        "FLW",
    ]
)
ORDER_FIELDS = ["order_id", "channel", "customer", "lines", "prior", "station"]
LINE_FIELDS = ["line", "uid", "sku", "batch", "quantity", "weigh", "labelled_weight_mg"]
CUSTOMER_FIELDS = ["id", "name", "class"]
PRIOR_FIELDS = ["at", "category", "quantity", "net_weight_mg", "thc_mg", "colour"]
PACKAGE_FIELDS = [
    "Label",
    "Sku",
    "Batch",
    "NetWeightMg",
    "ThcMg",
    "Quantity",
    "PackagedDate",
    "ExpirationDate",
    "IsOnHold",
    "Category",
]


def base_order() -> dict[str, Any]:
    return {
        "order_id": "1042",
        "channel": "pickup",
        "customer": {"id": "C-88", "name": "Ada", "class": "adult"},
        "lines": [{"line": 1, "sku": "FLW"}, {"line": 2, "uid": "1A4000000000000000000001"}],
        "prior": [{"at": "2026-11-22T09:00:00-06:00", "category": "flower", "quantity": 1}],
    }


def base_package() -> dict[str, Any]:
    return {"Label": "1A4000000000000000000001", "Item": {"Name": "BD"}, "Sku": "FLW", "Batch": "B"}


def mutate(obj: dict[str, Any], fields: list[str], data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(fields))
        if data.draw(st.booleans()):
            obj.pop(key, None)
        else:
            obj[key] = data.draw(ODD)


def station_accepts_order(obj: dict[str, Any]) -> bool:
    try:
        order = msgspec.convert(obj, Order)  # edge/station/wiring/central.py reads it so
        OrderCheck(order_json(order), Inventory.from_json(b"[]"), "2026-11-22")
    except (msgspec.ValidationError, ScanCoreError):
        return False
    return True


@settings(max_examples=400)
@given(st.data())
def test_an_order_the_intake_accepts_is_one_the_station_packs(data: st.DataObject) -> None:
    obj = base_order()
    target = data.draw(st.sampled_from(["order", "line", "customer", "prior"]))
    if target == "order":
        mutate(obj, ORDER_FIELDS, data)
    elif target == "line":
        mutate(obj["lines"][data.draw(st.integers(0, 1))], LINE_FIELDS, data)
    elif target == "customer":
        mutate(obj["customer"], CUSTOMER_FIELDS, data)
    else:
        mutate(obj["prior"][0], PRIOR_FIELDS, data)
    try:
        changes("orders", json.dumps([obj]).encode())
    except RecordError:
        return
    assert station_accepts_order(obj), obj


@settings(max_examples=400)
@given(st.data())
def test_a_package_the_intake_accepts_is_one_the_station_indexes(data: st.DataObject) -> None:
    obj = base_package()
    mutate(obj, PACKAGE_FIELDS, data)
    raw = json.dumps([obj]).encode()
    try:
        changes("inventory", raw)
    except RecordError:
        return
    Inventory.from_json(raw)  # raises InventoryFormatError if the station could not read it


def test_the_poison_records_of_the_attack_are_refused() -> None:
    long_id = {**base_order(), "order_id": "9" * 200}
    half_mg = [{**base_package(), "NetWeightMg": 3500.5}]
    for kind, body in (("orders", [long_id]), ("inventory", half_mg)):
        try:
            changes(kind, json.dumps(body).encode())  # type: ignore[arg-type]
        except RecordError:
            continue
        raise AssertionError(f"{kind}: accepted {body}")
