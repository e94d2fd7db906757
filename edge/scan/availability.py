"""Whether a package the core recognised may still be sold: sold-once, holds, quarantine, METRC.

The Rust core judges a scan against the order and the inventory snapshot; this module then asks
what the snapshot cannot know:

- `sold`: nothing is left of the package once the sales are counted: central's remaining
  `Quantity` minus this station's own sealed sales central has not yet accounted for (from the
  journal, at once, offline too), or the Retail ID unit was already sold;
- `held`: what is left is held by an open order (this station's, or another's as central says);
- `quarantined`: a station halted the package and quarantined it; until a supervisor releases it
  (`packstation central quarantine release`), no station sells it;
- `not_sellable`: METRC would refuse the sale: a finished package (`IsFinished`, `Quantity` 0),
  a `SellByDate`/`UseByDate` before today, a Retail ID unit above the unit count, or a
  `LabTestingState` that is not a state METRC defines; `NotRequired` passes only for the
  categories of `[verify] lab_not_required_categories` (else `not_tested`).

FIFO, wrong-batch and near-miss candidates that are sold, held or quarantined are dropped, and
the slip's reason names the next package that is really on the shelf with its vault `Location`.
`LocalBook` folds the station's own journal events; `judge` combines everything. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from edge.common.stock import (
    SEALED_STATUSES,
    QuarantineMark,
    StockBlock,
    StockError,
    Take,
    amount_of,
    basis_of,
    block_of,
)
from edge.workflow.ports import Order, OrderLine, ScanVerdict

# LabTestingState values METRC defines (GET /labtests/v2/states; Metrc API v2 "Lab Tests").
METRC_LAB_STATES = frozenset(
    {
        "NotSubmitted",
        "SubmittedForTesting",
        "TestFailed",
        "TestPassed",
        "TestingInProgress",
        "AwaitingConfirmation",
        "RetestFailed",
        "RetestPassed",
        "Remediated",
        "SelectedForRandomTesting",
        "NotRequired",
        "ProcessValidated",
        "Decontaminated",
        "RandDCompleted",
    }
)
# Verdicts that name a package whose availability is checked (a duplicate is in this bag already).
NAMED = frozenset(
    {"match", "fifo", "wrong_batch", "not_in_order", "on_hold", "expired", "not_tested"}
)
ACCEPTING = frozenset({"match", "fifo"})
WITH_CANDIDATES = frozenset({"fifo", "wrong_batch", "near_miss"})


@dataclass
class LocalBook:
    """This station's own draws on packages, folded from its journal (`fold`, in seq order)."""

    station: str
    open: dict[str, dict[tuple[str, int | None], Take]] = field(default_factory=dict)
    sold: dict[str, list[Take]] = field(default_factory=dict)  # label -> sealed takes
    quarantined: dict[str, QuarantineMark] = field(default_factory=dict)
    sealed_orders: set[str] = field(default_factory=set)
    last_seq: int = 0

    def fold(self, seq: int, type_: str, body: dict[str, Any], at: str = "") -> None:
        """Apply one journal event of this station."""
        self.last_seq = max(self.last_seq, seq)
        order_id = str(body.get("order_id") or "")
        uid = body.get("uid")
        if type_ == "verdict" and str(body.get("outcome", "")).startswith("accepted") and uid:
            unit = body.get("unit") if isinstance(body.get("unit"), int) else None
            hold = body.get("hold_amount")
            amount = hold if isinstance(hold, int) else 1
            take = Take(station=self.station, order_id=order_id, amount=amount, at=at, unit=unit)
            self.open.setdefault(order_id, {})[(str(uid), unit)] = take
        elif type_ == "weight" and body.get("ok") and uid:
            takes = self.open.get(order_id, {})
            for key, take in list(takes.items()):
                if key[0] == uid:
                    net = int(body.get("net_mg") or 0)
                    takes[key] = msgspec.structs.replace(take, weighed_mg=net)
        elif type_ == "order_status":
            takes = self.open.pop(order_id, {})
            if str(body.get("status")) in SEALED_STATUSES:
                self.sealed_orders.add(order_id)
                for (label, _), take in takes.items():
                    sale = msgspec.structs.replace(take, at=at or take.at)
                    self.sold.setdefault(label, []).append(sale)
        elif type_ == "quarantine" and uid:
            self.quarantined[str(uid)] = QuarantineMark(
                station=self.station,
                order_id=order_id,
                code=str(body.get("code") or ""),
                reason=str(body.get("reason") or ""),
                at=at,
                key=f"{self.station}:{seq}",
            )

    def holds(self, label: str) -> list[Take]:
        return [t for takes in self.open.values() for (lb, _), t in takes.items() if lb == label]


