"""`packstation limits explain --journal EXPORT.jsonl`: each journalled `limits` decision
reproduced from the journal alone.

For every `limits` event (of one order with `--order`) the journalled exact bucket values are
re-added and compared: `used_exact` must equal `prior_exact + cart_exact`, a bucket is over when
the cart adds to it and `used_exact > limit_exact` (as the engine decides), and the recomputed
`allowed` (no bucket over) must equal the journalled one. The rule is found from the event's
`jurisdiction`, `rule_version` and `customer_class` (older journals: `--jurisdiction`, the version
in force on the event's local date, the class of the order's `order_loaded` event); each bucket's
journalled `limit_exact` must be the cap of that rule file's bucket of the same name, and the
version's source citation is printed with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from edge.common import bounded
from edge.common.errors import BadInput, ConfigError
from edge.limits.engine import LimitEngine, parse_time
from edge.limits.rules import Bucket, RuleVersion

MAX_LINE_BYTES = 16 * 1024 * 1024  # one exported event; the journal's bodies are far smaller


@dataclass
class BucketCheck:
    name: str
    unit: str
    used: Fraction | None
    prior: Fraction | None
    cart: Fraction | None
    limit: Fraction | None
    rule_cap: str | None  # the rule file's cap as written, when the bucket was found
    over: bool
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def text(v: Fraction | None) -> str | None:
            return None if v is None else str(v)

        return {
            "name": self.name,
            "unit": self.unit,
            "used_exact": text(self.used),
            "prior_exact": text(self.prior),
            "cart_exact": text(self.cart),
            "limit_exact": text(self.limit),
            "rule_cap": self.rule_cap,
            "over": self.over,
            "problems": self.problems,
        }


@dataclass
class Decision:
    """One journalled `limits` event and whether it reproduces."""

    seq: int
    at: str
    order_id: str | None
    allowed: bool
    reason: str
    jurisdiction: str | None
    customer_class: str | None
    rule_version: str | None
    source: str | None
    recomputed: bool | None
    buckets: list[BucketCheck]
    problems: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        return not self.problems and not any(b.problems for b in self.buckets)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "order_id": self.order_id,
            "jurisdiction": self.jurisdiction,
            "customer_class": self.customer_class,
            "rule_version": self.rule_version,
            "source": self.source,
            "allowed": self.allowed,
            "recomputed_allowed": self.recomputed,
            "reason": self.reason,
            "buckets": [b.to_json() for b in self.buckets],
            "reproduced": self.reproduced,
            "problems": self.problems,
        }

    def lines(self) -> Iterator[str]:
        who = " ".join(x for x in (self.jurisdiction, self.customer_class) if x) or "?"
        yield f"seq {self.seq} at {self.at}, order {self.order_id}: {who}"
        if self.rule_version:
            yield f"  Rule in force from {self.rule_version}; source: {self.source}"
        for b in self.buckets:
            used = "?" if b.used is None else _show(b.used)
            parts = f"prior {_show(b.prior)} + cart {_show(b.cart)}"
            state = "OVER" if b.over else "within"
            cap = f" (rule file: {b.rule_cap})" if b.rule_cap else ""
            yield (
                f"  - {b.name}: used {used} {b.unit} ({parts}) of limit "
                f"{_show(b.limit)} {b.unit}{cap}: {state}"
            )
            for p in b.problems:
                yield f"      does not reproduce: {p}"
        recomputed = "?" if self.recomputed is None else _yes(self.recomputed)
        yield f"  Journalled allowed: {_yes(self.allowed)}; recomputed: {recomputed}"
        if self.reason:
            yield f"  Reason journalled: {self.reason}"
        for p in self.problems:
            yield f"  does not reproduce: {p}"
        yield "  Reproduced." if self.reproduced else "  NOT REPRODUCED."


def _yes(v: bool) -> str:
    return "yes" if v else "no"


def _show(v: Fraction | None) -> str:
    """ "351/100 (3.51)": the exact value, and a decimal when it is not whole."""
    if v is None:
        return "?"
    if v.denominator == 1:
        return str(v.numerator)
    whole, rest = divmod(abs(v.numerator) * 1000, v.denominator)
    approx = f"{'-' if v < 0 else ''}{whole // 1000}.{whole % 1000:03d}"
    return f"{v} (~{approx}{'…' if rest else ''})"


def _fraction(value: Any, what: str, problems: list[str]) -> Fraction | None:
    if value is None:
        problems.append(f"{what} was not journalled (a journal from before exact values)")
        return None
    if not isinstance(value, str):
        problems.append(f"{what} {value!r} is not an exact fraction string")
        return None
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        problems.append(f"{what} {value!r} is not an exact fraction")
        return None


def read_export(lines: Iterable[bytes], source: str) -> Iterator[dict[str, Any]]:
    """The events of a `packstation journal export` file; BadInput names the bad line."""
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = bounded.loads_json(raw, f"{source}:{n}", MAX_LINE_BYTES)
        except ValueError as exc:
            raise BadInput(f"{source}:{n}: not a journal export line: {exc}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            raise BadInput(f"{source}:{n}: not a journal export line (no type)")
        if not isinstance(obj.get("body"), dict):
            continue  # a damaged row (exported as body_hex); journal verify reports it
        yield obj


class Replayer:
    """Reproduces `limits` events against the rule files of `engine`."""

    def __init__(self, engine: LimitEngine, jurisdiction: str | None = None) -> None:
        self.engine = engine
        self.jurisdiction = jurisdiction
        self.classes: dict[str, str] = {}  # order_id -> customer class from order_loaded

    def run(self, events: Iterable[dict[str, Any]], order: str | None) -> list[Decision]:
        out = []
        for event in events:
            body = event["body"]
            if event["type"] == "order_loaded":
                customer = (body.get("order") or {}).get("customer") or {}
                cls = customer.get("class")
                if isinstance(body.get("order_id"), str) and isinstance(cls, str):
                    self.classes[body["order_id"]] = cls
            elif event["type"] == "limits" and (order is None or body.get("order_id") == order):
                out.append(self.decision(event))
        return out

    def decision(self, event: dict[str, Any]) -> Decision:
        body = event["body"]
        order_id = body.get("order_id")
        d = Decision(
            seq=int(event.get("seq") or 0),
            at=str(event.get("at")),
            order_id=order_id if isinstance(order_id, str) else None,
            allowed=body.get("allowed") is True,
            reason=str(body.get("reason") or ""),
            jurisdiction=body.get("jurisdiction") or self.jurisdiction,
            customer_class=body.get("customer_class") or self.classes.get(str(order_id)),
            rule_version=body.get("rule_version"),
            source=None,
            recomputed=None,
            buckets=[],
        )
        if not isinstance(body.get("allowed"), bool):
            d.problems.append("the event has no allowed flag")
        rule_buckets = self._rule(d, event)
        raw_buckets = body.get("buckets")
        if not isinstance(raw_buckets, list):
            d.problems.append("the event has no bucket list")
            return d
        for raw in raw_buckets:
            d.buckets.append(self._bucket(raw, rule_buckets))
        if not d.buckets:
            # The checker could not run (bad history, unknown class...): a refusal.
            d.recomputed = not d.reason.startswith("limits cannot be checked")
        else:
            d.recomputed = not any(b.over for b in d.buckets)
        if d.recomputed != d.allowed:
            d.problems.append(
                f"the recomputed allowed ({_yes(d.recomputed)}) differs from the journalled one"
            )
        return d

    def _rule(self, d: Decision, event: dict[str, Any]) -> dict[str, Bucket] | None:
        """The rule buckets by name for `d` (None and a problem when the rule is not found)."""
        if not event["body"].get("buckets") and d.reason.startswith("limits cannot be checked"):
            return None  # no rule was applied: nothing to cite
        if not d.jurisdiction:
            d.problems.append("no jurisdiction journalled (give --jurisdiction CODE)")
            return None
        try:
            rules = self.engine.rules(d.jurisdiction)
            zone = self.engine.zone_for(d.jurisdiction)
            day = parse_time(d.at, f"seq {d.seq}: at").astimezone(zone).date()
        except (BadInput, ConfigError) as exc:
            d.problems.append(f"rule file for {d.jurisdiction}: {exc}")
            return None
        in_force = rules.version_at(day)
        version: RuleVersion | None = in_force
        if d.rule_version:
            version = next(
                (v for v in rules.versions if v.effective.isoformat() == d.rule_version), None
            )
            if version is None:
                d.problems.append(f"{rules.path} has no rule version {d.rule_version}")
                return None
            if in_force is not version:
                got = in_force.effective.isoformat() if in_force else "none"
                d.problems.append(
                    f"rule version {d.rule_version} was journalled, but {got} is in force on {day}"
                )
        if version is None:
            d.problems.append(f"{rules.path}: no rule version in force on {day}")
            return None
        d.rule_version = version.effective.isoformat()
        d.source = version.source
        cls = version.classes.get(d.customer_class or "")
        if cls is None:
            known = ", ".join(version.classes)
            d.problems.append(f"class {d.customer_class!r} is not in the rule ({known})")
            return None
        return {b.name: b for b in rules.core_buckets(cls)}

    @staticmethod
    def _bucket(raw: Any, rule: dict[str, Bucket] | None) -> BucketCheck:
        problems: list[str] = []
        if not isinstance(raw, dict):
            return BucketCheck("?", "?", None, None, None, None, None, False, ["not a bucket"])
        name, unit = str(raw.get("name")), str(raw.get("unit"))
        used = _fraction(raw.get("used_exact"), "used_exact", problems)
        prior = _fraction(raw.get("prior_exact"), "prior_exact", problems)
        cart = _fraction(raw.get("cart_exact"), "cart_exact", problems)
        limit = _fraction(raw.get("limit_exact"), "limit_exact", problems)
        if used is not None and prior is not None and cart is not None and used != prior + cart:
            problems.append(f"used {used} is not prior {prior} + cart {cart}")
        # As the engine decides: over when the cart adds to the bucket and takes it past its cap.
        over = bool(used is not None and cart and limit is not None and cart > 0 and used > limit)
        rule_cap = None
        if rule is not None:
            bucket = rule.get(name)
            if bucket is None:
                problems.append(f"the rule has no bucket {name!r}")
            else:
                rule_cap = bucket.cap.text
                if limit is not None and limit != bucket.cap.value:
                    problems.append(f"limit {limit} is not the rule's cap {bucket.cap.text}")
                if unit != bucket.cap.unit:
                    problems.append(f"unit {unit!r} is not the rule's {bucket.cap.unit!r}")
        return BucketCheck(name, unit, used, prior, cart, limit, rule_cap, over, problems)


def explain_journal(
    engine: LimitEngine,
    lines: Iterable[bytes],
    source: str,
    order: str | None = None,
    jurisdiction: str | None = None,
) -> list[Decision]:
    """Every `limits` decision of the export (of `order`), reproduced."""
    return Replayer(engine, jurisdiction).run(read_export(lines, source), order)


def render(decisions: list[Decision]) -> str:
    parts = ["\n".join(d.lines()) for d in decisions]
    bad = sum(not d.reproduced for d in decisions)
    tail = f"{len(decisions)} limit decision(s), {bad} not reproduced."
    return "\n\n".join([*parts, tail]) + "\n"


def to_json(decisions: list[Decision]) -> str:
    doc = {
        "decisions": [d.to_json() for d in decisions],
        "ok": all(d.reproduced for d in decisions),
    }
    return json.dumps(doc, indent=2)
