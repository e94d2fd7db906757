"""Batch lock: the first package accepted for a SKU line fixes the line's batch.

A stage of the verifier pipeline (edge/scan/pipeline.py), like edge/scan/lab.py. On an order
whose channel is in `[verify] batch_lock` (default `["wholesale"]`), a SKU line that names no
batch takes its batch from the first package accepted for it; a later package of another batch
is `wrong_batch`, with the locked batch and the first package in the reason. A wholesale line ships from one tested batch
so that one certificate of analysis covers it. Lines naming a `uid` or a `batch` are the core's.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.scan import Inventory
from edge.scan.config import ScanSettings
from edge.scan.pipeline import Scan, Stage
from edge.workflow.ports import ScanVerdict


class BatchLock(Stage):
    """The verdict before it, or `wrong_batch` against the line's lock."""

    def __init__(self, inventory: Callable[[], Inventory], cfg: ScanSettings) -> None:
        self.inventory = inventory
        self.cfg = cfg

    def judge(self, scan: Scan, verdict: ScanVerdict) -> ScanVerdict:
        order, accepted = scan.order, scan.accepted
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
        return ScanVerdict(
            verdict="wrong_batch",
            reason=reason,
            line=verdict.line,
            uid=verdict.uid,
            kind=verdict.kind,
        )
