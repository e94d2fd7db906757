"""Generated data for the simulated pack day: a METRC-shaped vault inventory and a day of orders.

Deterministic for a seed. The day is scripted like a real one: most orders go through cleanly,
and a few carry the mistakes the station exists to catch (each tagged with an `incident`, so the
simulator knows how a technician would react and the summary can count them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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
    "resold",  # the package sealed into the day's first order is scanned again
)

# Facility tag prefixes: METRC tags are 1A4 + 21 hex digits in practice (public validators use
# `^1A4[0-9A-F]{21}$`; see docs/limits-sources.md).
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
    # a 454 g bulk package (22% THC) weighed out in DELI_PORTION_MG portions
    Product("BLK-OG", "OG Kush (deli)", "Flower (bulk)", "flower", 454000, 99880, 2594, 0, True),
)


DELI_PORTION_MG = 3500  # an eighth weighed out of the bulk package


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
    """One order of the day, the packages the technician picks for it, and the mistake (if any).

    `picks` maps each line number to the package the technician takes from the vault (the one the
    station should accept); `wrong` is the package or text scanned by mistake for the incident.
    """

    order: dict[str, Any]
    incident: str | None
    picks: dict[int, str]
    wrong: str | None = None


# The badges of the day: one technician and one supervisor (BADGES.json, docs/protocol.md).
AGENT_BADGE = "BADGE-TECH0001"
SUPERVISOR_BADGE = "BADGE-SUPV0001"


def badges(now: datetime) -> list[dict[str, Any]]:
    """The day's badge allow-list; both badges expire at the end of the week."""
    expires = (now + timedelta(days=7)).isoformat(timespec="seconds")
    return [
        {"badge": AGENT_BADGE, "name": "Ada Tech", "supervisor": False, "expires_at": expires},
        {"badge": SUPERVISOR_BADGE, "name": "Sam Super", "supervisor": True, "expires_at": expires},
        # the delivery driver's badge, scanned when a delivery bag departs (edge/sim/around.py)
        {
            "badge": "BADGE-DRVR0001",
            "name": "Dee Driver",
            "supervisor": False,
            "expires_at": expires,
        },
    ]


def _customer(rng: random.Random, n: int) -> dict[str, Any]:
    # Residents of the configured jurisdiction (the adult class); over-limit is scripted below.
    first = rng.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Donald"])
    return {"id": f"C-{1000 + n}", "name": f"{first} {chr(65 + n % 26)}.", "class": "adult"}


def _take(vault: Vault, sku: str, today: date, used: set[str]) -> dict[str, Any] | None:
    free = [p for p in vault.active(sku, today) if p["Label"] not in used]
    if not free:
        return None
    pkg = min(free, key=lambda p: p["PackagedDate"])  # FIFO: the oldest active package
    used.add(pkg["Label"])
    return pkg


