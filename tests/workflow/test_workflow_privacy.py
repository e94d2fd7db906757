"""The label profile's privacy rule decides what of the customer the workflow keeps and journals
(`order_loaded`): first name + customer number, or the full name."""

from __future__ import annotations

import json

from edge.workflow.ports import Customer, Order, OrderLine
from edge.workflow.privacy import first_name, private_order
from tests.support.workflow import Harness


def loaded(h: Harness) -> dict[str, object]:
    (record,) = [r for r in h.records() if r.type == "order_loaded"]
    return dict(record.body)


def test_first_name_and_number_journals_neither_the_surname_nor_keeps_it() -> None:
    seen: list[str] = []

    def privacy(at: str) -> str:
        seen.append(at)
        return "first_name_and_number"

    h = Harness(privacy=privacy)
    h.login_and_load("1042")
    body = loaded(h)
    assert "L." not in json.dumps(body)  # "Ada L." is not journalled
    assert body["order"]["customer"] == {"id": "C-88", "name": "Ada", "class": "adult"}  # type: ignore[index]
    assert body["customer_id"] == "C-88"
    assert h.state.order is not None and h.state.order.order.customer.name == "Ada"  # nor kept
    assert len(seen) == 1 and seen[0].endswith("+00:00")  # asked for the rule at the load time


def test_full_name_keeps_the_order_as_given() -> None:
    h = Harness(privacy=lambda at: "full_name")
    h.login_and_load("1042")
    assert loaded(h)["order"]["customer"]["name"] == "Ada L."  # type: ignore[index]


def test_an_unknown_rule_is_the_stricter_one() -> None:
    order = Order(
        order_id="1",
        channel="pickup",
        customer=Customer(id="C-1", name="  Ada   Lovelace King "),
        lines=[OrderLine(line=1, uid="X")],
    )
    assert private_order(order, "anything").customer.name == "Ada"
    assert private_order(order, "full_name") is order
    assert (
        first_name("   ") == ""
        and private_order(
            Order(order_id="2", channel="pickup", customer=Customer(id="C"), lines=order.lines), "x"
        ).customer.name
        == ""
    )