@dataclass(frozen=True)
class Rules:
    """What `judge` needs besides the package: today (store-local), the lab rules, the clock."""

    today: str
    lab_passed: frozenset[str]
    not_required_categories: frozenset[str] = frozenset()
    local_time: Callable[[str], str] = lambda at: at[11:16]


@dataclass(frozen=True)
class Standing:
    """What is left of one package: `free` after sales and every hold, `unsold` after sales."""

    pkg: dict[str, Any]
    block: StockBlock
    basis: str
    free: Fraction
    unsold: Fraction
    sales: list[Take]
    holds: list[Take]
    quarantine: QuarantineMark | None


def standing(pkg: dict[str, Any], book: LocalBook) -> Standing:
    """The package's standing: central's block plus this station's journal."""
    label = str(pkg.get("Label", ""))
    block = block_of(pkg)
    basis = basis_of(pkg)
    try:
        left = amount_of(pkg, pkg.get("Quantity"))
    except StockError:
        left = Fraction(0)
    if left is None:
        left = Fraction(1)  # no Quantity: one unit, as the core reads it
    accounted = {(t.station, t.order_id) for t in block.sold}
    own_sales = [t for t in book.sold.get(label, []) if (t.station, t.order_id) not in accounted]
    unsold = left - sum(t.draw(basis) for t in own_sales)
    others = [t for t in block.held if t.station != book.station]
    others = [t for t in others if (t.station, t.order_id) not in accounted]
    holds = book.holds(label) + others
    free = unsold - sum(t.draw(basis) for t in holds)
    quarantine = block.quarantine
    mine = book.quarantined.get(label)
    if mine is not None and mine.key not in block.seen:
        quarantine = mine  # central has not folded it yet: this station's word stands
    return Standing(
        pkg=pkg,
        block=block,
        basis=basis,
        free=free,
        unsold=unsold,
        sales=sorted([*block.sold, *own_sales], key=lambda t: t.at),
        holds=holds,
        quarantine=quarantine,
    )


