"""What the station keeps of the customer: the label profile's privacy rule applied to an order
when it is loaded, before it enters the workflow state or the journal (`order_loaded`).

`full_name` keeps the order as given; `first_name_and_number` keeps the first name and the
customer number (`customer.id`) only (e.g. CA 4 CCR 15420; MA 935 CMR 500.140(2)(c) and NJ
N.J.A.C. 17:30-14.3(b) limit the consumer data a retailer keeps). Any other value, or none known,
is treated as the stricter `first_name_and_number`.
"""

from __future__ import annotations

import msgspec

from edge.workflow.ports import Order

FULL_NAME = "full_name"


def first_name(name: str) -> str:
    """The first word of `name` ("" for a blank name)."""
    words = name.split()
    return words[0] if words else ""


def private_order(order: Order, privacy: str) -> Order:
    """`order` with only what `privacy` allows of its customer."""
    if privacy == FULL_NAME:
        return order
    customer = order.customer
    kept = first_name(customer.name)
    if kept == customer.name:
        return order
    return msgspec.structs.replace(order, customer=msgspec.structs.replace(customer, name=kept))
