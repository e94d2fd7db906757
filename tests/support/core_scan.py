"""Builders of INVENTORY.json packages and ORDER.json orders for the scan-core tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TODAY = "2026-11-22"


def package(label: str, sku: str = "FLW-BD-35", batch: str = "B-1", **extra: Any) -> dict[str, Any]:
    """A METRC-shaped package with packstation's fields; `extra` adds or overrides fields."""
    pkg: dict[str, Any] = {
        "Label": label,
        "PackageType": "Product",
        "Quantity": 1,
        "UnitOfMeasureName": "Each",
        "PackagedDate": "2026-09-30",
        "ExpirationDate": "2027-03-31",
        "IsOnHold": False,
        "LabTestingState": "TestPassed",
        "Item": {"Name": f"{sku} item", "ProductCategoryName": "Flower", "UnitThcContent": 24.5},
        "Sku": sku,
        "Batch": batch,
        "Location": "vault-a/shelf-3",
        "Category": "flower",
        "NetWeightMg": 3500,
        "ThcMg": 857,
    }
    pkg.update(extra)
    return pkg


def order(*lines: dict[str, Any], order_id: str = "1042") -> dict[str, Any]:
    """An ORDER.json object; lines are numbered 1.. unless they say otherwise."""
    numbered = [{"line": i + 1, **line} for i, line in enumerate(lines)]
    return {
        "order_id": order_id,
        "channel": "pickup",
        "customer": {"id": "C-88", "name": "Ada L.", "class": "adult"},
        "placed_at": "2026-11-22T13:40:00-06:00",
        "lines": numbered,
        "prior": [],
    }


def dump(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj, indent=1))
    return path


def osa(a: str, b: str) -> int:
    """Optimal string alignment distance, written independently of the Rust core."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
