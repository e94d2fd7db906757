"""Exact weight arithmetic: decimal scale text -> integer milligrams, without floats.

Conversions use the exact legal definitions (1 lb = 453.59237 g, 1 oz = 1/16 lb = 28.349523125 g;
NIST Handbook 44 Appendix C). A value that does not land on a whole milligram is rounded DOWN (toward
minus infinity): a weight converted from lb or oz, or shown with sub-milligram digits, never
overstates what is on the pan, so a package is never credited with product it does not hold.
The display step (division) is rounded UP instead, so a scale never looks finer than it is.
"""

from __future__ import annotations

import re
from fractions import Fraction

# Milligrams per unit, exact.
MG_PER_UNIT: dict[str, Fraction] = {
    "mg": Fraction(1),
    "g": Fraction(1000),
    "kg": Fraction(1_000_000),
    "lb": Fraction(45_359_237, 100),  # 453 592.37 mg
    "oz": Fraction(28_349_523_125, 1_000_000),  # 28 349.523125 mg = lb / 16
}

# Spellings scales send, folded to our unit names. "gr" is deliberately absent: it is grains.
_ALIASES = {"mg": "mg", "g": "g", "kg": "kg", "lb": "lb", "lbs": "lb", "oz": "oz"}

# Sign, digits, optional fraction. At most 12 digits: no real scale shows more, and a cap stops
# line noise from turning into an absurd number.
_NUMBER = re.compile(r"^([+-]?)\s*(\d{0,12})(?:\.(\d{0,12}))?$")


class WeightFormatError(ValueError):
    """A weight field or unit the driver cannot turn into milligrams."""


def normalise_unit(text: str) -> str:
    """The unit name for a scale's unit field (`KG` -> `kg`); WeightFormatError if not a mass."""
    unit = _ALIASES.get(text.strip().lower())
    if unit is None:
        raise WeightFormatError(f"unit {text.strip()!r} is not a mass unit we accept")
    return unit


def parse_weight(text: str, unit: str) -> tuple[int, int]:
    """`("  3.50", "g")` -> `(3500, 10)`: the weight in mg (rounded down) and the display step
    in mg implied by the decimals shown (rounded up, at least 1)."""
    match = _NUMBER.match(text.strip())
    if match is None or not (match.group(2) or match.group(3)):
        raise WeightFormatError(f"weight {text.strip()!r} is not a decimal number")
    sign, whole, frac = match.group(1), match.group(2) or "0", match.group(3) or ""
    factor = MG_PER_UNIT[normalise_unit(unit)]
    digits = int(whole + frac) * (-1 if sign == "-" else 1)
    scale = 10 ** len(frac)
    # value = digits / scale * factor, floored; the step = factor / scale, ceiled (all exact).
    num, den = digits * factor.numerator, scale * factor.denominator
    return num // den, max(1, -(-factor.numerator // (scale * factor.denominator)))


def format_grams(mg: int) -> str:
    """Milligrams as grams for people: 3480 -> "3.48 g", 3485 -> "3.485 g", 100 -> "0.10 g"."""
    sign = "-" if mg < 0 else ""
    whole, rest = divmod(abs(mg), 1000)
    frac = f"{rest:03d}"
    if frac.endswith("0"):
        frac = frac[:2]
    return f"{sign}{whole}.{frac} g"
