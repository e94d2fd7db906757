"""What is left of a package: its measure, the sales and holds against it, its quarantine.

Shared by central (which folds every sealed or cancelled order into the inventory it serves,
central/stock.py) and the station (which also counts its own journal at once, offline:
edge/scan/availability.py). One package's amount is counted in whole units for `Each` packages
and in integer milligrams for packages weighed in a weight unit (bulk sold by weight), never in
floats: METRC's decimal `Quantity` is read as an exact fraction.

Central serves each package with its remaining `Quantity` and a `Packstation` block
(`StockBlock`): every sale it has accounted for (so a station never counts its own sale twice),
the holds of open orders on every station, the package's quarantine and the quarantine events it
has seen. docs/formats.md, "What central adds to a package".
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal

import msgspec

BLOCK = "Packstation"  # the key of central's block in a served package
MAX_AMOUNT = 10**18

# METRC UnitOfMeasure names by quantity type (GET /unitsofmeasure/v2/active). Weight units in mg:
# 1 oz = 28.349523125 g and 1 lb = 453.59237 g exactly (international avoirdupois, NIST SP 811).
WEIGHT_MG: dict[str, Fraction] = {
    "milligrams": Fraction(1),
    "grams": Fraction(1000),
    "kilograms": Fraction(1_000_000),
    "ounces": Fraction("28349.523125"),
    "pounds": Fraction("453592.37"),
}
COUNT_UNITS = frozenset({"each", "ea", ""})

Basis = Literal["each", "mg"]


class StockError(ValueError):
    """A package's Quantity or unit cannot be counted."""


def exact(value: Any) -> Fraction | None:
    """A JSON number (int, float as decimal text, Decimal or numeric string) as an exact
    fraction; None when absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) > MAX_AMOUNT:
            raise StockError(f"Quantity {value!r} is out of range")
        return Fraction(value)
    try:
        number = Decimal(str(value))
        if not number.is_finite() or abs(number.adjusted()) > 18:
            raise StockError(f"Quantity {value!r} is out of range")
        return Fraction(number)
    except (InvalidOperation, ValueError) as exc:
        raise StockError(f"Quantity {value!r} is not a number") from exc


def small_int(value: Any, low: int = 0, high: int = 2**62) -> int | None:
    """`value` when it is an int (not a bool) within [low, high], else None: what a station's
    event may carry as a unit, a weight or an amount before it goes into a store column."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def basis_of(pkg: dict[str, Any]) -> Basis:
    """How the package is counted: `each` (units) or `mg` (a weight unit)."""
    unit = str(pkg.get("UnitOfMeasureName") or pkg.get("UnitOfMeasure") or "").strip().lower()
    if unit in WEIGHT_MG:
        return "mg"
    return "each"


def amount_of(pkg: dict[str, Any], quantity: Any) -> Fraction | None:
    """A METRC Quantity of this package in its basis (units, or mg)."""
    q = exact(quantity)
    if q is None:
        return None
    unit = str(pkg.get("UnitOfMeasureName") or pkg.get("UnitOfMeasure") or "").strip().lower()
    return q * WEIGHT_MG[unit] if unit in WEIGHT_MG else q


def quantity_text(pkg: dict[str, Any], amount: Fraction) -> Decimal:
    """An amount in the package's basis back to a METRC Quantity in its own unit (exact: mg
    over a unit of weight is a finite decimal for the units above, rounded down to 6 places)."""
    unit = str(pkg.get("UnitOfMeasureName") or pkg.get("UnitOfMeasure") or "").strip().lower()
    value = amount / WEIGHT_MG[unit] if unit in WEIGHT_MG else amount
    whole = Decimal(value.numerator) / Decimal(value.denominator)
    return whole.quantize(Decimal("0.000001"), rounding="ROUND_FLOOR").normalize()


class Take(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One draw on a package by an order: `amount` units (each) or mg; `unit` a Retail ID's
    unit number when the scan named one; `at` when it was scanned (a hold) or sealed (a sale)."""

    station: str
    order_id: str
    amount: int
    at: str = ""
    unit: int | None = None
    weighed_mg: int | None = None  # the net weight weighed out, when the line was weighed

    def draw(self, basis: Basis) -> int:
        """What the take draws from a package counted in `basis`: a weighed portion of a
        package counted in mg, else `amount` (one unit of an `Each` package, weighed or not)."""
        return self.weighed_mg if basis == "mg" and self.weighed_mg is not None else self.amount


class QuarantineMark(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Why a package must not be sold until a supervisor releases it."""

    station: str
    order_id: str = ""
    code: str = ""
    reason: str = ""
    at: str = ""
    key: str = ""  # "<station>:<seq>" of the station's quarantine event


class StockBlock(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Central's block in a served package (`BLOCK`)."""

    imported: str | None = None  # the Quantity of the import, before central's sales
    as_of: str = ""  # the import's LastModified (sales sealed after it are subtracted)
    sold: list[Take] = msgspec.field(default_factory=list)  # every sale central accounted for
    held: list[Take] = msgspec.field(default_factory=list)  # holds of open orders, all stations
    quarantine: QuarantineMark | None = None
    seen: list[str] = msgspec.field(default_factory=list)  # quarantine event keys central folded


def block_of(pkg: dict[str, Any]) -> StockBlock:
    """Central's block of a served package (an empty one when absent or unreadable)."""
    raw = pkg.get(BLOCK)
    if not isinstance(raw, dict):
        return StockBlock()
    try:
        return msgspec.convert(raw, StockBlock)
    except msgspec.ValidationError:
        return StockBlock()


SEALED_STATUSES = frozenset({"ready_for_pickup", "out_for_delivery", "sealed"})
