"""Type stubs for the compiled core (core_rs, built by maturin into edge._core)."""

from typing import TypeAlias

__version__: str

# --- purchase limits (core_rs/src/py_limits.rs; typed wrapper: edge/limits.py) ---------------
# Exact values cross as (numerator, denominator) pairs; amounts are integer mg / ml / units.

LimitRatio: TypeAlias = tuple[int, int]
# (category, measure, factor: bucket units per mg/ml/unit)
LimitMemberTuple: TypeAlias = tuple[str, str, LimitRatio]
# (name, unit, cap in unit, window "transaction" | "day" | "rolling", window days, members)
LimitBucketTuple: TypeAlias = tuple[str, str, LimitRatio, str, int, list[LimitMemberTuple]]
LimitClassTuple: TypeAlias = tuple[str, list[LimitBucketTuple]]
# (effective date as date.toordinal(), effective date label "YYYY-MM-DD", classes)
LimitVersionTuple: TypeAlias = tuple[int, str, list[LimitClassTuple]]
# (category, quantity, net_weight_mg, concentrate_mg, thc_mg, volume_ml), measures per unit
LimitLineTuple: TypeAlias = tuple[str, int, int | None, int | None, int | None, int | None]
# (epoch seconds, store-local date ordinal, *LimitLineTuple)
LimitPriorTuple: TypeAlias = tuple[
    int, int, str, int, int | None, int | None, int | None, int | None
]
# (name, unit, window kind, window days, cap, prior_used, cart_used, remaining, over,
#  cap_display, remaining_display)
LimitBucketResultTuple: TypeAlias = tuple[
    str, str, str, int, LimitRatio, LimitRatio, LimitRatio, LimitRatio, bool, str, str
]
# (category, measure, largest further amount in mg/ml/units, display)
LimitMaxMoreTuple: TypeAlias = tuple[str, str, int, str]

class LimitResult:
    """A verdict computed in full by the engine; each attribute is converted when read."""

    @property
    def allowed(self) -> bool: ...
    @property
    def version(self) -> str:
        """Effective date (label) of the rule version applied."""
    @property
    def customer_class(self) -> str: ...
    @property
    def crossing(self) -> tuple[int, str] | None:
        """(index of the first cart line that takes a bucket over, bucket name)."""
    @property
    def buckets(self) -> list[LimitBucketResultTuple]: ...
    @property
    def max_more(self) -> list[LimitMaxMoreTuple]: ...

class LimitRuleError(ValueError):
    """A rule model the limit engine cannot use (names code, version, class, bucket)."""

class LimitInputError(ValueError):
    """A cart the engine cannot evaluate: unknown class, no version in force, a line without
    a measure its rule needs (named as `lines[i]` / `prior[i]` and the field)."""

class LimitRules:
    """One jurisdiction's compiled rules (versions in increasing effective-date order)."""

    def __init__(self, code: str, versions: list[LimitVersionTuple]) -> None: ...
    @property
    def code(self) -> str: ...
    def version_at(self, day: int) -> str | None:
        """Label of the version in force on the date ordinal `day`, or None."""
    def check(
        self,
        customer_class: str,
        at_s: int,
        day: int,
        lines: list[LimitLineTuple],
        prior: list[LimitPriorTuple],
    ) -> LimitResult:
        """Evaluate a cart at `at_s` on store-local date ordinal `day`. Calendar-day buckets
        count priors with the same `day`; rolling N-day buckets count priors with
        `at_s - N*86400 < prior_at_s`; per-transaction buckets count no priors."""
