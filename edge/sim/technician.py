"""The simulated technician: packs each order of the day through the station's inject channel.

Scans go in as a scanner would send them (`scan TEXT`, decoded by the station's scanner path),
weights come from the simulated scale on its pty (the station's scale driver reads them), labels
come out of the simulated printer, whose decoded QR code is what the technician scans to seal the
bag. The mistakes of the day are made on purpose and cleared as a supervisor would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.printer.sim import SimPrinter
from drivers.scale.sim import SimScale
from edge.sim.around import Around
from edge.sim.data import AGENT_BADGE, SUPERVISOR_BADGE, PlannedOrder
from edge.sim.procs import InjectClient, SimError, wait_for

GROSS_MG = 5200  # a wholesale package on the scale, container and all (the manifest's GrossWeight)
WEIGH_OK_MG = 10  # the technician's portion lands a little over the labelled weight
SHORT_BY_MG = 20  # 3.48 g on a 3.50 g label
LIFT_OFF_S = 0.3  # three polls of the scale at [scale] poll_interval_ms = 100


@dataclass
class OrderOutcome:
    order_id: str
    incident: str | None
    status: str  # sealed, cancelled, failed
    halts: list[str] = field(default_factory=list)
    labels: int = 0
    detail: str = ""


class Technician:
    def __init__(self, inject: InjectClient, printer: SimPrinter, scale: SimScale) -> None:
        self.around = Around()  # staging and release (edge/sim/around.py)
        self.inject = inject
        self.printer = printer
        self.scale = scale
        self.logins = 0

    # -- small steps -------------------------------------------------------------------------
    def scan(self, text: str) -> dict[str, Any]:
        return self.inject.send(f"scan --device sim-scanner {text}")

    def ensure_login(self) -> None:
        """Badge in when nobody is logged in (start of day, or after an inactivity logout)."""
        if self.inject.state()["phase"] == "idle":
            reply = self.scan(AGENT_BADGE)
            if reply["phase"] == "idle":
                raise SimError(f"login refused for {AGENT_BADGE}: {reply}")
            self.logins += 1

    def wait_phase(
        self, done: Callable[[dict[str, Any]], bool], what: str, timeout: float = 15
    ) -> dict[str, Any]:
        found: dict[str, Any] = wait_for(
            what, lambda: _if(self.inject.state(), done), timeout, 0.02
        )
        return found

    def lift_off(self) -> None:
        """The package comes off the pan; the scale driver must see the empty pan before it takes
        the next capture (return to zero), so give it a few of its polls."""
        self.scale.place(0)
        time.sleep(LIFT_OFF_S)

    def supervisor_clear(self, outcome: OrderOutcome) -> None:
        """Supervisor badge twice: the halt is cleared and the order returns where it stopped."""
        self.scan(SUPERVISOR_BADGE)
        reply = self.scan(SUPERVISOR_BADGE)
        if reply["phase"] in ("halted", "override"):
            raise SimError(f"order {outcome.order_id}: supervisor clear not accepted: {reply}")

    def supervisor_cancel(self, order_id: str) -> None:
        """Supervisor badge then the order ticket: the order is cancelled."""
        self.scan(SUPERVISOR_BADGE)
        self.scan(f"ORD-{order_id}")

    def _halt(self, reply: dict[str, Any], outcome: OrderOutcome, expected: str) -> None:
        state = self.inject.state()
        if reply["phase"] != "halted" and state["phase"] != "halted":
            raise SimError(f"order {outcome.order_id}: {expected} was not caught: {reply}")
        order = state.get("order") or {}
        halt = (order.get("halt") or {}).get("info") or {}
        outcome.halts.append(str(halt.get("code", expected)))

    # -- one order ---------------------------------------------------------------------------
    def pack(self, planned: PlannedOrder, *, from_queue: bool = False) -> OrderOutcome:
        """Pack one order from ticket to seal (or cancellation), making its scripted mistake.
        `from_queue`: take it by badging again (the next order central assigned to the station)
        instead of scanning its ticket."""
        order_id = planned.order["order_id"]
        outcome = OrderOutcome(order_id, planned.incident, "failed")
        self.ensure_login()
        jobs_before = len(self.printer.jobs)
        reply = self.scan(AGENT_BADGE if from_queue else f"ORD-{order_id}")
        if reply["phase"] != "picking":
            raise SimError(f"order {order_id}: not loaded: {reply}")
        loaded = ((self.inject.state().get("order") or {}).get("order") or {}).get("order_id")
        if loaded != order_id:
            raise SimError(f"order {order_id}: the station loaded order {loaded} instead")
        lines = planned.order["lines"]
        for index, line in enumerate(lines):
            self._line(planned, outcome, line, first=index == 0, last=index == len(lines) - 1)
        if planned.incident == "over_limit":
            state = self.wait_phase(lambda s: s["phase"] in ("halted", "label", "seal"), "limits")
            if state["phase"] != "halted":
                raise SimError(f"order {order_id}: over the limit but not halted: {state['phase']}")
            self._halt({"phase": "halted"}, outcome, "over_limit")
            self.supervisor_cancel(order_id)
            outcome.status = "cancelled"
        else:
            if planned.incident == "paper_out":
                self._reload_paper(outcome)
            seal = self.wait_for_seal(order_id, jobs_before)
            reply = self.scan(seal)
            if reply["phase"] == "stage":
                self.around.stage(self, order_id, planned.order["channel"], seal)
                reply = self.inject.state()
            if reply["phase"] != "ready":
                raise SimError(f"order {order_id}: seal scan not accepted: {reply}")
            outcome.status = "sealed"
        self.printer_jobs(outcome, jobs_before)
        return outcome

    def _line(
        self,
        planned: PlannedOrder,
        outcome: OrderOutcome,
        line: dict[str, Any],
        *,
        first: bool,
        last: bool,
    ) -> None:
        """Pick (and weigh) one line; the first line carries the order's scan mistake."""
        incident = planned.incident
        if first and incident in ("wrong_batch", "typo_tag", "expired", "resold") and planned.wrong:
            self._halt(self.scan(planned.wrong), outcome, incident)
            self.supervisor_clear(outcome)
        weigh = bool(line.get("weigh"))
        labelled = GROSS_MG if line.get("gross") else int(line.get("labelled_weight_mg") or 0)
        if weigh:
            short = incident == "short_weight"
            self.scale.place(labelled - SHORT_BY_MG if short else labelled + WEIGH_OK_MG)
        if last and incident == "paper_out":
            self.printer.set_state(paper="end")  # the roll runs out as the label prints
        self.scan(planned.picks[line["line"]])
        if weigh:
            self._weigh(outcome, labelled, short=incident == "short_weight")
        if first and incident == "duplicate_scan" and planned.wrong:
            self._halt(self.scan(planned.wrong), outcome, "duplicate")
            self.supervisor_clear(outcome)

    def _weigh(self, outcome: OrderOutcome, labelled: int, *, short: bool) -> None:
        """The station reads the scale; a short weight is topped up and weighed again."""
        what = f"order {outcome.order_id}: the scale reading"
        state = self.wait_phase(lambda s: s["phase"] != "weighing", what)
        if short:
            if state["phase"] != "halted":
                raise SimError(f"order {outcome.order_id}: short weight was not caught: {state}")
            self._halt({"phase": "halted"}, outcome, "short_weight")
            self.lift_off()  # the technician adds product: 3.51 g goes back on the pan
            self.scale.place(labelled + WEIGH_OK_MG)
            self.supervisor_clear(outcome)
            self.wait_phase(lambda s: s["phase"] != "weighing", what)
        self.lift_off()

    def _reload_paper(self, outcome: OrderOutcome) -> None:
        """The label cannot print: the station reports the printer, the technician reloads."""
        state = self.wait_phase(
            lambda s: bool((s.get("order") or {}).get("label_failed")) or s["phase"] == "seal",
            f"order {outcome.order_id}: the printer reporting paper end",
            timeout=25,
        )
        failed = (state.get("order") or {}).get("label_failed")
        if not failed:
            raise SimError(f"order {outcome.order_id}: the label printed with no paper: {state}")
        outcome.detail = f"printer fault reported ({failed.rstrip('.')}), roll reloaded"
        time.sleep(0.2)  # the technician takes a moment to reload
        self.printer.set_state(paper="ok")

    def printer_jobs(self, outcome: OrderOutcome, before: int) -> None:
        prefix = f"SEAL-{outcome.order_id}-"
        outcome.labels = sum(
            1
            for job in self.printer.jobs[before:]
            if any(q.startswith(prefix) for q in job.decoded.qr_payloads)
        )

    def wait_for_seal(self, order_id: str, jobs_before: int) -> str:
        """The seal code from the QR of this order's label as the printer printed it."""
        prefix = f"SEAL-{order_id}-"

        def printed() -> str | None:
            for job in self.printer.jobs[jobs_before:]:
                for payload in job.decoded.qr_payloads:
                    if payload.startswith(prefix):
                        return payload
            return None

        code: str = wait_for(f"order {order_id}: its exit label", printed, 30, 0.02)
        self.wait_phase(lambda s: s["phase"] == "seal", f"order {order_id}: the seal step")
        return code


def _if(state: dict[str, Any], done: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    return state if done(state) else None
