"""Purchase-limit rule files (config/limits/<CODE>.toml): load and validate.

Every quantity becomes an exact `Fraction` in base units (mg, ml, units); nothing is a float.
Problems are collected, not raised one by one, and each names the file, the rule version, the
class, the bucket and the key: `IL.toml: version 2020-01-01: class adult: bucket flower: cap:
expected a quantity like "28.5 g", got 30`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge import _core
from edge.common import bounded
from edge.common.errors import ConfigError

CATEGORIES = ("flower", "concentrate", "edible", "infused_liquid", "topical", "plant", "seed")
# Measure -> dimension and the CART.json field that carries it.
MEASURES = {
    "net_weight": ("mass", "net_weight_mg"),
    "concentrate": ("mass", "concentrate_mg"),
    "thc": ("mass", "thc_mg"),
    # The total cannabinoid weight, THC plus CBD (New Jersey: nj.gov/cannabis/adult-personal/).
    "thc_cbd": ("mass", "thc_mg + cbd_mg"),
    "volume": ("volume", "volume_ml"),
    "units": ("count", "quantity"),
}
# US fluid ounce (exact by definition: 1/128 US gallon of 231 in^3).
FLUID_OUNCE_ML = Fraction("29.5735295625")
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?(?:/\d+)?)\s*([A-Za-z_]+)\s*$")
_ROLLING = re.compile(r"^rolling (\d{1,3}) days?$")


@dataclass(frozen=True)
class Quantity:
    """A figure as written ("2.5 oz") and its exact size in base units of its dimension."""

    text: str
    value: Fraction  # in `unit`
    unit: str
    dimension: str  # mass | volume | count | the unit's own name (abstract, e.g. "MME")
    base: Fraction  # in mg / ml / units; value for abstract units


@dataclass(frozen=True)
class Window:
    """`transaction`, `day` (store-local calendar day) or `rolling` over `days` x 24 h."""

    kind: str
    days: int = 0

    def describe(self) -> str:
        if self.kind == "transaction":
            return "per transaction"
        if self.kind == "day":
            return "per calendar day (store time zone)"
        return f"per rolling {self.days} days"


@dataclass(frozen=True)
class Member:
    """A category/measure a bucket counts; `factor` = bucket units per mg/ml/unit."""

    category: str
    measure: str
    factor: Fraction
    how: str  # plain words: "counts 1:1", "8 g fills the cap", "3.5 g per MME"

    def to_core(self) -> _core.LimitRuleMember:
        return _core.LimitRuleMember(
            category=self.category, measure=self.measure, factor=self.factor
        )


@dataclass(frozen=True)
class Bucket:
    name: str
    cap: Quantity
    window: Window
    members: tuple[Member, ...]
    note: str = ""

    def to_core(self) -> _core.LimitRuleBucket:
        return _core.LimitRuleBucket(
            name=self.name,
            unit=self.cap.unit,
            cap=self.cap.value,
            window=self.window.kind,
            window_days=self.window.days,
            members=[m.to_core() for m in self.members],
        )


@dataclass(frozen=True)
class ClassRules:
    name: str
    description: str
    buckets: tuple[Bucket, ...]
    exempt: tuple[str, ...]
    prohibited: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleVersion:
    effective: date
    source: str
    classes: dict[str, ClassRules]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class JurisdictionRules:
    """One validated rule file."""

    code: str
    name: str
    timezone: str
    ounce: Quantity
    sources: tuple[str, ...]
    versions: tuple[RuleVersion, ...]  # increasing effective dates
    notes: tuple[str, ...] = ()
    path: Path = field(default=Path())

    def version_at(self, day: date) -> RuleVersion | None:
        """The version in force on `day` (the latest effective on or before it)."""
        found = None
        for v in self.versions:
            if v.effective <= day:
                found = v
        return found

    def core_buckets(self, cls: ClassRules) -> list[Bucket]:
        """The class's buckets plus one zero cap per prohibited category."""
        out = list(cls.buckets)
        for cat in cls.prohibited:
            cap = Quantity("0 units", Fraction(0), "units", "count", Fraction(0))
            member = Member(cat, "units", Fraction(1), "not sold to this class")
            out.append(Bucket(f"{cat} (not sold)", cap, Window("transaction"), (member,)))
        return out

    def to_core(self) -> list[_core.LimitRuleVersion]:
        """The rule model `edge._core.LimitRules` compiles."""
        return [
            _core.LimitRuleVersion(
                effective_day=v.effective.toordinal(),
                label=v.effective.isoformat(),
                classes=[
                    _core.LimitRuleClass(
                        name=cls.name, buckets=[b.to_core() for b in self.core_buckets(cls)]
                    )
                    for cls in v.classes.values()
                ],
            )
            for v in self.versions
        ]


