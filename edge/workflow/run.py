"""The pack workflow's step helpers: a step in progress (`Run`) and the pure rules it shares."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from edge.workflow.ports import (
    Badge,
    ScanVerdict,
    Signal,
)
from edge.workflow.state import (
    Effect,
    Indicate,
    OrderProgress,
    Phase,
    Record,
    WorkflowState,
    copy_state,
)

# Verdicts that name a real package the station should pull aside; a duplicate is already bagged.
# A sold or held package is not on this shelf to quarantine; a quarantined one already is.
QUARANTINE_EXEMPT = frozenset(
    {"duplicate", "malformed", "unknown", "near_miss", "sold", "held", "quarantined"}
)
ORDER_PHASES = frozenset(
    {
        Phase.PICKING,
        Phase.WEIGHING,
        Phase.LABEL,
        Phase.SEAL,
        Phase.STAGE,
        Phase.HALTED,
        Phase.OVERRIDE,
    }
)
# wholesale: sealed for the transfer, never a retail sale (central reports it as a manifest)
STATUS_BY_CHANNEL = {
    "pickup": "ready_for_pickup",
    "delivery": "out_for_delivery",
    "wholesale": "ready_to_ship",
}


def iso_at(now_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC (integer arithmetic, no float rounding)."""
    base = datetime.fromtimestamp(now_ms // 1000, UTC).replace(microsecond=(now_ms % 1000) * 1000)
    return base.isoformat(timespec="milliseconds")


def line_complete(order: OrderProgress, line: int) -> bool:
    spec = order.order.line_of(line)
    have = sum(1 for p in order.picks if p.line == line)
    return spec is not None and have >= spec.quantity


def all_lines_complete(order: OrderProgress) -> bool:
    return all(line_complete(order, ln.line) for ln in order.order.lines)


class Run:
    """One step in progress: a private copy of the state plus the effects gathered so far."""

    def __init__(self, state: WorkflowState, now_ms: int) -> None:
        self.s = copy_state(state)  # never mutate the caller's state
        self.now_ms = now_ms
        self.at = iso_at(now_ms)
        self.fx: list[Effect] = []

    def record(self, type_: str, **body: object) -> None:
        if self.s.order is not None and "order_id" not in body:
            body["order_id"] = self.s.order.order.order_id
        self.fx.append(Record(type_, msgspec.to_builtins(body)))

    def signal(self, signal: Signal, detail: str = "") -> None:
        self.fx.append(Indicate(signal, detail))

    @property
    def order(self) -> OrderProgress:
        assert self.s.order is not None, "no order loaded"
        return self.s.order


PROMPTS: dict[Phase, str] = {
    Phase.IDLE: "scan your badge",
    Phase.READY: "scan an order ticket (or your badge for the next order)",
    Phase.PICKING: "scan the order's packages",
    Phase.WEIGHING: "place the package on the scale",
    Phase.LABEL: "printing the exit label",
    Phase.SEAL: "seal the bag and scan the label's QR code",
    Phase.STAGE: "scan the staging location label",
    Phase.COUNT: "counting: scan every package, then the count ticket to close",
    Phase.COUNT_REVIEW: "count discrepancies: a supervisor badges to approve, or scan the ticket",
    Phase.HALTED: "halted: supervisor needed",
    Phase.OVERRIDE: "supervisor override",
}


def badge_problem(badge: Badge | None, at: str) -> str:
    if badge is None:
        return "badge not allowed on this station"
    if badge.expires_at is not None:
        try:
            expired = datetime.fromisoformat(badge.expires_at) <= datetime.fromisoformat(at)
        except (ValueError, TypeError):
            return f"badge expiry {badge.expires_at!r} is not a valid time"
        if expired:
            return f"badge expired at {badge.expires_at}"
    return ""


def busy_reason(run: Run) -> str:
    if run.s.order is None:
        return "scan an order ticket first"
    order_id = run.s.order.order.order_id
    if run.s.phase in (Phase.HALTED, Phase.OVERRIDE):
        return f"order {order_id} is halted: a supervisor must clear or cancel it"
    return f"finish order {order_id} first"


def sane_verdict(order: OrderProgress, verdict: ScanVerdict) -> ScanVerdict:
    """Never trust an accepting verdict that names no line, an unknown line or a full line."""
    if verdict.verdict not in ("match", "fifo"):
        return verdict
    if verdict.line is None or order.order.line_of(verdict.line) is None:
        return ScanVerdict(
            verdict="not_in_order", reason="the package matches no order line", uid=verdict.uid
        )
    if line_complete(order, verdict.line):
        return ScanVerdict(
            verdict="not_in_order",
            reason=f"line {verdict.line} already has all its packages",
            line=verdict.line,
            uid=verdict.uid,
        )
    if verdict.uid is not None and any(p.uid == verdict.uid for p in order.picks):
        return ScanVerdict(
            verdict="duplicate",
            reason="this package is already in the bag",
            line=verdict.line,
            uid=verdict.uid,
        )
    return verdict
