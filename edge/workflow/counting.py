"""Cycle count mode at the station ([count]).

A supervisor logged in (or a technician, then a supervisor's badge) scans a count ticket
`COUNT-<location or SKU>`: the count opens (phase `count`). The technician scans every package on
the shelf (or of the SKU); each is journalled (`count_scan`). Scanning the ticket again closes the
count: the Rust core's reconciliation (`Inventory.reconcile`, through the `Counter` port) says
what is missing, unexpected and in the wrong place, and counted against expected per SKU; the
station journals it (`count_closed`), prints the count slip, and quarantines every discrepant
package (`quarantine`, code `count_missing` / `count_unexpected` / `count_wrong_place`), which
central notifies ([notify] quarantines). With discrepancies the count waits for a supervisor
(phase `count_review`): their badge approves the state-system adjustments (`count_adjustment`,
quantity 0 for each missing package; central/statesys reports them), the ticket once more closes
the count with no adjustment. A count without discrepancy ends at once.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

import msgspec

from edge.workflow.ports import Badge, HaltInfo, Signal, SlipJob
from edge.workflow.run import Run
from edge.workflow.state import CountProgress, Phase, PrintSlip

ScopeKind = Literal["location", "sku"]


class CountSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Cycle counts ([count])."""

    ticket_pattern: str = r"^COUNT-(?P<scope>[0-9A-Za-z._-]{1,40})$"
    # The reason given to the state system for an approved adjustment; it must be one of
    # central's [state_system] adjustment_reasons.
    adjustment_reason: str = "Entry Error"

    def problems(self) -> list[tuple[str, str]]:
        try:
            pattern = re.compile(self.ticket_pattern)
        except re.error as exc:
            return [("ticket_pattern", f"invalid regular expression: {exc}")]
        if "scope" not in pattern.groupindex:
            return [("ticket_pattern", "needs a named group (?P<scope>...)")]
        return []


class SkuCount(msgspec.Struct, frozen=True, kw_only=True):
    sku: str
    counted: int
    expected: int


class CountResult(msgspec.Struct, frozen=True, kw_only=True):
    """The reconciliation of one count (edge._core `Reconciliation`, plus counts per SKU)."""

    matched: list[str]
    missing: list[str]
    unexpected: list[tuple[str, str]]  # (tag, counted location)
    wrong_place: list[tuple[str, str, str]]  # (tag, counted location, inventory location)
    duplicates: list[str]
    per_sku: list[SkuCount]

    @property
    def discrepancies(self) -> int:
        return len(self.missing) + len(self.unexpected) + len(self.wrong_place)


class Counter(Protocol):
    """Counting against the vault inventory (edge/station/wiring/count.py)."""

    def scope(self, text: str) -> ScopeKind | None:
        """Whether `text` names a vault location or a SKU of the inventory (None: neither)."""
        ...

    def reconcile(self, scope: str, kind: ScopeKind, counted: list[str]) -> CountResult: ...


class Host(Protocol):
    def _refuse(self, run: Run, raw: str, reason: str) -> None: ...