class _Problems:
    """Collects problems, each prefixed with where it is."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: list[str] = []

    def add(self, where: str, key: str, message: str) -> None:
        place = f"{self.file}: {where}: " if where else f"{self.file}: "
        self.lines.append(f"{place}{key}: {message}")


def _repr(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def _unit_size(unit: str, ounce_mg: Fraction) -> tuple[str, Fraction]:
    sizes: dict[str, tuple[str, Fraction]] = {
        "mg": ("mass", Fraction(1)),
        "g": ("mass", Fraction(1000)),
        "kg": ("mass", Fraction(1_000_000)),
        "oz": ("mass", ounce_mg),
        "ml": ("volume", Fraction(1)),
        "l": ("volume", Fraction(1000)),
        "floz": ("volume", FLUID_OUNCE_ML),
        "units": ("count", Fraction(1)),
        "unit": ("count", Fraction(1)),
    }
    return sizes.get(unit, (unit, Fraction(1)))


def parse_quantity(text: Any, ounce_mg: Fraction) -> Quantity | None:
    """`"2.5 oz"` -> Quantity, or None when `text` is not a quantity."""
    if not isinstance(text, str):
        return None
    m = _QUANTITY.match(text)
    if not m:
        return None
    number, unit = m.groups()
    num, _, den = number.partition("/")
    value = Fraction(num) / Fraction(den or 1)
    dimension, size = _unit_size(unit, ounce_mg)
    return Quantity(text.strip(), value, unit, dimension, value * size)


_QUANTITY_EXPECTED = 'a quantity like "28.5 g", "1 oz", "500 mg", "72 floz" or "24.3 MME"'


class _Reader:
    """Walks one rule file's TOML table, collecting problems."""

    def __init__(self, path: Path, problems: _Problems) -> None:
        self.path = path
        self.p = problems
        self.ounce_mg = Fraction(0)

    def keys(self, table: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                self.p.add(where, key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def text(self, table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or (default is None and not value):
            self.p.add(where, key, f"expected a non-empty string, got {_repr(value)}")
            return ""
        return value

    def texts(self, table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.p.add(where, key, f"expected a list of strings, got {_repr(value)}")
            return ()
        return tuple(value)

    def quantity(self, value: Any, where: str, key: str) -> Quantity | None:
        q = parse_quantity(value, self.ounce_mg)
        if q is None:
            self.p.add(where, key, f"expected {_QUANTITY_EXPECTED}, got {_repr(value)}")
        return q

    def window(self, value: Any, where: str) -> Window | None:
        if value in ("transaction", "day"):
            return Window(str(value))
        m = _ROLLING.match(value) if isinstance(value, str) else None
        if m and int(m.group(1)) > 0:
            return Window("rolling", int(m.group(1)))
        expected = '"transaction", "day" or "rolling N days"'
        self.p.add(where, "window", f"expected {expected}, got {_repr(value)}")
        return None

    def member(self, entry: Any, cap: Quantity, where: str) -> Member | None:
        if not isinstance(entry, dict):
            self.p.add(where, "count", f"expected a table, got {_repr(entry)}")
            return None
        self.keys(entry, {"category", "measure", "fills", "per", "note"}, where)
        category, measure = entry.get("category"), entry.get("measure")
        if category not in CATEGORIES:
            self.p.add(
                where, "category", f"expected one of {', '.join(CATEGORIES)}, got {_repr(category)}"
            )
            return None
        where = f"{where} {category}"
        if measure not in MEASURES:
            self.p.add(
                where, "measure", f"expected one of {', '.join(MEASURES)}, got {_repr(measure)}"
            )
            return None
        dimension = MEASURES[measure][0]
        if "fills" in entry and "per" in entry:
            self.p.add(where, "fills", 'give either "fills" or "per", not both')
            return None
        for key in ("fills", "per"):
            if key in entry:
                q = self.quantity(entry[key], where, key)
                if q is None:
                    return None
                if q.dimension != dimension or q.base <= 0:
                    self.p.add(
                        where,
                        key,
                        f"expected a positive {dimension} quantity, got {_repr(entry[key])}",
                    )
                    return None
                if key == "fills":
                    if cap.value <= 0:
                        self.p.add(where, key, "a zero cap cannot be filled")
                        return None
                    return Member(category, measure, cap.value / q.base, f"{q.text} fills the cap")
                return Member(category, measure, 1 / q.base, f"{q.text} per {cap.unit}")
        if cap.dimension != dimension:
            self.p.add(
                where,
                "measure",
                f"{measure} ({dimension}) cannot count 1:1 against a cap in {cap.unit}; "
                'give "fills" or "per"',
            )
            return None
        _, size = _unit_size(cap.unit, self.ounce_mg)
        return Member(category, measure, 1 / size, "counts 1:1")

    def bucket(self, table: Any, default: Window | None, where: str) -> Bucket | None:
        if not isinstance(table, dict):
            self.p.add(where, "bucket", f"expected a table, got {_repr(table)}")
            return None
        name = self.text(table, "name", where)
        where = f"{where}: bucket {name or '?'}"
        self.keys(table, {"name", "cap", "window", "count", "note"}, where)
        cap = self.quantity(table.get("cap"), where, "cap")
        window = self.window(table["window"], where) if "window" in table else default
        if window is None and "window" not in table:
            self.p.add(where, "window", "missing (give it here or on the class)")
        entries = table.get("count")
        if not isinstance(entries, list) or not entries:
            self.p.add(where, "count", f"expected a non-empty list of tables, got {_repr(entries)}")
            return None
        if cap is None or window is None:
            return None
        members = [self.member(e, cap, f"{where}: count") for e in entries]
        if any(m is None for m in members):
            return None
        note = self.text(table, "note", where, default="")
        return Bucket(name, cap, window, tuple(m for m in members if m), note)

    def class_rules(self, name: str, table: Any, where: str) -> ClassRules | None:
        where = f"{where}: class {name}"
        if not isinstance(table, dict):
            self.p.add(where, name, f"expected a table, got {_repr(table)}")
            return None
        allowed = {"description", "window", "exempt", "prohibited", "bucket", "notes"}
        self.keys(table, allowed, where)
        default = self.window(table["window"], where) if "window" in table else None
        raw = table.get("bucket", [])
        if not isinstance(raw, list):
            self.p.add(where, "bucket", "expected [[...bucket]] tables")
            raw = []
        buckets = [self.bucket(b, default, where) for b in raw]
        exempt, prohibited = (
            self.texts(table, "exempt", where),
            self.texts(table, "prohibited", where),
        )
        counted = {m.category for b in buckets if b for m in b.members}
        for cat in CATEGORIES:
            roles = [cat in counted, cat in exempt, cat in prohibited]
            if sum(roles) != 1:
                self.p.add(
                    where,
                    cat,
                    "each category must be counted by a bucket, or listed in exempt, or in "
                    f"prohibited, exactly once (counted={roles[0]}, exempt={roles[1]}, "
                    f"prohibited={roles[2]})",
                )
        for key, cats in (("exempt", exempt), ("prohibited", prohibited)):
            for cat in cats:
                if cat not in CATEGORIES:
                    self.p.add(where, key, f"unknown category {_repr(cat)}")
        names = [b.name for b in buckets if b]
        if len(set(names)) != len(names):
            self.p.add(where, "bucket", "bucket names must be unique")
        if any(b is None for b in buckets):
            return None
        return ClassRules(
            name,
            self.text(table, "description", where, default=""),
            tuple(b for b in buckets if b),
            exempt,
            prohibited,
            self.texts(table, "notes", where),
        )

    def version(self, table: Any, index: int) -> RuleVersion | None:
        where = f"version #{index + 1}"
        if not isinstance(table, dict):
            self.p.add(where, "version", f"expected a table, got {_repr(table)}")
            return None
        effective = table.get("effective")
        if not isinstance(effective, date) or hasattr(effective, "hour"):
            self.p.add(
                where, "effective", f"expected a TOML date like 2024-01-01, got {_repr(effective)}"
            )
            return None
        where = f"version {effective.isoformat()}"
        self.keys(table, {"effective", "source", "notes", "class"}, where)
        classes = table.get("class")
        if not isinstance(classes, dict) or not classes:
            self.p.add(where, "class", "expected at least one [version.class.NAME] table")
            return None
        parsed = {name: self.class_rules(name, t, where) for name, t in classes.items()}
        source = self.text(table, "source", where)
        if any(c is None for c in parsed.values()):
            return None
        return RuleVersion(
            effective,
            source,
            {k: v for k, v in parsed.items() if v},
            self.texts(table, "notes", where),
        )


def load_rules(path: Path) -> JurisdictionRules:
    """Read and validate one rule file; ConfigError lists every problem."""
    problems = _Problems(str(path))
    try:
        text = path.read_text(encoding="utf-8")
        bounded.check(text, str(path), 1024 * 1024, kind="toml")
        data = tomllib.loads(text)
    except bounded.InputTooComplex as exc:
        raise ConfigError([str(exc)]) from exc
    except RecursionError as exc:
        raise ConfigError([f"{path}: nested too deeply"]) from exc
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: no such rule file"]) from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"{path}: {exc}"]) from exc
    rules = _read(path, data, problems)
    if problems.lines or rules is None:
        raise ConfigError(problems.lines or [f"{path}: invalid"])
    return rules


def _read(path: Path, data: dict[str, Any], problems: _Problems) -> JurisdictionRules | None:
    r = _Reader(path, problems)
    allowed = {"jurisdiction", "name", "timezone", "ounce", "sources", "notes", "version"}
    r.keys(data, allowed, "")
    code = r.text(data, "jurisdiction", "")
    if code and code != path.stem:
        problems.add("", "jurisdiction", f'must match the file name "{path.stem}", got "{code}"')
    tz = r.text(data, "timezone", "")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add("", "timezone", f"expected an IANA time zone name, got {_repr(tz)}")
    ounce = r.quantity(data.get("ounce"), "", "ounce")
    if ounce is None or ounce.dimension != "mass" or ounce.unit == "oz" or ounce.base <= 0:
        problems.add("", "ounce", 'expected the state\'s ounce in g or mg, like "28.349523125 g"')
        return None
    r.ounce_mg = ounce.base
    sources = r.texts(data, "sources", "")
    if not sources:
        problems.add("", "sources", "cite at least one source")
    raw = data.get("version")
    if not isinstance(raw, list) or not raw:
        problems.add("", "version", "expected at least one [[version]] table")
        return None
    versions = [r.version(t, i) for i, t in enumerate(raw)]
    dates = [v.effective for v in versions if v]
    if dates != sorted(set(dates)):
        problems.add("", "version", "versions must be listed in increasing effective-date order")
    if any(v is None for v in versions):
        return None
    return JurisdictionRules(
        code,
        r.text(data, "name", ""),
        tz,
        ounce,
        sources,
        tuple(v for v in versions if v),
        r.texts(data, "notes", ""),
        path,
    )
