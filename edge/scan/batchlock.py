"""Batch lock: the first package accepted for a SKU line fixes the line's batch.

A thin layer around any Verifier (like edge/scan/lab.py). On an order whose channel is in
`[verify] batch_lock` (default `["wholesale"]`), a SKU line that names no batch takes its batch
from the first package accepted for it; a later package of another batch is `wrong_batch`, with
the locked batch and the first package in the reason. A wholesale line ships from one tested batch
so that one certificate of analysis covers it. Lines naming a `uid` or a `batch` are the core's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from edge.scan import Inventory
from edge.scan.config import ScanSettings
from edge.workflow.ports import Order, Pick, ScanVerdict, Verifier


class BatchLock:
    """edge.workflow.ports.Verifier: `inner`'s verdict, or `wrong_batch` against the line's lock."""

    def __init__(
        self, inner: Verifier, inventory: Callable[[], Inventory], cfg: ScanSettings
    ) -> None:
        self.inner = inner
        self.inventory = inventory
        self.cfg = cfg

    def forget(self) -> None:
        """A verdict accepted inside was refused after it: the core's session drops it."""
        forget = getattr(self.inner, "forget", None)
        if forget is not None:
            forget()

    def check(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        verdict = self.inner.check(order, accepted, raw, at, aim_id)
        if (
            order.channel not in self.cfg.verify.batch_lock
            or verdict.verdict not in ("match", "fifo")
            or verdict.uid is None
            or verdict.line is None
        ):
            return verdict
        spec = order.line_of(verdict.line)
        if spec is None or spec.sku is None or spec.batch is not None:
            return verdict
        first = next((p for p in accepted if p.line == verdict.line), None)
        if first is None or first.uid == verdict.uid:
            return verdict
        inventory = self.inventory()
        locked, this = inventory.lookup(first.uid), inventory.lookup(verdict.uid)
        if locked is None or this is None or locked.batch == this.batch:
            return verdict
        reason = (
            f"Wrong batch: line {verdict.line} is locked to batch {locked.batch} by its first"
            f" package {first.uid}; this package is batch {this.batch}: put it back and pick"
            f" batch {locked.batch}."
        )
        self.forget()  # the core counted it accepted: its session must drop it
        return ScanVerdict(
            verdict="wrong_batch",
            reason=reason,
            line=verdict.line,
            uid=verdict.uid,
            kind=verdict.kind,
        )
