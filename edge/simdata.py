"""Generated data for the simulated pack day: a METRC-shaped vault inventory and a day of orders.

Deterministic for a seed. The day is scripted like a real one: most orders go through cleanly,
and a few carry the mistakes the station exists to catch (each tagged with an `incident`, so the
simulator knows how a technician would react and the summary can count them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

# Incidents a day includes at least once each (issue 11).
INCIDENTS = (
    "wrong_batch",
    "typo_tag",
    "expired",
    "over_limit",
    "short_weight",
    "duplicate_scan",
    "paper_out",
    "central_down",
)

# Facility tag prefixes: METRC tags are 1A4 + 21 hex digits in practice (shared/domain.md (c) [T7]).
FACILITY_PREFIXES = ("1A4060300002C9B", "1A4060300003A1F", "1A40501000017E2")


@dataclass(frozen=True)
class Product:
    """A catalogue entry: one SKU with its limit category and exact per-unit measures."""

    sku: str
    name: str
    metrc_category: str
    category: str
    net_weight_mg: int
    thc_mg: int
    cbd_mg: int = 0
    concentrate_mg: int = 0
    weigh: bool = False


CATALOGUE = (
    Product(
        "FLW-BD-35", "Blue Dream 3.5g", "Flower (packaged eighth - each)", "flower", 3500, 770, 20
    ),
    Product(
        "FLW-GG-35", "Gorilla Glue 3.5g", "Flower (packaged eighth - each)", "flower", 3500, 840, 10
    ),
    Product(
        "FLW-OG-70", "OG Kush 7g", "Flower (packaged quarter - each)", "flower", 7000, 1610, 30
    ),
    Product("PRE-SD-1", "Sour Diesel Pre-roll 1g", "Pre-Roll Flower", "flower", 1000, 210, 5),
    Product(
        "VAP-GSC-05", "GSC Vape Cartridge 0.5g", "Vape Cartridge", "concentrate", 500, 420, 0, 500
    ),
    Product("CON-WAX-1", "Lemon Wax 1g", "Concentrate (each)", "concentrate", 1000, 780, 0, 1000),
    Product("EDI-GUM-100", "Cherry Gummies 10x10mg", "Edible (each)", "edible", 40000, 100, 0, 110),
    Product("EDI-CHO-100", "Dark Chocolate 100mg", "Edible (each)", "edible", 30000, 100, 5, 105),
    Product("TOP-BAL-500", "Relief Balm 500mg", "Topical (each)", "topical", 60000, 250, 250),
    Product("BLK-OG", "OG Kush (deli)", "Flower (bulk)", "flower", 3500, 770, 20, 0, True),
)


def tag(prefix: str, serial: int) -> str:
    """A 24-character tag: facility prefix + zero-padded hex serial."""
    return (prefix + format(serial, "X").rjust(24 - len(prefix), "0"))[:24]


@dataclass
class Vault:
    """The generated inventory plus indexes the scripting needs."""

    packages: list[dict[str, Any]]
    by_sku: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def active(self, sku: str, today: date) -> list[dict[str, Any]]:
        """Sellable packages of a SKU, oldest first (FIFO)."""
        return [
            p
            for p in self.by_sku.get(sku, [])
            if not p["IsOnHold"]
            and p["LabTestingState"] == "TestPassed"
            and date.fromisoformat(p["ExpirationDate"]) >= today
        ]


def _package(
    product: Product, label: str, batch: str, packaged: date, **extra: Any
) -> dict[str, Any]:
    return {
        "Label": label,
        "PackageType": "Product",
        "Quantity": 1,
        "UnitOfMeasureName": "Each",
        "PackagedDate": packaged.isoformat(),
        "ExpirationDate": (packaged + timedelta(days=180)).isoformat(),
        "IsOnHold": False,
        "LabTestingState": "TestPassed",
        "Item": {"Name": product.name, "ProductCategoryName": product.metrc_category},
        "Sku": product.sku,
        "Batch": batch,
        "Location": "vault-a",
        "Category": product.category,
        "NetWeightMg": product.net_weight_mg,
        "ThcMg": product.thc_mg,
        "CbdMg": product.cbd_mg,
        "ConcentrateMg": product.concentrate_mg,
        "VolumeMl": 0,
        **extra,
    }


def generate_vault(rng: random.Random, today: date, per_batch: int = 12) -> Vault:
    """Two batches per SKU (an older and a newer one), plus a few expired and held packages."""
    packages: list[dict[str, Any]] = []
    serial = rng.randrange(0x10000, 0x20000)
    for i, product in enumerate(CATALOGUE):
        prefix = FACILITY_PREFIXES[i % len(FACILITY_PREFIXES)]
        for b, age in enumerate((60, 20)):
            batch = f"B-{2290 + 2 * i + b}"
            packaged = today - timedelta(days=age)
            for _ in range(per_batch):
                serial += 1
                packages.append(_package(product, tag(prefix, serial), batch, packaged))
        serial += 1  # one expired package per SKU, kept on the shelf by mistake
        old = today - timedelta(days=200)
        packages.append(_package(product, tag(prefix, serial), f"B-{2200 + i}", old))
        serial += 1  # and one on hold
        packages.append(
            _package(
                product,
                tag(prefix, serial),
                f"B-{2290 + 2 * i}",
                today - timedelta(days=30),
                IsOnHold=True,
            )
        )
    vault = Vault(packages)
    for p in packages:
        vault.by_sku.setdefault(p["Sku"], []).append(p)
    return vault


@dataclass(frozen=True)
class PlannedOrder:
    """One order of the day and the mistake (if any) the simulated technician makes on it."""

    order: dict[str, Any]
    incident: str | None


def _customer(rng: random.Random, n: int) -> dict[str, Any]:
    first = rng.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Donald"])
    cls = "adult_nonresident" if rng.random() < 0.15 else "adult"
    return {"id": f"C-{1000 + n}", "name": f"{first} {chr(65 + n % 26)}.", "class": cls}


def _lines(rng: random.Random, vault: Vault, today: date, used: set[str]) -> list[dict[str, Any]]:
    """1-3 lines, each naming an exact UID or a SKU (+ batch), never reusing a package."""
    lines: list[dict[str, Any]] = []
    for product in rng.sample([p for p in CATALOGUE if not p.weigh], rng.randint(1, 3)):
        free = [p for p in vault.active(product.sku, today) if p["Label"] not in used]
        if not free:
            continue
        pkg = free[0]  # FIFO: the oldest active package is the one to pick
        used.add(pkg["Label"])
        line: dict[str, Any] = {"line": len(lines) + 1}
        if rng.random() < 0.5:
            line["uid"] = pkg["Label"]
        else:
            line |= {"sku": pkg["Sku"], "batch": pkg["Batch"]}
        lines.append(line)
    return lines


def generate_day(
    rng: random.Random, vault: Vault, today: date, n_orders: int, tz_offset: str = "-06:00"
) -> list[PlannedOrder]:
    """`n_orders` orders; every incident of INCIDENTS happens at least once when n_orders >= 12."""
    incidents = list(INCIDENTS) if n_orders >= len(INCIDENTS) + 4 else []
    rng.shuffle(incidents)
    slots = sorted(rng.sample(range(2, n_orders), len(incidents))) if incidents else []
    planned_incident = dict(zip(slots, incidents, strict=True))
    used: set[str] = set()
    plan: list[PlannedOrder] = []
    for n in range(n_orders):
        incident = planned_incident.get(n)
        order: dict[str, Any] = {
            "order_id": str(1040 + n),
            "channel": "delivery" if rng.random() < 0.3 else "pickup",
            "customer": _customer(rng, n),
            "placed_at": f"{today.isoformat()}T{9 + n * 8 // max(n_orders, 1):02d}:{n % 60:02d}:00{tz_offset}",
            "lines": _lines(rng, vault, today, used),
            "prior": [],
        }
        if incident == "over_limit":
            order["customer"]["class"] = "adult"
            order["prior"] = [
                {
                    "at": f"{today.isoformat()}T09:05:00{tz_offset}",
                    "category": "flower",
                    "quantity": 1,
                    "net_weight_mg": 28000,
                }
            ]
        if incident == "short_weight" or (incident is None and rng.random() < 0.1):
            order["lines"].append(
                {
                    "line": len(order["lines"]) + 1,
                    "sku": "BLK-OG",
                    "quantity": 1,
                    "weigh": True,
                    "labelled_weight_mg": 3500,
                }
            )
        plan.append(PlannedOrder(order, incident))
    return plan
