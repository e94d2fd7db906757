"""The Verifier: the Rust core's `OrderCheck` session per order, rebuilt from the workflow's
accepted picks whenever they differ from what the session holds (after a restart, a halt or a
refused weighing), so the session never drifts from the journalled state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from edge.scan import Inventory, OrderCheck, Recogniser, RestoreError, ScanCoreError
from edge.scan.gs1 import Gs1Reader
from edge.scan.verify import (
    open_order_check,
    order_json,
    recogniser_for,
    store_today,
    verify_scan,
)
from edge.station.config import StationConfig
from edge.workflow.ports import Order, Pick, ScanVerdict


class CoreVerifier:
    """edge.workflow.ports.Verifier over the Rust core: one live session, for the order being packed."""

    def __init__(self, cfg: StationConfig, inventory: Callable[[], Inventory]) -> None:
        self.cfg = cfg
        self.inventory = inventory
        self._order_id: str | None = None
        self._inventory: Inventory | None = None
        self._today = ""
        self._check: OrderCheck | None = None
        self._held: list[tuple[str, int]] = []  # (raw, line) the session has accepted
        self._gs1 = Gs1Reader(cfg.scan.gs_substitutes)
        self._recogniser: Recogniser | None = None  # [scan] tag_patterns, compiled on first use

    def check(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        today = store_today(self.cfg, datetime.fromisoformat(at))
        wanted = [(p.raw, p.line) for p in accepted]
        inventory = self.inventory()
        fresh = (
            self._check is None
            or self._order_id != order.order_id
            or self._inventory is not inventory
            or self._today != today
            or self._held != wanted
        )
        if fresh:
            try:
                self._open(order, wanted, inventory, today)
            except (ScanCoreError, ValueError) as exc:
                self._check = None
                reason = f"Order {order.order_id} cannot be checked: {exc}"
                return ScanVerdict(verdict="malformed", reason=reason)
        assert self._check is not None
        v = verify_scan(self._check, raw, aim_id, self._gs1)
        if v.accepted and v.line is not None:
            self._held.append((raw, v.line))
        return v

    def forget(self) -> None:
        """Drop the session: the last accepted scan was refused after the core's verdict, so the
        next check rebuilds the session from the workflow's picks."""
        self._check = None

    def _open(
        self, order: Order, wanted: list[tuple[str, int]], inventory: Inventory, today: str
    ) -> None:
        # the session holds the workflow's picks (restored here), never any the order came with
        data = order_json(order.with_picks(()))
        self._recogniser = self._recogniser or recogniser_for(self.cfg)
        rec = self._recogniser
        check = open_order_check(data, inventory, self.cfg, today=today, recogniser=rec)
        try:
            check.restore(wanted)
        except RestoreError:  # picks journalled before an inventory change: judge them again
            check = open_order_check(data, inventory, self.cfg, today=today, recogniser=rec)
            check.replay([raw for raw, _ in wanted])
        self._check, self._order_id, self._inventory = check, order.order_id, inventory
        self._today, self._held = today, list(wanted)
