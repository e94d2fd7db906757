"""The potency of a portion weighed out of a bulk package: one rule, stated once.

A weigh-out (deli) portion holds the bulk package's cannabinoids in proportion to its net weight:

    portion mg = bulk mg * portion net mg / bulk net mg        (an exact Fraction)

The figure stays exact (a `Fraction`) for every decision: the limit check counts it as it is, and
the journal records it as its exact text (`"1753/2"`). It is rounded only where a person reads
it, on the printed label, and then DOWN to whole milligrams (`printed_mg`): a label may never
state more THC than the portion can hold (1 CCR 212-3 Rule 3-1010(B)(3): no false or misleading
statement on a label; the portion's figure is the bulk figure scaled by weight, never the bulk
figure itself).

Pure: no I/O, no floats. May import nothing but the standard library.
"""

from __future__ import annotations

from fractions import Fraction


class PotencyUnknown(ValueError):
    """The bulk package lacks what the rule needs (its net weight or its cannabinoid figure)."""


def portion_mg(bulk_mg: int | None, portion_net_mg: int, bulk_net_mg: int | None) -> Fraction:
    """Exact cannabinoid mg in `portion_net_mg` of a bulk package holding `bulk_mg` in
    `bulk_net_mg`. PotencyUnknown when the bulk figure or the bulk net weight is missing or the
    bulk net weight is 0; ValueError for a negative input or a portion heavier than the bulk."""
    if bulk_mg is None:
        raise PotencyUnknown("the bulk package has no cannabinoid figure")
    if bulk_net_mg is None or bulk_net_mg == 0:
        raise PotencyUnknown("the bulk package has no net weight")
    if bulk_mg < 0 or portion_net_mg < 0 or bulk_net_mg < 0:
        raise ValueError("potency inputs must be >= 0")
    if portion_net_mg > bulk_net_mg:
        raise ValueError(
            f"a portion of {portion_net_mg} mg cannot come from a package of {bulk_net_mg} mg"
        )
    return Fraction(bulk_mg) * portion_net_mg / bulk_net_mg


def printed_mg(exact: Fraction) -> int:
    """The whole milligrams a label prints for an exact figure: rounded down, never up."""
    if exact < 0:
        raise ValueError("potency must be >= 0")
    return exact.numerator // exact.denominator


def exact_text(exact: Fraction) -> str:
    """The exact figure as text for records: `"876"` or `"3505/4"` (never a float)."""
    return str(exact)