class Counting:
    def __init__(self, section: CountSection | None, counter: Counter | None) -> None:
        self.cfg = section or CountSection()
        self.pattern = re.compile(self.cfg.ticket_pattern)
        self.counter = counter

    def ticket(self, raw: str) -> str | None:
        """The scope a count ticket names, or None: not a count ticket (or no counter wired)."""
        if self.counter is None:
            return None
        m = self.pattern.fullmatch(raw)
        return m.group("scope") if m else None

    def on_ticket(self, wf: Host, run: Run, raw: str, scope: str) -> None:
        phase, count = run.s.phase, run.s.count
        if phase == Phase.COUNT and count is not None and count.ticket == raw:
            self._close(run, count)
        elif phase == Phase.COUNT_REVIEW and count is not None and count.ticket == raw:
            run.record("count_reviewed", count_id=count.count_id, action="dismiss", supervisor=None)
            self._end(run, "count closed: no adjustment")
        elif phase != Phase.READY:
            wf._refuse(run, raw, "finish what the station is doing before a count")
        else:
            assert self.counter is not None
            kind = self.counter.scope(scope)
            if kind is None:
                wf._refuse(run, raw, f"{scope} is no vault location and no SKU of the inventory")
                return
            session = run.s.session
            assert session is not None
            run.s.count = CountProgress(
                count_id=f"count-{run.now_ms}", ticket=raw, scope=scope, kind=kind
            )
            if session.supervisor:
                self._open(run, session.agent)
            else:
                run.signal(Signal.READY, f"count of {scope}: a supervisor must badge to open it")

    def on_badge(self, run: Run, badge: Badge) -> None:
        count = run.s.count
        assert count is not None
        if run.s.phase == Phase.COUNT:
            run.signal(Signal.READY, f"counting {count.scope}: scan packages, then the ticket")
        elif not badge.supervisor:
            run.signal(Signal.HALT, "a supervisor must badge for the count")
        elif run.s.phase == Phase.COUNT_REVIEW:
            self._approve(run, count, badge.code)
        else:
            self._open(run, badge.code)

    def on_package(self, run: Run, raw: str) -> None:
        count = run.s.count
        assert count is not None
        uid = raw.strip().upper()
        run.record("count_scan", count_id=count.count_id, raw=raw, uid=uid)
        if uid in count.counted:
            run.signal(Signal.SCAN_OK, f"{uid} already counted")
            return
        count.counted.append(uid)
        run.signal(Signal.SCAN_OK, f"{len(count.counted)} counted")

    # -- steps ---------------------------------------------------------------------------------

    def _open(self, run: Run, supervisor: str) -> None:
        count = run.s.count
        assert count is not None
        count.supervisor = supervisor
        run.s.phase = Phase.COUNT
        run.record(
            "count_opened",
            count_id=count.count_id,
            scope=count.scope,
            kind=count.kind,
            supervisor=supervisor,
        )
        run.signal(Signal.READY, f"count of {count.scope}: scan every package, then the ticket")

    def _close(self, run: Run, count: CountProgress) -> None:
        assert self.counter is not None
        result = self.counter.reconcile(count.scope, count.kind, list(count.counted))
        run.record(
            "count_closed",
            count_id=count.count_id,
            scope=count.scope,
            kind=count.kind,
            supervisor=count.supervisor,
            counted=len(count.counted),
            matched=len(result.matched),
            missing=result.missing,
            unexpected=[list(u) for u in result.unexpected],
            wrong_place=[list(w) for w in result.wrong_place],
            duplicates=result.duplicates,
            per_sku=[msgspec.to_builtins(s) for s in result.per_sku],
        )
        for uid in result.missing:
            self._quarantine(run, uid, "count_missing", f"not found counting {count.scope}")
        for uid, _loc in result.unexpected:
            self._quarantine(run, uid, "count_unexpected", f"counted at {count.scope}: unknown")
        for uid, loc, want in result.wrong_place:
            self._quarantine(run, uid, "count_wrong_place", f"counted at {loc}, belongs at {want}")
        self._slip(run, count, result)
        count.missing = list(result.missing)
        if result.discrepancies:
            run.s.phase = Phase.COUNT_REVIEW
            run.signal(
                Signal.HALT,
                f"{result.discrepancies} discrepancies: a supervisor badges to approve the "
                "adjustments, or scans the ticket to close without",
            )
        else:
            self._end(run, f"count of {count.scope}: no discrepancy")

    def _quarantine(self, run: Run, uid: str, code: str, reason: str) -> None:
        run.record("quarantine", uid=uid, code=code, reason=reason)

    def _slip(self, run: Run, count: CountProgress, result: CountResult) -> None:
        parts = [f"{s.sku}: counted {s.counted} of {s.expected}" for s in result.per_sku]
        if result.missing:
            parts.append("missing: " + ", ".join(result.missing))
        if result.unexpected:
            parts.append("unexpected: " + ", ".join(t for t, _ in result.unexpected))
        if result.wrong_place:
            parts.append(
                "wrong place: "
                + ", ".join(f"{t} (belongs at {w})" for t, _, w in result.wrong_place)
            )
        job_id = f"{count.count_id}-slip"
        code = "count_discrepancy" if result.discrepancies else "count_ok"
        run.record("slip_requested", job_id=job_id, code=code)
        info = HaltInfo(code=code, reason=f"Count of {count.scope}. " + "; ".join(parts) + ".")
        agent = run.s.session.agent if run.s.session else ""
        run.fx.append(
            PrintSlip(
                SlipJob(job_id=job_id, order_id=count.count_id, agent=agent, halt=info, at=run.at)
            )
        )

    def _approve(self, run: Run, count: CountProgress, supervisor: str) -> None:
        run.record(
            "count_reviewed", count_id=count.count_id, action="approve", supervisor=supervisor
        )
        for uid in count.missing:
            run.record(
                "count_adjustment",
                uid=uid,
                quantity=0,
                reason=self.cfg.adjustment_reason,
                supervisor=supervisor,
                note=f"cycle count {count.count_id} of {count.scope}: not found",
            )
        self._end(run, f"{len(count.missing)} adjustments approved")

    def _end(self, run: Run, detail: str) -> None:
        run.s.count = None
        run.s.phase = Phase.READY if run.s.session is not None else Phase.IDLE
        run.signal(Signal.READY, detail)
