"""The verifier pipeline: the Rust core's verdict, then a list of stages that may refuse it.

The station judges a package scan in one place: a `Source` (the core's order session,
edge/station/wiring/verifier.py) gives the first verdict, and each `Stage` in turn (the batch
lock, the lab gate, availability...) may refuse it or change its reason. Every stage speaks the
same small protocol, and the `Pipeline` calls every hook of every stage, so a stage added later
cannot forget to pass a call on:

- `before(scan)`: work for the scan before any verdict (the limit checker prepares the order's
  history), on every check;
- `judge(scan, verdict)`: the verdict after this stage, from the one before it;
- `reserve(scan, given, verdict)`: before the workflow steps (`Pipeline.prepare`), a stage that
  `reserves` may ask elsewhere (central's CLAIM) and change the final verdict; `given` is the
  verdict this stage was handed;
- `committed(events)`: the journal rows the daemon just committed, in seq order;
- `opened(order)`: an order was just loaded for picking (committed): a stage may start work the
  order's scans will want (availability reserves the packages the order names at central).

When the core counted a scan accepted and the final verdict refuses it, the pipeline tells the
source to `forget` it (its session is rebuilt from the workflow's picks at the next scan). The
verdict `prepare` found is the one the workflow's `check` then gets for the same scan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from edge.workflow.ports import Order, Pick, ScanVerdict, Verifier
from edge.workflow.state import PackageScanned, Phase, WorkflowState

LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scan:
    """One package scan while packing `order` with `accepted` picks, at `at` (ISO 8601)."""

    order: Order
    accepted: tuple[Pick, ...]
    raw: str
    at: str
    aim_id: str | None = None

    def key(self) -> tuple[object, ...]:
        return (self.order.order_id, self.accepted, self.raw, self.aim_id)


class CommittedEvent(Protocol):
    """A journal row as the daemon committed it (edge.journal.JournalEvent)."""

    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def at(self) -> str: ...
    @property
    def body(self) -> bytes: ...


class Source(Verifier, Protocol):
    """The first verdict: the core's session, which can drop the scan it last accepted."""

    def forget(self) -> None: ...


class Stage:
    """One stage after the core's verdict; every hook does nothing unless a stage overrides it."""

    reserves = False  # whether `reserve` asks anything (Pipeline.prepare then runs)

    def before(self, scan: Scan) -> None:
        return None

    def judge(self, scan: Scan, verdict: ScanVerdict) -> ScanVerdict:
        return verdict

    async def reserve(self, scan: Scan, given: ScanVerdict, verdict: ScanVerdict) -> ScanVerdict:
        return verdict

    def committed(self, events: Sequence[CommittedEvent]) -> None:
        return None

    def opened(self, order: Order) -> None:
        return None


class Pipeline:
    """edge.workflow.ports.Verifier: `source`'s verdict through `stages`, in order."""

    def __init__(self, source: Source, stages: Sequence[Stage]) -> None:
        self.source = source
        self.stages = tuple(stages)
        self._reserving = any(s.reserves for s in self.stages)
        self._prepared: tuple[tuple[object, ...], ScanVerdict] | None = None

    def check(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        scan = Scan(order, tuple(accepted), raw, at, aim_id)
        for stage in self.stages:
            stage.before(scan)
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared[0] == scan.key():
            return prepared[1]  # judged (and reserved) just before this step
        trail = self._judge(scan)
        return self._settle(trail[0], trail[-1])

    def forget(self) -> None:
        self.source.forget()

    def committed(self, events: Sequence[CommittedEvent]) -> None:
        """The rows the daemon just committed, for every stage that folds them."""
        for stage in self.stages:
            stage.committed(events)

    def opened(self, order: Order) -> None:
        """An order was just loaded for picking, for every stage that works ahead of scans."""
        for stage in self.stages:
            stage.opened(order)

    async def prepare(self, state: WorkflowState, event: PackageScanned) -> None:
        """Judge a package scan before the workflow steps and let the reserving stages ask
        (the same verdict `check` then returns). A failure leaves the step to judge the scan
        itself."""
        self._prepared = None
        progress = state.order
        if not self._reserving or progress is None or state.phase != Phase.PICKING:
            return
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        scan = Scan(progress.order, tuple(progress.picks), event.raw, at, event.aim_id)
        try:
            trail = self._judge(scan)
            verdict = trail[-1]
            for stage, given in zip(self.stages, trail, strict=False):
                verdict = await stage.reserve(scan, given, verdict)
        except Exception:
            LOG.exception("preparing the scan failed", extra={"raw": event.raw})
            return
        self._prepared = (scan.key(), self._settle(trail[0], verdict))

    def _judge(self, scan: Scan) -> list[ScanVerdict]:
        """The source's verdict, then each stage's: the verdict each stage was handed, and the
        last one."""
        verdict = self.source.check(scan.order, scan.accepted, scan.raw, scan.at, scan.aim_id)
        trail = [verdict]
        for stage in self.stages:
            verdict = stage.judge(scan, verdict)
            trail.append(verdict)
        return trail

    def _settle(self, first: ScanVerdict, final: ScanVerdict) -> ScanVerdict:
        if first.accepted and not final.accepted:
            self.source.forget()  # the core counted it: its session must drop it
        return final