def _day(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def not_sellable(pkg: dict[str, Any], rules: Rules, unit: int | None) -> str | None:
    """Why METRC would refuse to record this package's sale, or None."""
    block = block_of(pkg)
    imported = block.imported if block.imported is not None else pkg.get("Quantity")
    if pkg.get("IsFinished") is True:
        return "the package is finished in METRC (IsFinished)"
    try:
        amount = amount_of(pkg, imported)
    except StockError as exc:
        return str(exc)
    if amount is not None and amount <= 0:
        return "its METRC Quantity is 0 (a finished package)"
    for key in ("SellByDate", "UseByDate"):
        day = _day(pkg.get(key))
        if day is not None and day < rules.today:
            return f"its {key} {day} is past (today is {rules.today})"
    if unit is not None and amount is not None and basis_of(pkg) == "each" and unit > amount:
        return f"Retail ID unit {unit} is above the package's {amount} units"
    state = pkg.get("LabTestingState")
    if isinstance(state, str) and state and state not in METRC_LAB_STATES:
        return f"its LabTestingState {state!r} is not a state METRC defines"
    return None


def not_required_refusal(pkg: dict[str, Any], rules: Rules) -> str | None:
    """`NotRequired` passes only for a category of `[verify] lab_not_required_categories`."""
    if pkg.get("LabTestingState") != "NotRequired" or "NotRequired" in rules.lab_passed:
        return None
    item = pkg.get("Item")
    category = str(item.get("ProductCategoryName") or "") if isinstance(item, dict) else ""
    if category in rules.not_required_categories:
        return None
    return (
        f"Not tested: LabTestingState NotRequired, but category {category or '(none)'!r} is not"
        " one that needs no test ([verify] lab_not_required_categories): put it aside for a"
        " supervisor."
    )


def _free_for(st: Standing, want: int) -> bool:
    return st.free >= want


def _unit_taken(takes: Iterable[Take], unit: int | None) -> Take | None:
    if unit is None:
        return None
    return next((t for t in takes if t.unit == unit), None)


def _where(take: Take, station: str) -> str:
    return "" if take.station == station else f" on station {take.station}"


def _amount(st: Standing, value: Fraction) -> str:
    whole = int(value) if value >= 0 else 0
    return f"{whole} mg" if st.basis == "mg" else f"{whole} unit{'s' if whole != 1 else ''}"


def refusal(
    st: Standing, rules: Rules, want: int, unit: int | None, station: str
) -> ScanVerdict | None:
    """The `sold`, `quarantined` or `held` verdict for this package, or None when it is free."""
    label = str(st.pkg.get("Label", ""))
    sold_unit = _unit_taken(st.sales, unit)
    if sold_unit is not None:
        reason = (
            f"Sold: unit {unit} of this package was sealed into order {sold_unit.order_id}"
            f"{_where(sold_unit, station)} at {rules.local_time(sold_unit.at)}; it is not on the"
            " shelf: put it aside and tell a supervisor."
        )
        return ScanVerdict(verdict="sold", reason=reason, uid=label, unit=unit)
    if st.sales and st.unsold < want:
        last = st.sales[-1]
        tail = " it is not on the shelf: put it aside and tell a supervisor."
        if st.basis == "mg" and st.unsold > 0:
            tail = (
                f" only {_amount(st, st.unsold)} are left, less than the {want} mg portion: pick"
                " another package."
            )
        reason = (
            f"Sold: this package was sealed into order {last.order_id}{_where(last, station)} at"
            f" {rules.local_time(last.at)};{tail}"
        )
        return ScanVerdict(verdict="sold", reason=reason, uid=label, unit=unit)
    q = st.quarantine
    if q is not None:
        why = f"{q.code}: {q.reason}" if q.code else q.reason
        reason = (
            f"Quarantined: station {q.station} halted this package"
            f"{f' in order {q.order_id}' if q.order_id else ''} at {rules.local_time(q.at)}"
            f" ({why.rstrip('.')}); no station may sell it until a supervisor releases it."
        )
        return ScanVerdict(verdict="quarantined", reason=reason, uid=label, unit=unit)
    held_unit = _unit_taken(st.holds, unit)
    if held_unit is not None or not _free_for(st, want):
        holder = held_unit or (st.holds[-1] if st.holds else None)
        if holder is None:
            return None  # nothing sold or held: a finished package, for not_sellable
        reason = (
            f"Held: this package is in open order {holder.order_id} on station {holder.station}"
            f" (since {rules.local_time(holder.at)}); it is not free: put it back."
        )
        return ScanVerdict(verdict="held", reason=reason, uid=label, unit=unit)
    return None


Lookup = Callable[[str], dict[str, Any] | None]


def _candidate_ok(pkg: dict[str, Any] | None, book: LocalBook, rules: Rules) -> bool:
    if pkg is None:
        return False
    st = standing(pkg, book)
    if st.quarantine is not None or st.free < 1:
        return False
    return not_sellable(pkg, rules, None) is None


def judge(
    verdict: ScanVerdict,
    order: Order,
    lookup: Lookup,
    book: LocalBook,
    rules: Rules,
) -> ScanVerdict:
    """The core's verdict, refused where the package may not be sold, candidates filtered."""
    v = verdict
    if v.verdict in NAMED and v.uid is not None:
        pkg = lookup(v.uid)
        if pkg is not None:
            refused = _judge_package(v, order, pkg, book, rules)
            if refused is not None:
                return refused
    if v.verdict in WITH_CANDIDATES and v.candidates:
        return _filter_candidates(v, lookup, book, rules)
    return v


def wanted(v: ScanVerdict, order: Order, pkg: dict[str, Any] | None) -> int:
    """How much an accepted scan draws: 1 unit, or a weighed line's labelled mg."""
    return line_wants(_line_of(v, order), pkg)


def refused_by_central(
    v: ScanVerdict, verdict: str, order_id: str, station: str, at: str, why: str, rules: Rules
) -> ScanVerdict:
    """The verdict for a scan central would not reserve (its CLAIMED answer)."""
    when = rules.local_time(at) if at else "?"
    if verdict == "quarantined":
        reason = (
            f"Quarantined: station {station} halted this package"
            f"{f' in order {order_id}' if order_id else ''} at {when} ({why.rstrip('.')}); no"
            " station may sell it until a supervisor releases it."
        )
    elif verdict == "sold":
        tail = (
            f" {why}: pick another package."
            if why
            else " it is not on the shelf: put it aside and tell a supervisor."
        )
        reason = (
            f"Sold: this package was sealed into order {order_id} on station {station} at"
            f" {when};{tail}"
        )
    else:
        verdict = "held"
        reason = (
            f"Held: this package is in open order {order_id} on station {station} (since"
            f" {when}); it is not free: put it back."
        )
    return ScanVerdict(
        verdict=verdict,  # type: ignore[arg-type]
        reason=reason,
        uid=v.uid,
        line=v.line,
        kind=v.kind,
        unit=v.unit,
    )


def line_wants(line: OrderLine | None, pkg: dict[str, Any] | None) -> int:
    """How much a scan for `line` draws from `pkg`: 1 unit, or a weighed line's labelled mg."""
    return _line_wants(line, basis_of(pkg) if pkg is not None else "each")


def _want(v: ScanVerdict, order: Order, basis: str) -> int:
    return _line_wants(_line_of(v, order), basis)


def _line_of(v: ScanVerdict, order: Order) -> OrderLine | None:
    return order.line_of(v.line) if v.line is not None else None


def _line_wants(line: OrderLine | None, basis: str) -> int:
    if basis == "mg" and line is not None and line.weigh:
        return max(line.labelled_weight_mg or 1, 1)
    return 1


def _judge_package(
    v: ScanVerdict, order: Order, pkg: dict[str, Any], book: LocalBook, rules: Rules
) -> ScanVerdict | None:
    st = standing(pkg, book)
    refused = refusal(st, rules, _want(v, order, st.basis), v.unit, book.station)
    if refused is not None:
        return msgspec.structs.replace(refused, line=v.line, kind=v.kind)
    if v.verdict not in ACCEPTING:
        return None
    why = not_sellable(pkg, rules, v.unit)
    if why is not None:
        reason = (
            f"Not sellable: METRC would refuse this sale, {why}: put it aside for a supervisor."
        )
        return ScanVerdict(
            verdict="not_sellable", reason=reason, uid=v.uid, line=v.line, kind=v.kind, unit=v.unit
        )
    lab = not_required_refusal(pkg, rules)
    if lab is not None:
        return ScanVerdict(
            verdict="not_tested", reason=lab, uid=v.uid, line=v.line, kind=v.kind, unit=v.unit
        )
    return None


def _filter_candidates(
    v: ScanVerdict, lookup: Lookup, book: LocalBook, rules: Rules
) -> ScanVerdict:
    kept = [c for c in v.candidates if _candidate_ok(lookup(c), book, rules)]
    if kept == v.candidates and v.verdict == "near_miss":
        return v
    if not kept and v.verdict == "fifo" and v.accepted:
        # every older package is sold, held or quarantined: this one is the oldest on the shelf
        return msgspec.structs.replace(v, verdict="match", reason="", candidates=[])
    reason = v.reason
    if kept and v.verdict != "near_miss":
        first = lookup(kept[0]) or {}
        where = first.get("Location")
        spot = f" in {where}" if isinstance(where, str) and where else ""
        reason = f"{reason.rstrip()} Next on the shelf: {kept[0]}{spot}."
    elif not kept and v.verdict == "wrong_batch":
        reason = (
            f"{reason.rstrip()} No package of that batch is free on the shelf: ask a supervisor."
        )
    return msgspec.structs.replace(v, candidates=kept, reason=reason)


def store_clock(timezone: str) -> Callable[[str], str]:
    """ISO time -> HH:MM in the store's time zone (for slips)."""
    try:
        zone: dt.tzinfo = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):  # refused by config validation; never crash here
        zone = dt.UTC

    def local(at: str) -> str:
        try:
            return dt.datetime.fromisoformat(at).astimezone(zone).strftime("%H:%M")
        except ValueError:
            return at[11:16] or "?"

    return local


def fold_all(book: LocalBook, events: Sequence[tuple[int, str, dict[str, Any], str]]) -> None:
    """Fold (seq, type, body, at) journal rows in order."""
    for seq, type_, body, at in events:
        book.fold(seq, type_, body, at)
