"""Type stubs for the compiled core (core_rs, built by maturin into edge._core)."""

from typing import TypeAlias, final

__version__: str

# --- purchase limits (core_rs/src/py_limits.rs; typed wrapper: edge/limits.py) ---------------
# Exact values cross as (numerator, denominator) pairs; amounts are integer mg / ml / units.

_LimitRatio: TypeAlias = tuple[int, int]
# (category, measure, factor: bucket units per mg/ml/unit)
_LimitMemberTuple: TypeAlias = tuple[str, str, _LimitRatio]
# (name, unit, cap in unit, window "transaction" | "day" | "rolling", window days, members)
_LimitBucketTuple: TypeAlias = tuple[str, str, _LimitRatio, str, int, list[_LimitMemberTuple]]
_LimitClassTuple: TypeAlias = tuple[str, list[_LimitBucketTuple]]
# (effective date as date.toordinal(), effective date label "YYYY-MM-DD", classes)
_LimitVersionTuple: TypeAlias = tuple[int, str, list[_LimitClassTuple]]
# (category, quantity, net_weight_mg, concentrate_mg, thc_mg, volume_ml), measures per unit
_LimitLineTuple: TypeAlias = tuple[str, int, int | None, int | None, int | None, int | None]
# (epoch seconds, store-local date ordinal, *_LimitLineTuple)
_LimitPriorTuple: TypeAlias = tuple[
    int, int, str, int, int | None, int | None, int | None, int | None
]
# (name, unit, window kind, window days, cap, prior_used, cart_used, remaining, over,
#  cap_display, remaining_display)
_LimitBucketResultTuple: TypeAlias = tuple[
    str, str, str, int, _LimitRatio, _LimitRatio, _LimitRatio, _LimitRatio, bool, str, str
]
# (category, measure, largest further amount in mg/ml/units, display)
_LimitMaxMoreTuple: TypeAlias = tuple[str, str, int, str]

@final
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
    def buckets(self) -> list[_LimitBucketResultTuple]: ...
    @property
    def max_more(self) -> list[_LimitMaxMoreTuple]: ...

class LimitRuleError(ValueError):
    """A rule model the limit engine cannot use (names code, version, class, bucket)."""

class LimitInputError(ValueError):
    """A cart the engine cannot evaluate: unknown class, no version in force, a line without
    a measure its rule needs (named as `lines[i]` / `prior[i]` and the field)."""

@final
class LimitRules:
    """One jurisdiction's compiled rules (versions in increasing effective-date order)."""

    def __new__(cls, code: str, versions: list[_LimitVersionTuple]) -> LimitRules: ...
    @property
    def code(self) -> str: ...
    def version_at(self, day: int) -> str | None:
        """Label of the version in force on the date ordinal `day`, or None."""
    def check(
        self,
        customer_class: str,
        at_s: int,
        day: int,
        lines: list[_LimitLineTuple],
        prior: list[_LimitPriorTuple],
    ) -> LimitResult:
        """Evaluate a cart at `at_s` on store-local date ordinal `day`. Calendar-day buckets
        count priors with the same `day`; rolling N-day buckets count priors with
        `at_s - N*86400 < prior_at_s`; per-transaction buckets count no priors."""
