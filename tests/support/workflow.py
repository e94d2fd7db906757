"""The pure workflow driven in memory with the port stand-ins (shared by the workflow tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drivers.scale import WeighOutRules
from edge.station.wiring.scale import DriverWeighRule
from edge.workflow.config import WorkflowSection
from edge.workflow.machine import Workflow
from edge.workflow.ports import Signal
from edge.workflow.state import (
    BadgeScanned,
    Effect,
    Indicate,
    Input,
    Phase,
    PrintFinished,
    PrintLabel,
    Record,
    TicketScanned,
    WorkflowState,
)
from tests.support.events import assert_fits
from tests.support.station import BADGES, INVENTORY, ORDERS, CapLimits, DictCentral, TableVerifier

T0 = 1_795_000_000_000  # 2026-11-18, epoch ms


class Harness:
    def __init__(
        self, fifo: str = "warn", privacy: Callable[[str], str] | None = None, **settings: Any
    ) -> None:
        self.central = DictCentral(BADGES, ORDERS)
        self.wf = Workflow(
            verifier=TableVerifier(INVENTORY),
            limits=CapLimits(INVENTORY),
            weigh_rule=DriverWeighRule(WeighOutRules(over_tolerance_mg=100)),
            central=self.central,
            settings=WorkflowSection(**settings),
            fifo=fifo,
            privacy=privacy,
        )
        self.state = WorkflowState()
        self.now = T0
        self.effects: list[Effect] = []

    def do(self, *inputs: Input, advance_ms: int = 1000) -> list[Effect]:
        out: list[Effect] = []
        for event in inputs:
            self.now += advance_ms
            step = self.wf.step(self.state, event, self.now)
            for effect in step.effects:
                if isinstance(effect, Record):  # what the station journals fits its schema
                    assert_fits(effect.type, dict(effect.body))
            self.state = step.state
            out += step.effects
        self.effects += out
        return out

    def records(self, effects: list[Effect] | None = None) -> list[Record]:
        return [e for e in (self.effects if effects is None else effects) if isinstance(e, Record)]

    def types(self, effects: list[Effect]) -> list[str]:
        return [r.type for r in self.records(effects)]

    def signals(self, effects: list[Effect]) -> list[Signal]:
        return [e.signal for e in effects if isinstance(e, Indicate)]

    def label_printed(self) -> list[Effect]:
        job = next(e.job for e in reversed(self.effects) if isinstance(e, PrintLabel))
        return self.do(PrintFinished(job.job_id, "SEAL-00000000000000AA"))

    def login_and_load(self, order_id: str = "1042") -> None:
        self.do(BadgeScanned("BADGE-ALICE"), TicketScanned(order_id, f"ORD-{order_id}"))
        assert self.state.phase == Phase.PICKING
