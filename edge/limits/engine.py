"""Purchase-limit checks: CART.json in, an exact verdict out (the math runs in `edge._core`).

The station daemon calls `LimitEngine(rules_dir, timezone).check(cart)` before every label; the
CLI (`packstation limits check|explain`) is a thin layer over the same calls. Rule files are
validated on first use (`edge.limits.rules`), times are resolved to the store's time zone here,
and the Rust core does the arithmetic on integers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge import _core
from edge.common import bounded, resources
from edge.common.errors import BadInput, ConfigError
from edge.limits.explain import explain
from edge.limits.rules import CATEGORIES, JurisdictionRules, load_rules

if TYPE_CHECKING:  # the core's tuple shapes (edge/_core.pyi)
    from edge._core import _LimitLineTuple, _LimitPriorTuple

INSTALLED_RULES_DIR = resources.ETC / "limits"
MEASURE_FIELDS = ("net_weight_mg", "concentrate_mg", "thc_mg", "volume_ml", "cbd_mg")
_MAX_AMOUNT = 10**12  # per unit, mg or ml: far above any product, far below overflow
_MAX_QUANTITY = 1_000_000
MAX_CART_BYTES = 16 * 1024 * 1024  # a CART.json is a few KB
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
# A customer's prior purchases prepared once per order (`LimitEngine.history`).
LimitHistory = _core.LimitHistory
# One order's check prepared once per order (`LimitEngine.order`), and what its check raises
# for a cart it cannot evaluate (`LimitEngine.input_problem` words it).
LimitOrder = _core.LimitOrder
LimitInputError = _core.LimitInputError
_UNIT_OF_MEASURE = {
    "net_weight": "mg",
    "concentrate": "mg",
    "thc": "mg",
    "thc_cbd": "mg",
    "volume": "ml",
}


def default_rules_dir() -> Path:
    """/etc/packstation/limits when an installation has its own set, else the shipped rules
    (edge.common.resources: the package's data, config/limits in a source checkout)."""
    return resources.data_dir("limits")


def resolve_rules_dir(configured: str) -> Path:
    """The `[limits] rules_dir` option: "" means `default_rules_dir()`."""
    return Path(configured) if configured else default_rules_dir()


@dataclass(frozen=True)
class CartLine:
    """One line: a category, a unit count and per-unit measures (None = not given)."""

    category: str
    quantity: int = 1
    net_weight_mg: int | None = None
    concentrate_mg: int | None = None
    thc_mg: int | None = None
    volume_ml: int | None = None
    cbd_mg: int | None = None

    def core(
        self,
    ) -> tuple[str, int, int | None, int | None, int | None, int | None, int | None]:
        return (
            self.category,
            self.quantity,
            self.net_weight_mg,
            self.concentrate_mg,
            self.thc_mg,
            self.volume_ml,
            self.cbd_mg,
        )


@dataclass(frozen=True)
class PriorPurchase:
    """A purchase before this cart (ORDER.json / CART.json `prior`)."""

    at: datetime
    line: CartLine


@dataclass(frozen=True)
class Cart:
    """CART.json: who buys what, where and when, and what they bought before."""

    jurisdiction: str
    customer_class: str
    at: datetime
    lines: tuple[CartLine, ...]
    prior: tuple[PriorPurchase, ...] = ()


@dataclass(frozen=True)
class BucketResult:
    """A capped quantity after the cart; exact values in `unit` (the state's unit)."""

    name: str
    unit: str
    window: str  # "per transaction", "per calendar day (store time zone)", "per rolling 30 days"
    cap: Fraction
    prior_used: Fraction
    cart_used: Fraction
    remaining: Fraction  # negative when over
    over: bool
    cap_display: str
    remaining_display: str


@dataclass(frozen=True)
class MaxMore:
    """The largest further amount of a category that still fits, in mg / ml / units."""

    category: str
    measure: str
    amount: int
    unit: str
    display: str  # "2.5 g", "100 mg THC", "473 ml", "3 units"


@dataclass(frozen=True)
class LimitVerdict:
    """The outcome of a check; `reason` is one sentence for a discrepancy slip."""

    allowed: bool
    jurisdiction: str
    customer_class: str
    at: datetime
    rule_version: str  # effective date of the rule version applied
    buckets: tuple[BucketResult, ...]
    crossing_line: int | None  # 0-based index into the cart lines
    crossing_bucket: str | None
    max_more: tuple[MaxMore, ...]
    reason: str = field(default="")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form; exact values are fraction strings ("5/2")."""
        return {
            "allowed": self.allowed,
            "jurisdiction": self.jurisdiction,
            "customer_class": self.customer_class,
            "at": self.at.isoformat(),
            "rule_version": self.rule_version,
            "reason": self.reason,
            "crossing_line": self.crossing_line,
            "crossing_bucket": self.crossing_bucket,
            "buckets": [
                {
                    "name": b.name,
                    "unit": b.unit,
                    "window": b.window,
                    "cap": str(b.cap),
                    "prior_used": str(b.prior_used),
                    "cart_used": str(b.cart_used),
                    "remaining": str(b.remaining),
                    "over": b.over,
                    "cap_display": b.cap_display,
                    "remaining_display": b.remaining_display,
                }
                for b in self.buckets
            ],
            "max_more": [
                {
                    "category": m.category,
                    "measure": m.measure,
                    "amount": m.amount,
                    "unit": m.unit,
                    "display": m.display,
                }
                for m in self.max_more
            ],
        }


def _int_field(obj: Mapping[str, Any], key: str, where: str, *, required: bool) -> int | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise BadInput(f"{where}: {key} is missing")
        return None
    limit = _MAX_QUANTITY if key == "quantity" else _MAX_AMOUNT
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise BadInput(f"{where}: {key} must be an integer in 0..{limit}, got {value!r}")
    return value


def parse_time(value: Any, where: str) -> datetime:
    """ISO 8601 with an offset; a time without one is ambiguous and refused."""
    if not isinstance(value, str):
        raise BadInput(f"{where}: expected an ISO 8601 time with offset, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{where}: not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise BadInput(f"{where}: time {value!r} has no UTC offset")
    return parsed


def parse_line(obj: Any, where: str, *, prior: bool = False) -> CartLine:
    """A CART.json line (`category`, `quantity` (default 1), measures; `at` on a prior
    purchase); unknown keys are refused."""
    if not isinstance(obj, Mapping):
        raise BadInput(f"{where}: expected an object, got {obj!r}")
    allowed = {"category", "quantity", *MEASURE_FIELDS, *(["at"] if prior else [])}
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise BadInput(f"{where}: unknown field {unknown[0]!r}")
    category = obj.get("category")
    if category not in CATEGORIES:
        raise BadInput(
            f"{where}: category must be one of {', '.join(CATEGORIES)}, got {category!r}"
        )
    quantity = _int_field(obj, "quantity", where, required=False)
    measures = [_int_field(obj, k, where, required=False) for k in MEASURE_FIELDS]
    return CartLine(category, 1 if quantity is None else quantity, *measures)


def parse_cart(obj: Any, source: str = "cart") -> Cart:
    """Validate a CART.json object; BadInput names the first problem."""
    if not isinstance(obj, Mapping):
        raise BadInput(f"{source}: expected a JSON object")
    unknown = sorted(set(obj) - {"jurisdiction", "customer_class", "at", "lines", "prior"})
    if unknown:
        raise BadInput(f"{source}: unknown field {unknown[0]!r}")
    code, cls = obj.get("jurisdiction"), obj.get("customer_class")
    if not isinstance(code, str) or not (len(code) == 2 and code.isupper()):
        raise BadInput(f"{source}: jurisdiction must be a two-letter code, got {code!r}")
    if not isinstance(cls, str) or not cls:
        raise BadInput(f"{source}: customer_class must be a non-empty string, got {cls!r}")
    lines, prior = obj.get("lines"), obj.get("prior", [])
    if not isinstance(lines, list):
        raise BadInput(f"{source}: lines must be a list")
    parsed_prior = parse_prior(prior, source)
    return Cart(
        code,
        cls,
        parse_time(obj.get("at"), f"{source}: at"),
        tuple(parse_line(x, f"{source}: lines[{i}]") for i, x in enumerate(lines)),
        parsed_prior,
    )


def parse_prior(prior: Any, source: str = "order") -> tuple[PriorPurchase, ...]:
    """A `prior` list (CART.json, ORDER.json): purchases with `at` and a line each."""
    if not isinstance(prior, list):
        raise BadInput(f"{source}: prior must be a list")
    out = []
    for i, p in enumerate(prior):
        line = parse_line(p, f"{source}: prior[{i}]", prior=True)
        out.append(PriorPurchase(parse_time(p.get("at"), f"{source}: prior[{i}].at"), line))
    return tuple(out)


def line_from_package(
    package: _core.Package, quantity: int = 1, net_weight_mg: int | None = None
) -> CartLine:
    """A cart line from an inventory package (`Inventory.lookup`); `net_weight_mg`, when given,
    stands for the package's own (a weighed-out line counts the weight captured)."""
    obj: dict[str, Any] = {"category": package.category, "quantity": quantity}
    measures = {
        "net_weight_mg": package.net_weight_mg if net_weight_mg is None else net_weight_mg,
        "concentrate_mg": package.concentrate_mg,
        "thc_mg": package.thc_mg,
        "volume_ml": package.volume_ml,
        "cbd_mg": package.cbd_mg,
    }
    obj.update((key, value) for key, value in measures.items() if value is not None)
    return parse_line(obj, f"package {package.label}")


def epoch_seconds(at: datetime) -> int:
    """Whole seconds since 1970 (sub-seconds dropped), in integers: no float timestamp."""
    u = at.astimezone(UTC)
    days = u.toordinal() - _EPOCH_ORDINAL
    return days * 86_400 + u.hour * 3600 + u.minute * 60 + u.second


def _window_words(kind: str, days: int) -> str:
    if kind == "transaction":
        return "per transaction"
    if kind == "day":
        return "per calendar day (store time zone)"
    return f"per rolling {days} days"


def _reason(
    cart: Cart,
    allowed: bool,
    version: str,
    buckets: Sequence[BucketResult],
    crossing: _core.Crossing | None,
) -> str:
    who = f"{cart.jurisdiction} {cart.customer_class}"
    if allowed:
        return f"Within the {who} purchase limits (rules in force from {version})."
    over = next((b for b in buckets if crossing and b.name == crossing.bucket), None)
    if crossing is None or over is None:  # cannot happen: an over bucket has a crossing line
        return f"Over the {who} purchase limits (rules in force from {version})."
    index = crossing.line
    excess = over.remaining_display.removeprefix("-")
    return (
        f"Cart line {index + 1} ({cart.lines[index].category}) goes over the {who} limit "
        f"'{over.name}' of {over.cap_display} {over.window}; the cart is {excess} over."
    )


def store_clock(zone: ZoneInfo) -> _core.LimitZone:
    """The core's clock of a store in `zone`: it reads the station's own time shape itself and
    asks here for a UTC offset it has not seen, or for a time of another shape (BadInput when
    it is not a time with an offset)."""

    def resolve(at: str) -> tuple[int, int]:
        parsed = parse_time(at, "at")
        return (parsed - _EPOCH) // _SECOND, parsed.astimezone(zone).toordinal()

    def offset(at_s: int) -> int:
        utcoffset = datetime.fromtimestamp(at_s, zone).utcoffset()
        assert utcoffset is not None  # a ZoneInfo always has one
        return utcoffset // _SECOND

    return _core.LimitZone(resolve, offset)


class LimitEngine:
    """Loads rule files from `rules_dir` on first use and checks carts against them.

    `timezone` is the store's IANA zone (`[station] timezone`); None uses the rule file's
    default zone. Calendar-day windows and rule versions follow the store's local date.
    """

    def __init__(self, rules_dir: Path | str | None = None, timezone: str | None = None) -> None:
        self.rules_dir = Path(rules_dir) if rules_dir else default_rules_dir()
        self.timezone = timezone
        self._rules: dict[str, tuple[JurisdictionRules, _core.LimitRules]] = {}
        self._zones: dict[str, tuple[_core.LimitRules, ZoneInfo]] = {}  # check_packages
        self._clocks: dict[str, _core.LimitZone] = {}  # order
        if timezone is not None:
            self._zone(timezone)

    @staticmethod
    def _zone(name: str) -> ZoneInfo:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadInput(f"unknown time zone {name!r}") from None

    def rules(self, code: str) -> JurisdictionRules:
        """The validated rule file of `code`; ConfigError names every problem."""
        return self._load(code)[0]

    def compiled(self, code: str) -> _core.LimitRules:
        """The core's compiled rules of `code` (for callers that prepare line tuples themselves)."""
        return self._load(code)[1]

    def _load(self, code: str) -> tuple[JurisdictionRules, _core.LimitRules]:
        if code not in self._rules:
            if not (len(code) == 2 and code.isalpha() and code.isupper()):
                raise BadInput(f"jurisdiction must be a two-letter code, got {code!r}")
            rules = load_rules(self.rules_dir / f"{code}.toml")
            try:
                core = _core.LimitRules(code, rules.to_core())
            except _core.LimitRuleError as exc:
                raise ConfigError([f"{rules.path}: {exc}"]) from None
            self._rules[code] = (rules, core)
        return self._rules[code]

    def zone_for(self, code: str) -> ZoneInfo:
        return self._zone(self.timezone or self.rules(code).timezone)

    def check(self, cart: Cart) -> LimitVerdict:
        """Evaluate `cart`; BadInput when it cannot be evaluated (unknown class, a line
        without a measure its rule needs, a date before the first rule version)."""
        _, core = self._load(cart.jurisdiction)
        zone = self.zone_for(cart.jurisdiction)
        local = cart.at.astimezone(zone)
        prior: list[_LimitPriorTuple] = [
            (epoch_seconds(p.at), p.at.astimezone(zone).toordinal(), *p.line.core())
            for p in cart.prior
        ]
        lines: list[_LimitLineTuple] = [line.core() for line in cart.lines]
        try:
            raw = core.check(
                cart.customer_class, epoch_seconds(cart.at), local.toordinal(), lines, prior
            )
        except _core.LimitInputError as exc:
            raise BadInput(f"{cart.jurisdiction} on {local.date()}: {exc}") from None
        return self._verdict(cart, raw)

    def history(self, code: str, prior: Sequence[PriorPurchase]) -> _core.LimitHistory:
        """The customer's prior purchases resolved to `code`'s store time zone, once per order,
        for `check_packages`."""
        zone = self.zone_for(code)
        rows: list[_LimitPriorTuple] = [
            (epoch_seconds(p.at), p.at.astimezone(zone).toordinal(), *p.line.core()) for p in prior
        ]
        try:
            return _core.LimitHistory(rows)
        except _core.LimitInputError as exc:  # cannot happen: parse_prior checked every field
            raise BadInput(str(exc)) from None

    def order(
        self, code: str, customer_class: str, prior: Sequence[PriorPurchase]
    ) -> _core.LimitOrder:
        """One order's check prepared once (its first scan): `code`'s rules, the store's clock,
        the customer's class and prior purchases resolved to the store's time zone. Then
        `LimitOrder.check(at, inventory, picks)` is the whole check, as `check_packages`
        (the time an ISO 8601 string; a bad one raises BadInput)."""
        clock = self._clocks.get(code)
        if clock is None:
            clock = self._clocks[code] = store_clock(self.zone_for(code))
        rows: list[_LimitPriorTuple] = [
            (epoch_seconds(p.at), p.at.astimezone(self.zone_for(code)).toordinal(), *p.line.core())
            for p in prior
        ]
        try:
            return _core.LimitOrder(self._load(code)[1], clock, customer_class, rows)
        except _core.LimitInputError as exc:  # cannot happen: parse_prior checked every field
            raise BadInput(str(exc)) from None

    def input_problem(self, code: str, at: str, exc: Exception) -> str:
        """What `LimitOrder.check` raised (LimitInputError) worded as `check_packages` words it:
        "CO on 2026-12-01: package ... is not in the inventory"."""
        local = parse_time(at, "at").astimezone(self.zone_for(code))
        return f"{code} on {local.date()}: {exc}"

    def check_packages(
        self,
        code: str,
        customer_class: str,
        at: datetime,
        inventory: _core.Inventory,
        picks: list[Any],
        history: _core.LimitHistory,
    ) -> _core.LimitResult:
        """The station's check: each pick (`.uid`, `.net_mg`) is one unit of its inventory
        package, read by the core; a weighed pick counts its captured net weight and its
        package's THC, CBD and concentrate in proportion, exactly (bulk mg * net / bulk net).
        BadInput as `check`."""
        prepared = self._zones.get(code)
        if prepared is None:
            prepared = self._zones[code] = (self._load(code)[1], self.zone_for(code))
        core, zone = prepared
        local = at.astimezone(zone)
        try:
            return core.check_packages(
                customer_class,
                (at - _EPOCH) // _SECOND,
                local.toordinal(),
                inventory,
                picks,
                history,
            )
        except _core.LimitInputError as exc:
            raise BadInput(f"{code} on {local.date()}: {exc}") from None

    def check_json(self, obj: Any, source: str = "cart") -> LimitVerdict:
        """`check(parse_cart(obj))`: a CART.json object straight from `json.loads`."""
        return self.check(parse_cart(obj, source))

    def check_file(self, path: Path) -> LimitVerdict:
        try:
            obj = bounded.loads_json(path.read_bytes(), str(path), MAX_CART_BYTES)
        except (OSError, ValueError) as exc:  # InputTooComplex, JSONDecodeError, UTF-8
            raise BadInput(f"{path}: {exc}") from None
        return self.check_json(obj, str(path))

    def explain(self, code: str, customer_class: str | None = None, on: date | None = None) -> str:
        """The rule in force on `on` (default: today in the store's zone), in plain words."""
        rules = self.rules(code)
        day = on or datetime.now(self.zone_for(code)).date()
        return explain(rules, customer_class, day)

    @staticmethod
    def _verdict(cart: Cart, raw: _core.LimitResult) -> LimitVerdict:
        buckets = tuple(
            BucketResult(
                b.name,
                b.unit,
                _window_words(b.window, b.window_days),
                Fraction(*b.cap),
                Fraction(*b.prior_used),
                Fraction(*b.cart_used),
                Fraction(*b.remaining),
                b.over,
                b.cap_display,
                b.remaining_display,
            )
            for b in raw.buckets
            # A "not sold" category's zero cap is reported only when the cart touches it.
            if b.cap[0] or b.cart_used[0] or b.prior_used[0]
        )
        max_more = tuple(
            MaxMore(
                m.category, m.measure, m.amount, _UNIT_OF_MEASURE.get(m.measure, "units"), m.display
            )
            for m in raw.max_more
        )
        crossing, allowed = raw.crossing, raw.allowed
        return LimitVerdict(
            allowed,
            cart.jurisdiction,
            raw.customer_class,
            cart.at,
            raw.version,
            buckets,
            crossing.line if crossing else None,
            crossing.bucket if crossing else None,
            max_more,
            _reason(cart, allowed, raw.version, buckets, crossing),
        )
