"""What a scan means and how it is judged: badge/ticket/seal routing, GS1 parsing, and the order
check over the compiled core (the one authority on tags, Retail IDs and GS1 shapes).

May import: `edge.workflow`, `edge.common`, `edge._core`. One of the two packages that import the
compiled core (the other is `edge.limits`): the rest of the station takes the core's scan types
from here (ruff TID251 bans `edge._core` elsewhere).
"""

from edge._core import (
    Inventory,
    InventoryFormatError,
    InventoryRows,
    OrderCheck,
    OrderFormatError,
    Package,
    Recogniser,
    RestoreError,
    ScanCoreError,
    retail_id_url,
)

__all__ = [
    "Inventory",
    "InventoryFormatError",
    "InventoryRows",
    "OrderCheck",
    "OrderFormatError",
    "Package",
    "Recogniser",
    "RestoreError",
    "ScanCoreError",
    "retail_id_url",
]
