"""Type stubs for the compiled core (core_rs, built by maturin into edge._core)."""

from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from os import PathLike
from typing import Literal, Protocol, TypeAlias, final

# The verdict names are the workflow's: one list, which the core's verdicts must match.
from edge.workflow.ports import VerdictName as _VerdictName

__all__ = [
    "BucketUse",
    "CoreError",
    "Crossing",
    "Inventory",
    "InventoryFormatError",
    "InventoryRows",
    "LimitHistory",
    "LimitInputError",
    "LimitOrder",
    "LimitResult",
    "LimitRuleBucket",
    "LimitRuleClass",
    "LimitRuleError",
    "LimitRuleMember",
    "LimitRuleVersion",
    "LimitRules",
    "LimitZone",
    "MaxMore",
    "OrderCheck",
    "OrderFormatError",
    "Package",
    "Recognised",
    "Recogniser",
    "Reconciliation",
    "RestoreError",
    "ScanCoreError",
    "TagPatternError",
    "Verdict",
    "__version__",
    "chain_hashes",
    "osa_distance",
    "retail_id_url",
]

__version__: str

class CoreError(ValueError):
    """Base class of every error edge._core raises."""

# --- purchase limits (core_rs/src/py/limits.rs; typed wrapper: edge/limits/engine.py) ------
# Amounts are integer mg / ml / units; exact values are Fractions going in and
# (numerator, denominator) pairs coming out (as Fraction.as_integer_ratio()), never floats.

_LimitCategory: TypeAlias = Literal[
    "flower", "concentrate", "edible", "infused_liquid", "topical", "plant", "seed"
]
# thc_cbd: THC plus CBD (the total cannabinoid weight), both figures required
_LimitMeasure: TypeAlias = Literal["net_weight", "concentrate", "thc", "thc_cbd", "volume", "units"]
_LimitWindow: TypeAlias = Literal["transaction", "day", "rolling"]
_LimitRatio: TypeAlias = tuple[int, int]
# (category, quantity, net_weight_mg, concentrate_mg, thc_mg, volume_ml[, cbd_mg]), measures per
# unit; without the trailing cbd_mg the line has no CBD figure
_LimitLineTuple: TypeAlias = (
    tuple[str, int, int | None, int | None, int | None, int | None]
    | tuple[str, int, int | None, int | None, int | None, int | None, int | None]
)
# (epoch seconds, store-local date ordinal, *_LimitLineTuple)
_LimitPriorTuple: TypeAlias = (
    tuple[int, int, str, int, int | None, int | None, int | None, int | None]
    | tuple[int, int, str, int, int | None, int | None, int | None, int | None, int | None]
)

class LimitRuleError(CoreError):
    """A rule model the limit engine cannot use (names code, version, class, bucket)."""

class LimitInputError(CoreError):
    """A cart the engine cannot evaluate: unknown class, no version in force, a line without
    a measure its rule needs (named as `lines[i]` / `prior[i]` and the field)."""

@final
class LimitRuleMember:
    """What a bucket counts: `factor` bucket units per mg / ml / unit of `measure`."""

    def __new__(cls, *, category: str, measure: str, factor: Fraction) -> LimitRuleMember: ...
    @property
    def category(self) -> str: ...
    @property
    def measure(self) -> str: ...
    @property
    def factor(self) -> Fraction: ...