def _lines(
    rng: random.Random,
    vault: Vault,
    today: date,
    used: set[str],
    incident: str | None,
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """1-3 lines (2-3 for incidents that need a second line), each naming an exact UID or a SKU
    (+ batch), never reusing a package; plus the package picked for each line."""
    plain = [p for p in CATALOGUE if not p.weigh]
    count = (
        rng.randint(2, 3) if incident in ("duplicate_scan", "wrong_batch") else rng.randint(1, 3)
    )
    products = rng.sample(plain, count)
    if incident == "over_limit":  # a flower line on top of a day's worth of flower
        products[0] = CATALOGUE[0]
    lines: list[dict[str, Any]] = []
    picks: dict[int, str] = {}
    for product in products:
        pkg = _take(vault, product.sku, today, used)
        if pkg is None:
            continue
        number = len(lines) + 1
        line: dict[str, Any] = {"line": number}
        if incident == "wrong_batch" and number == 1:
            line |= {"sku": pkg["Sku"], "batch": pkg["Batch"]}  # the POS fixed the batch
        elif incident in ("expired", "typo_tag") and number == 1:
            line |= {"sku": pkg["Sku"]} if incident == "expired" else {"uid": pkg["Label"]}
        elif rng.random() < 0.5:
            line["uid"] = pkg["Label"]
        else:
            line |= {"sku": pkg["Sku"], "batch": pkg["Batch"]}
        lines.append(line)
        picks[number] = pkg["Label"]
    return lines, picks


def _typo(label: str, taken: set[str]) -> str:
    """A hand-typed tag with two neighbouring characters swapped: the last such swap that is not
    the tag of another package in the vault (that would be a real, different package)."""
    for i in range(len(label) - 1, 3, -1):
        if label[i] != label[i - 1]:
            typed = label[: i - 1] + label[i] + label[i - 1] + label[i + 1 :]
            if typed not in taken:
                return typed
    return label[:-1] + ("0" if label[-1] != "0" else "1")


def _wrong(vault: Vault, today: date, incident: str | None, pick: str) -> str | None:
    """What the technician scans by mistake for the first line of an incident order."""
    first = next(p for p in vault.packages if p["Label"] == pick)
    same_sku = vault.by_sku[first["Sku"]]
    labels: list[str] = []
    if incident == "wrong_batch":  # a sellable package of the same product, another batch
        labels = [
            p["Label"]
            for p in same_sku
            if p["Batch"] != first["Batch"]
            and date.fromisoformat(p["ExpirationDate"]) >= today
            and not p["IsOnHold"]
        ]
    elif incident == "expired":  # the expired package left on the shelf
        labels = [p["Label"] for p in same_sku if date.fromisoformat(p["ExpirationDate"]) < today]
    elif incident == "typo_tag":
        labels = [_typo(pick, {p["Label"] for p in vault.packages})]
    elif incident == "duplicate_scan":
        labels = [pick]
    return labels[0] if labels else None


def _at(now: datetime, minutes_before: int) -> str:
    """A time earlier today (never before midnight) in the store's time zone."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(minutes=minutes_before), midnight).isoformat(timespec="seconds")


def generate_day(
    rng: random.Random, vault: Vault, now: datetime, n_orders: int
) -> list[PlannedOrder]:
    """`n_orders` orders placed today (`now` is the store's local time, with its offset); every
    incident of INCIDENTS happens once when n_orders >= len(INCIDENTS) + 4 (13)."""
    today = now.date()
    incidents = list(INCIDENTS) if n_orders >= len(INCIDENTS) + 4 else []
    rng.shuffle(incidents)
    # central_down covers a stretch of orders: keep it away from the very end
    slots = sorted(rng.sample(range(2, n_orders - 2), len(incidents))) if incidents else []
    planned_incident = dict(zip(slots, incidents, strict=True))
    used: set[str] = set()
    plan: list[PlannedOrder] = []
    for n in range(n_orders):
        incident = planned_incident.get(n)
        lines, picks = _lines(rng, vault, today, used, incident)
        order: dict[str, Any] = {
            "order_id": str(1040 + n),
            "channel": "delivery" if rng.random() < 0.3 else "pickup",
            "customer": _customer(rng, n),
            "placed_at": _at(now, max(5, 240 - n * 5)),
            "lines": lines,
            "prior": [],
        }
        if incident == "over_limit":  # 28 g of flower bought this morning: any flower is too much
            order["prior"] = [
                {"at": _at(now, 180), "category": "flower", "quantity": 1, "net_weight_mg": 28000}
            ]
        elif incident is None and rng.random() < 0.2:  # a small earlier purchase, under the limits
            order["prior"] = [
                {"at": _at(now, 120), "category": "flower", "quantity": 1, "net_weight_mg": 3500}
            ]
        if incident == "short_weight" or (incident is None and rng.random() < 0.15):
            pkg = _take(vault, "BLK-OG", today, used)
            if pkg is not None:
                number = len(order["lines"]) + 1
                order["lines"].append(
                    {
                        "line": number,
                        "sku": "BLK-OG",
                        "quantity": 1,
                        "weigh": True,
                        "labelled_weight_mg": DELI_PORTION_MG,
                    }
                )
                picks[number] = pkg["Label"]
        wrong = _wrong(vault, today, incident, picks[1]) if incident else None
        if incident == "wrong_batch" and wrong is not None:
            used.add(wrong)  # halted as the wrong batch, it is quarantined: no later order gets it
        if incident == "resold":  # slots start at 2: the first order is a plain one, sealed
            wrong = plan[0].picks.get(1)
        plan.append(PlannedOrder(order, incident, picks, wrong))
    if n_orders >= len(INCIDENTS) + 4:  # the last order of the day ships wholesale
        plan[-1] = wholesale_order(vault, today, used, plan[-1].order)
    return plan


# The day's two wholesale buyers: one licensed, one whose license expired (docs/wholesale.md).
BUYER = ("C10-0000123-LIC", "Green Shelf Retail LLC")
EXPIRED_BUYER = ("C10-0000456-LIC", "Old Leaf Inc")


def wholesale_order(
    vault: Vault, today: date, used: set[str], like: dict[str, Any]
) -> PlannedOrder:
    """A wholesale order for three exact packages of one product, to the licensed buyer."""
    lines: list[dict[str, Any]] = []
    picks: dict[int, str] = {}
    for n in range(1, 4):
        pkg = _take(vault, CATALOGUE[0].sku, today, used)
        assert pkg is not None, "the vault has enough packages of the first product"
        lines.append({"line": n, "uid": pkg["Label"], "weigh": True, "gross": True})
        picks[n] = pkg["Label"]
    order = {
        "order_id": like["order_id"],
        "channel": "wholesale",
        "customer": {"id": "B-77", "name": BUYER[1]},
        "buyer": {"license": BUYER[0], "name": BUYER[1]},
        "ship_date": (today + timedelta(days=2)).isoformat(),
        "placed_at": like["placed_at"],
        "lines": lines,
    }
    return PlannedOrder(order, None, picks)


def refused_wholesale(today: date) -> dict[str, Any]:
    """The day's wholesale order central must refuse: its buyer's license expired."""
    return {
        "order_id": "9001",
        "channel": "wholesale",
        "customer": {"id": "B-78", "name": EXPIRED_BUYER[1]},
        "buyer": {"license": EXPIRED_BUYER[0], "name": EXPIRED_BUYER[1]},
        "ship_date": (today + timedelta(days=2)).isoformat(),
        "lines": [{"line": 1, "sku": CATALOGUE[0].sku, "quantity": 1}],
    }


def licenses_csv(today: date) -> str:
    """The state's license list as of today: the buyer active, the other expired last week."""
    rows = [
        "License Number,Business Legal Name,License Status,License Expiration Date",
        f"{BUYER[0]},{BUYER[1]},Active,{(today + timedelta(days=300)).isoformat()}",
        f"{EXPIRED_BUYER[0]},{EXPIRED_BUYER[1]},Active,{(today - timedelta(days=7)).isoformat()}",
    ]
    return "\n".join(rows) + "\n"