@final
class LimitRuleBucket:
    """One capped quantity: `cap` in `unit` over a window ("rolling": `window_days` days)."""

    def __new__(
        cls,
        *,
        name: str,
        unit: str,
        cap: Fraction,
        window: str,
        window_days: int,
        members: Sequence[LimitRuleMember],
    ) -> LimitRuleBucket: ...
    @property
    def name(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def cap(self) -> Fraction: ...
    @property
    def window(self) -> str: ...
    @property
    def window_days(self) -> int: ...
    @property
    def members(self) -> list[LimitRuleMember]: ...

@final
class LimitRuleClass:
    """The buckets of one customer class."""

    def __new__(cls, *, name: str, buckets: Sequence[LimitRuleBucket]) -> LimitRuleClass: ...
    @property
    def name(self) -> str: ...
    @property
    def buckets(self) -> list[LimitRuleBucket]: ...

@final
class LimitRuleVersion:
    """A rule version in force from `effective_day` (`date.toordinal()`), labelled "YYYY-MM-DD"."""

    def __new__(
        cls, *, effective_day: int, label: str, classes: Sequence[LimitRuleClass]
    ) -> LimitRuleVersion: ...
    @property
    def effective_day(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def classes(self) -> list[LimitRuleClass]: ...

@final
class BucketUse:
    """How a bucket stands after the cart; exact values in `unit` (the state's unit)."""

    @property
    def name(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def window(self) -> _LimitWindow: ...
    @property
    def window_days(self) -> int:
        """The N of a rolling window (1 for "day", 0 for "transaction")."""
    @property
    def cap(self) -> _LimitRatio: ...
    @property
    def prior_used(self) -> _LimitRatio:
        """Use by prior purchases inside the window."""
    @property
    def cart_used(self) -> _LimitRatio: ...
    @property
    def remaining(self) -> _LimitRatio:
        """cap - prior_used - cart_used; negative when over."""
    @property
    def over(self) -> bool:
        """The cart adds to the bucket and takes it past its cap."""
    @property
    def cap_display(self) -> str:
        """The cap in the state's unit ("2.5 oz")."""
    @property
    def remaining_display(self) -> str:
        """What remains, rounded down ("0.625 oz", "-0.5 g")."""

@final
class MaxMore:
    """The largest further amount of a category that still fits."""

    @property
    def category(self) -> _LimitCategory: ...
    @property
    def measure(self) -> _LimitMeasure: ...
    @property
    def amount(self) -> int:
        """In the measure's base unit: mg, ml or units."""
    @property
    def display(self) -> str:
        """ "2.5 g", "100 mg THC", "473 ml", "3 units"."""

@final
class Crossing:
    """The first cart line (0-based) after which a bucket it adds to is over its cap."""

    @property
    def line(self) -> int: ...
    @property
    def bucket(self) -> str: ...

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
    def crossing(self) -> Crossing | None: ...
    @property
    def buckets(self) -> list[BucketUse]: ...
    @property
    def max_more(self) -> list[MaxMore]: ...
    @property
    def reason(self) -> str:
        """One sentence for a discrepancy slip (as edge.limits.engine.LimitVerdict.reason)."""
    def summary(self) -> tuple[bool, str, str, str]:
        """(allowed, reason, version, customer_class)."""
    def report(self) -> list[tuple[str, str, int, int, str, str, str, str]]:
        """Reported buckets (a zero cap nothing touched is left out): (name, unit, used
        rounded down, cap rounded down, used, cap, prior_used, cart_used), the last four exact
        as str(Fraction) in unit; used = prior_used + cart_used."""

class _LimitPick(Protocol):
    @property
    def uid(self) -> str: ...
    @property
    def net_mg(self) -> int | None: ...

@final
class LimitHistory:
    """A customer's prior purchases converted once per order (LimitRules.check_packages)."""

    def __new__(cls, prior: list[_LimitPriorTuple]) -> LimitHistory: ...
    def __len__(self) -> int: ...

@final
class LimitZone:
    """The store's clock for LimitOrder.check: reads the station's ISO 8601 shape
    (YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)) itself, asks `offset(epoch_s)` for the
    UTC offset (seconds) of an hour it has not seen, and `resolve(text)` for (epoch_s, local
    day ordinal) of any other shape (which raises on a bad time)."""

    def __new__(
        cls, resolve: Callable[[str], tuple[int, int]], offset: Callable[[int], int]
    ) -> LimitZone: ...
    def at(self, at: str) -> tuple[int, int]:
        """(epoch seconds, store-local date ordinal) of `at`."""

@final
class LimitOrder:
    """One order's check prepared once: rules, store clock, customer class, prior purchases."""

    def __new__(
        cls,
        rules: LimitRules,
        zone: LimitZone,
        customer_class: str,
        prior: list[_LimitPriorTuple],
    ) -> LimitOrder: ...
    def __len__(self) -> int: ...
    def remember(
        self, inventory: Inventory, picks: Iterable[_LimitPick], at: str | None = None
    ) -> None:
        """Read the picks' cart lines from `inventory` ahead of `check`, which then reads only
        picks added since: a pick object already read at its place (and from this inventory) is
        taken to be unchanged, as a frozen `Pick` is. At the first call with `at`, also sum the
        history per bucket for the rules in force then. LimitInputError as `check` for a pick
        it cannot read; a bad `at` is left for `check`."""
    def check(self, at: str, inventory: Inventory, picks: list[_LimitPick]) -> LimitResult:
        """LimitRules.check_packages at `at` (an ISO 8601 time with offset) with this order's
        class and history."""
    def verdict(
        self, at: str, inventory: Inventory, picks: list[_LimitPick]
    ) -> tuple[bool, str, str, str, LimitResult]:
        """`check` and its result's `summary()` in one call: (allowed, reason, version,
        customer_class, result)."""

@final
class LimitRules:
    """One jurisdiction's compiled rules (versions in increasing effective-date order)."""

    def __new__(cls, code: str, versions: Sequence[LimitRuleVersion]) -> LimitRules: ...
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
    def check_packages(
        self,
        customer_class: str,
        at_s: int,
        day: int,
        inventory: Inventory,
        picks: list[_LimitPick],
        history: LimitHistory,
    ) -> LimitResult:
        """As check, each pick one unit of its inventory package (category and measures read
        from the record). A weighed pick (net_mg set) counts net_mg as its net weight and its
        package's THC and concentrate mg in proportion, exactly: bulk mg * net / bulk net (a
        package without a positive net weight keeps them whole). LimitInputError names an
        unknown package, a bad category or an out-of-range measure."""

# --- Scan recognition, vault inventory index, scan verdicts (core_rs/src/py/scan.rs) ---

_ScanKind: TypeAlias = Literal[
    "empty", "metrc_tag", "retail_id", "biotrack", "gs1", "malformed", "unrecognised"
]

class ScanCoreError(CoreError):
    """Base class of the scan core's errors."""

class InventoryFormatError(ScanCoreError):
    """INVENTORY.json is not valid JSON or breaks docs/formats.md; the message says where."""

class OrderFormatError(ScanCoreError):
    """ORDER.json is not valid JSON or breaks docs/formats.md; the message says where."""

class TagPatternError(ScanCoreError):
    """A [scan] tag_patterns entry is not a valid regular expression (Rust `regex` syntax)."""

class RestoreError(ScanCoreError):
    """Journalled picks cannot be restored onto the order (unknown line, over-filled, repeated)."""

@final
class Recognised:
    """A normalised, classified scan."""

    kind: _ScanKind
    symbology: str | None
    """The AIM symbology identifier the scanner sent (e.g. "]C1"), split off the text."""
    text: str
    """The scan trimmed (GS kept); upper-cased when it is a METRC tag."""
    tag: str | None
    """The package UID named: the tag, the BioTrack id, or a Retail ID's package tag."""
    unit: int | None
    """A Retail ID's unit index."""
    problem: str | None
    """Why a "malformed" scan is malformed."""

@final
class Recogniser:
    """Scan recognition with the accepted package-tag patterns of `[scan] tag_patterns`."""

    def __new__(cls, tag_patterns: Sequence[str] | None = None) -> Recogniser:
        """Compile the patterns (None: the embedded defaults); TagPatternError if one is bad."""
    def recognise(self, text: str, aim_id: str | None = None) -> Recognised:
        """Normalise and classify one scan; never raises. `aim_id` is the AIM identifier the
        scanner driver split off (None: `text` is a raw scan, and a leading one is split here)."""

@final
class Package:
    """One vault package (INVENTORY.json). Decimal METRC figures are their exact JSON text."""

    label: str
    name: str
    sku: str
    batch: str
    location: str | None
    category: str | None
    product_category: str | None
    package_type: str | None
    unit_of_measure: str | None
    lab_testing_state: str | None
    quantity: str | None
    unit_thc_content: str | None
    packaged_date: str | None
    expiration_date: str | None
    is_on_hold: bool
    is_finished: bool
    net_weight_mg: int | None
    thc_mg: int | None
    cbd_mg: int | None
    concentrate_mg: int | None
    volume_ml: int | None

@final
class Reconciliation:
    """A cycle count against the inventory; tags upper-cased."""

    matched: list[str]
    """Counted where the inventory says (or the inventory has no location for it)."""
    missing: list[str]
    """Expected in the counted scope but not counted (inventory order)."""
    unexpected: list[tuple[str, str]]
    """(tag, counted location) of counted tags the inventory does not know."""
    wrong_place: list[tuple[str, str, str]]
    """(tag, counted location, inventory location)."""
    duplicates: list[str]
    """Tags counted more than once (the first count is the one judged)."""

@final
class Inventory:
    """The vault inventory index: exact lookup, near-miss search, reconciliation. Immutable."""

    @staticmethod
    def from_json(data: bytes) -> Inventory:
        """Parse INVENTORY.json bytes (array or METRC {"Data": [...]}); InventoryFormatError."""
    @staticmethod
    def from_file(path: str | PathLike[str]) -> Inventory:
        """Stream INVENTORY.json from a file; OSError if unreadable, InventoryFormatError if bad."""
    def __len__(self) -> int: ...
    def __contains__(self, tag: str, /) -> bool: ...
    def lookup(self, tag: str) -> Package | None:
        """The package with this tag (case-insensitive), or None."""
    def near(
        self, tag: str, max_distance: int = 2, limit: int | None = 10
    ) -> list[tuple[str, int]]:
        """(tag, OSA distance) within max_distance (0..4), nearest first, ties in tag order;
        the exact tag itself (distance 0) is included when present; limit None: all."""
    def reconcile(
        self, counted: Sequence[tuple[str, str]], locations: Sequence[str] | None = None
    ) -> Reconciliation:
        """Reconcile counted (tag, location) pairs against the packages whose Location is in
        `locations` (every package when None)."""
    def labels(self) -> list[str]:
        """Every tag, in file order."""
    @property
    def heap_bytes(self) -> int:
        """Approximate memory held by the index."""

@final
class InventoryRows:
    """Builds an Inventory from the station replica's package rows (key, one INVENTORY.json
    package object): chunk by chunk, parsed by a thread of the core's own while the caller
    fetches the next chunk, and indexed with the GIL released."""

    def __new__(cls) -> InventoryRows: ...
    def add(self, rows: Sequence[tuple[str, bytes]]) -> int:
        """Copy a chunk of rows and queue it for the parser thread; returns the rows queued so
        far (bad rows are kept aside, reported by `finish`). Waits, GIL released, while the
        parser is a few chunks behind."""
    def add_bodies(self, rows: Sequence[tuple[bytes]]) -> int:
        """`add` for rows of the body alone (a key is a Python string per row to fetch); a row
        left out is reported under the key "" (read the rows again with keys to name it)."""
    def __len__(self) -> int:
        """Rows queued so far."""
    def finish(self) -> tuple[Inventory, list[tuple[str, str]]]:
        """The index and (key, reason) of each row left out; InventoryFormatError on duplicate
        Labels or when called twice."""
    @staticmethod
    def changed(
        base: Inventory, changes: Sequence[tuple[str, bytes | None]]
    ) -> tuple[Inventory, list[tuple[str, str]]]:
        """`base` after feed changes: (key, body) adds or replaces, (key, None) removes; the
        unchanged packages are copied from `base`, not parsed again."""
    @staticmethod
    def save(inventory: Inventory, path: str | PathLike[str], tag: bytes) -> None:
        """Write a binary snapshot of the index tagged `tag` (temporary file, fsync, rename)."""
    @staticmethod
    def load(
        path: str | PathLike[str],
        changes_for: Callable[[bytes], Sequence[tuple[str, bytes | None]] | None],
    ) -> tuple[Inventory, bytes, list[tuple[str, str]]] | None:
        """(index, tag, rows left out) from a snapshot, with the changes `changes_for(tag)`
        returns applied before it is indexed; None when `changes_for` returns None. OSError if
        unreadable, InventoryFormatError if damaged."""

@final
class Verdict:
    """One scan's verdict; `reason` is one sentence for the discrepancy slip."""

    scan: str
    verdict: _VerdictName
    line: int | None
    reason: str
    candidates: list[str]
    """Tags to pick instead (near_miss, wrong_batch, fifo, not_in_order of a uid line)."""
    kind: _ScanKind
    """How the scan was recognised."""
    tag: str | None
    unit: int | None
    accepted: bool
    """Whether the scan now counts toward its line (match; fifo under policy "warn")."""

@final
class OrderCheck:
    """Verification of one order's scans against the inventory, keeping what was accepted."""

    def __new__(
        cls,
        order_json: bytes,
        inventory: Inventory,
        today: str,
        *,
        recogniser: Recogniser | None = None,
        fifo: Literal["warn", "refuse", "off"] = "warn",
        near_distance: int = 2,
        candidates: int = 5,
        lab_passed: Sequence[str] | None = None,
    ) -> OrderCheck:
        """Start a session. `today` is YYYY-MM-DD (expiry); fifo is "warn", "refuse" or "off";
        lines' `picked` UIDs are restored as earlier matches. OrderFormatError for a bad order,
        RestoreError for bad `picked`, CoreError for bad options."""
    def scan(self, text: str, aim_id: str | None = None) -> Verdict:
        """Judge one scan (`aim_id` as in Recogniser.recognise); an accepted one counts toward
        its line. Never raises."""
    def scan_parts(
        self, text: str, aim_id: str | None = None
    ) -> tuple[_VerdictName, str, int | None, str | None, list[str], _ScanKind, int | None, bool]:
        """scan(), answered as (verdict, reason, line, tag, candidates, kind, unit, accepted):
        one tuple, where each read of a Verdict's field builds that field again."""
    def replay(self, scans: Sequence[str]) -> list[Verdict]:
        """scan() each raw scan in order (deterministic for the same inventory and today)."""
    def restore(self, picks: Sequence[tuple[str, int]]) -> None:
        """Re-apply journalled accepted (raw scan, line) pairs without judging them again;
        RestoreError if one names no package, an unknown or full line, or repeats a pick."""
    def progress(self) -> list[tuple[int, int, list[str]]]:
        """Per line: (line number, quantity wanted, tags accepted so far)."""
    def picks(self) -> list[tuple[str, str, int | None, int]]:
        """Accepted scans in order: (raw scan, tag, Retail ID unit, line)."""
    @property
    def complete(self) -> bool:
        """Whether every line has all its packages."""
    @property
    def order_id(self) -> str: ...

def retail_id_url(tag: str, unit: int, base36: bool = True) -> str:
    """The METRC Retail ID URL of unit `unit` of package `tag` (24 hex digits)."""

def osa_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance of two ASCII strings."""

# --- The journal's hash chain (core_rs/src/py/chain.rs; caller: central/store/chain_check.py) ---
class _ChainEvent(Protocol):
    """What edge.common.protocol.Event carries for the chain."""

    @property
    def seq(self) -> int: ...
    @property
    def event_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def at(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def prev_hash(self) -> bytes: ...

def chain_hashes(events: Sequence[_ChainEvent]) -> list[bytes | None]:
    """Each event's hash recomputed from its own fields, prev_hash included, exactly as
    edge.common.chain.chain_hash does (GIL released); None where the event_id is not a plain
    8-4-4-4-12 or 32-digit hex UUID or a field is not of its wire type: Python decides those."""
